/**
 * The job request: what the user asks the generator for, bound to the job on-chain by its hash.
 *
 * `openJob(generator, modelId, cg, cv, requestHash, requestUri)` carries `requestHash` and
 * `requestUri` in the `JobOpened` event. The generator fetches the request from `requestUri` and
 * generates exactly it; a verifier checks that the committed receipt answers exactly this request
 * (`checkReceiptAgainstJob`) before it replays anything, so a generator cannot answer a cheaper
 * prompt, pick its own decoding configuration, or choose which positions the samplers check.
 *
 * - **Encoding**: canonical JSON (keys in the fixed order of `canonicalRequest`, no spaces, the
 *   decoding seed as a decimal string), UTF-8. `requestHash = keccak256(encoding)`.
 * - **URI**: `data:application/json;base64,…` (the request travels on-chain in the event),
 *   `http(s)://…`, `file://…` or a local path. Whatever the URI, the content must hash to
 *   `requestHash`.
 * - **Chat**: a request may carry `messages`; its `promptTokens` must then be those messages rendered
 *   with the model's chat template. The binding check here compares tokens only; the generator and the
 *   verifier also re-render the messages (offchain/model/chat.ts `chatPromptMismatch`), as only they
 *   hold the model's tokenizer.
 * - **Sampler seed**: not chosen by the user nor by the generator but derived from the job:
 *   `keccak256(abi.encode("poc.sampler-seed.v1", chainId, pool, jobId))`.
 */
import { AbiCoder, decodeBase64, encodeBase64, keccak256, toUtf8Bytes, toUtf8String } from "ethers";
import * as z from "zod"; // the namespace import lets bundlers drop what is unused (zod 4)
import { PocError } from "../errors.js";
import { type DecodingConfig, decodingConfigSchema } from "../sampling/decode.js";
import { HEX32_RE, type Hex } from "../sampling/bytes.js";
import { formatIssues } from "../sampling/errors.js";
import type { Receipt } from "../receipt/schema.js";
import { DEFAULT_MIN_POSITIONS, DEFAULT_PROJECTION_DIM } from "../sampling/kv-sampler.js";
import { MAX_PROJECTION_DIM } from "../sampling/projection.js";
import { chatMessagesSchema } from "../model/chat-messages.js";

export const REQUEST_VERSION = 1;
/** Requests are small: a prompt and two configurations. */
export const MAX_REQUEST_BYTES = 4 * 1024 * 1024;

export class RequestError extends PocError {
  override name = "RequestError";
}

const u32 = z.number().int().min(0).max(0xffff_ffff);

export const jobRequestSchema = z.strictObject({
  version: z.literal(REQUEST_VERSION),
  modelId: z
    .string()
    .regex(HEX32_RE, "must be 0x followed by 64 hex digits")
    .transform((s) => s.toLowerCase() as Hex),
  promptTokens: z.array(u32).min(1, "the prompt must not be empty"),
  /**
   * A chat request's messages: then promptTokens must be exactly these rendered with the model's
   * chat template (offchain/model/chat.ts; docs/PROTOCOL.md "Chat requests"), which the generator and
   * the verifiers check. In the encoding only when present.
   */
  messages: chatMessagesSchema.optional(),
  decoding: decodingConfigSchema,
  sampler: z.strictObject({
    ratePpm: z.number().int().min(1).max(1_000_000),
    layersPerToken: z.number().int().min(1).max(0xffff),
    scope: z.enum(["all", "generated"]).default("all"),
    /** Seeded projection dimension of the samples (docs/RECEIPT.md); in the encoding only when not the default. */
    projectionDim: z.number().int().min(0).max(MAX_PROJECTION_DIM).default(DEFAULT_PROJECTION_DIM),
    /** Evidence floor (sampled positions per receipt at least); in the encoding only when not the default. */
    minPositions: z.number().int().min(0).max(0xffff).default(DEFAULT_MIN_POSITIONS),
  }),
  /** How the receipt stores K/V; absent: the generator's choice (the model's dtype). */
  kvDtype: z.enum(["float32", "float16"]).optional(),
});

export type JobRequest = z.output<typeof jobRequestSchema>;
export type JobRequestInput = z.input<typeof jobRequestSchema>;

/** Validate a request from outside (CLI, event URI, file); throws RequestError naming the field. */
export function parseJobRequest(input: unknown): JobRequest {
  const r = jobRequestSchema.safeParse(input);
  if (!r.success) throw new RequestError("invalid job request", { details: formatIssues(r.error.issues) });
  return r.data;
}

function canonicalRequest(r: JobRequest): unknown {
  const d: DecodingConfig = r.decoding;
  return {
    version: r.version,
    modelId: r.modelId,
    promptTokens: r.promptTokens,
    ...(r.messages === undefined ? {} : { messages: r.messages.map((m) => ({ role: m.role, content: m.content, ...(m.name === undefined ? {} : { name: m.name }) })) }),
    decoding: {
      seed: d.seed.toString(10),
      temperature: d.temperature,
      topK: d.topK,
      topP: d.topP,
      maxTokens: d.maxTokens,
      stopAtEos: d.stopAtEos,
    },
    sampler: {
      ratePpm: r.sampler.ratePpm,
      layersPerToken: r.sampler.layersPerToken,
      scope: r.sampler.scope,
      ...(r.sampler.projectionDim === DEFAULT_PROJECTION_DIM ? {} : { projectionDim: r.sampler.projectionDim }),
      ...(r.sampler.minPositions === DEFAULT_MIN_POSITIONS ? {} : { minPositions: r.sampler.minPositions }),
    },
    ...(r.kvDtype === undefined ? {} : { kvDtype: r.kvDtype }),
  };
}

/** The canonical encoding (UTF-8 JSON); the same request always gives the same bytes. */
export function encodeJobRequest(input: JobRequest | JobRequestInput): Uint8Array {
  return toUtf8Bytes(JSON.stringify(canonicalRequest(parseJobRequest(input))));
}

/** Decode and validate request bytes (inverse of `encodeJobRequest`). */
export function decodeJobRequest(bytes: Uint8Array): JobRequest {
  let json: unknown;
  try {
    json = JSON.parse(toUtf8String(bytes));
  } catch (cause) {
    throw new RequestError("job request is not UTF-8 JSON", { cause });
  }
  return parseJobRequest(json);
}

export function requestHash(input: JobRequest | JobRequestInput): Hex {
  return keccak256(encodeJobRequest(input)) as Hex;
}

export function requestToDataUri(input: JobRequest | JobRequestInput): string {
  return `data:application/json;base64,${encodeBase64(encodeJobRequest(input))}`;
}

/**
 * Fetch a request from a data:, http(s):, file: URI or a local path and check it against its hash.
 * Browser-safe: files are read only under Node (through `process.getBuiltinModule`, no static import).
 */
export async function fetchJobRequest(
  uri: string,
  expectedHash: string,
  options: { timeoutMs?: number } = {},
): Promise<JobRequest> {
  const bytes = await readUri(uri, options.timeoutMs ?? 30_000);
  const got = keccak256(bytes);
  if (got.toLowerCase() !== expectedHash.toLowerCase()) {
    throw new RequestError("job request does not match its on-chain hash", {
      details: `uri ${abbreviate(uri)}: expected ${expectedHash}, content hashes to ${got}`,
    });
  }
  return decodeJobRequest(bytes);
}

async function readUri(uri: string, timeoutMs: number): Promise<Uint8Array> {
  try {
    if (uri.startsWith("data:")) {
      const comma = uri.indexOf(",");
      if (comma < 0) throw new RequestError("malformed data: URI");
      const meta = uri.slice(5, comma);
      const body = uri.slice(comma + 1);
      return checkSize(meta.endsWith(";base64") ? decodeBase64(body) : toUtf8Bytes(decodeURIComponent(body)));
    }
    if (uri.startsWith("http://") || uri.startsWith("https://")) {
      const res = await fetch(uri, { signal: AbortSignal.timeout(timeoutMs) });
      if (!res.ok) throw new RequestError(`HTTP ${res.status} fetching the job request`);
      return checkSize(new Uint8Array(await res.arrayBuffer()));
    }
    const node = nodeBuiltins();
    if (!node) throw new RequestError("this runtime reads only data: and http(s): request URIs");
    const path = uri.startsWith("file://") ? node.url.fileURLToPath(uri) : uri;
    return checkSize(new Uint8Array(await node.fs.readFile(path)));
  } catch (cause) {
    if (cause instanceof RequestError) throw cause;
    throw new RequestError("could not fetch the job request", { details: abbreviate(uri), cause });
  }
}

/** Node's fs and url modules without a static import (so this module bundles for a browser); undefined elsewhere. */
function nodeBuiltins(): { fs: { readFile(path: string): Promise<Uint8Array> }; url: { fileURLToPath(url: string): string } } | undefined {
  const p = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  if (typeof p?.getBuiltinModule !== "function") return undefined;
  type Builtins = NonNullable<ReturnType<typeof nodeBuiltins>>;
  return { fs: p.getBuiltinModule("node:fs/promises") as Builtins["fs"], url: p.getBuiltinModule("node:url") as Builtins["url"] };
}

function checkSize(b: Uint8Array): Uint8Array {
  if (b.length > MAX_REQUEST_BYTES) throw new RequestError(`job request larger than ${MAX_REQUEST_BYTES} bytes`);
  return b;
}

function abbreviate(uri: string): string {
  return uri.length > 80 ? `${uri.slice(0, 77)}...` : uri;
}

/** The sampler seed of a job: fixed by the chain, chosen by neither user nor generator. */
export function samplerSeedFor(job: { chainId: bigint | number; pool: string; jobId: bigint | number }): Hex {
  return keccak256(
    AbiCoder.defaultAbiCoder().encode(
      ["string", "uint256", "address", "uint256"],
      ["poc.sampler-seed.v1", BigInt(job.chainId), job.pool, BigInt(job.jobId)],
    ),
  ) as Hex;
}

export type BindingCheck = { ok: true } | { ok: false; reason: string };

/**
 * Does the receipt answer exactly this job? Model id, prompt, decoding configuration, sampler
 * configuration and seed, and (when the request fixes it) the K/V storage type must all match.
 */
/**
 * The request a receipt claims to answer, rebuilt from the receipt's own fields, when it hashes to
 * `requestHash` (tried without and with the receipt's kvDtype, which a request may leave to the
 * generator); undefined otherwise. Nothing needs fetching for an honest receipt, so a user who takes
 * its request offline cannot make an honest generator fail.
 */
export function requestFromReceipt(receipt: Receipt, requestHashHex: string): JobRequest | undefined {
  for (const kvDtype of [undefined, receipt.kvDtype] as const) {
    try {
      const candidate = parseJobRequest({
        version: 1,
        modelId: receipt.modelId,
        promptTokens: receipt.promptTokens,
        decoding: receipt.decoding,
        sampler: {
          ratePpm: receipt.sampler.ratePpm,
          layersPerToken: receipt.sampler.layersPerToken,
          scope: receipt.sampler.scope,
          projectionDim: receipt.sampler.projectionDim,
          minPositions: receipt.sampler.minPositions,
        },
        ...(kvDtype ? { kvDtype } : {}),
      });
      if (requestHash(candidate).toLowerCase() === requestHashHex.toLowerCase()) return candidate;
    } catch {
      // not representable as a request: cannot be the job's
    }
  }
  return undefined;
}

export function checkReceiptAgainstJob(
  receipt: Receipt,
  job: { modelId: string; request: JobRequest; samplerSeed: string },
): BindingCheck {
  const { request } = job;
  const fail = (reason: string): BindingCheck => ({ ok: false, reason });
  if (receipt.modelId.toLowerCase() !== job.modelId.toLowerCase())
    return fail(`receipt model ${receipt.modelId} is not the job's model ${job.modelId}`);
  if (request.modelId !== job.modelId.toLowerCase())
    return fail(`request model ${request.modelId} is not the job's model ${job.modelId}`);
  const p = receipt.promptTokens;
  if (p.length !== request.promptTokens.length || p.some((t, i) => t !== request.promptTokens[i]))
    return fail("receipt prompt differs from the requested prompt");
  const a = receipt.decoding;
  const b = request.decoding;
  if (a.seed !== b.seed || a.temperature !== b.temperature || a.topK !== b.topK || a.topP !== b.topP || a.maxTokens !== b.maxTokens || a.stopAtEos !== b.stopAtEos)
    return fail("receipt decoding configuration differs from the request");
  const n = receipt.outputTokens.length;
  if (n > b.maxTokens) return fail(`receipt has ${n} output tokens, more than maxTokens ${b.maxTokens}`);
  // Without stopAtEos a shorter answer is an unfinished job; with it, the verifier's token checks
  // (the EOS draw) and the model's EOS ids decide whether stopping early was right.
  if (!b.stopAtEos && n !== b.maxTokens) return fail(`receipt has ${n} output tokens, the request asks for ${b.maxTokens}`);
  const s = receipt.sampler;
  if (s.seed.toLowerCase() !== job.samplerSeed.toLowerCase()) return fail(`receipt sampler seed ${s.seed} is not the job's ${job.samplerSeed}`);
  if (
    s.ratePpm !== request.sampler.ratePpm ||
    s.layersPerToken !== request.sampler.layersPerToken ||
    s.scope !== request.sampler.scope ||
    s.projectionDim !== request.sampler.projectionDim ||
    s.minPositions !== request.sampler.minPositions
  )
    return fail("receipt sampler configuration differs from the request");
  if (request.kvDtype !== undefined && receipt.kvDtype !== request.kvDtype)
    return fail(`receipt stores K/V as ${receipt.kvDtype}, the request asks for ${request.kvDtype}`);
  return { ok: true };
}
