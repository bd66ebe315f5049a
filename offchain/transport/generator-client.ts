/**
 * The client side of the generator's server (docs/NETWORK.md "The generator's server"), for the
 * user's CLI and gateway: `deliverRequest` POSTs a private job's request encoding, `streamJob` reads
 * the job's token stream (server-sent events) as typed events.
 */
import { z } from "zod";
import { PocError } from "../errors.js";
import type { JobStreamEvent } from "./job-events.js";

export type { JobStreamEvent } from "./job-events.js";

/** The server answered with an error (OpenAI's shape), or could not be reached. */
export class GeneratorHttpError extends PocError {
  override name = "GeneratorHttpError";
  /** HTTP status; undefined: no answer (unreachable, timeout). */
  readonly status: number | undefined;
  /** The error's `code` (e.g. "request_hash_mismatch"). */
  readonly code: string | undefined;
  constructor(message: string, o: { status?: number; code?: string; details?: string; cause?: unknown } = {}) {
    super(message, { ...(o.details ? { details: o.details } : {}), ...(o.cause !== undefined ? { cause: o.cause } : {}) });
    this.status = o.status;
    this.code = o.code;
  }
}

const errorBody = z.object({ error: z.object({ message: z.string(), type: z.string().optional(), code: z.string().nullish() }) });
const acceptedBody = z.object({ accepted: z.literal(true), jobId: z.string(), held: z.boolean().optional() });

export interface Delivered {
  jobId: string;
  /** True when the generator had not seen the job yet and holds the request by its hash. */
  held: boolean;
}

function join(baseUrl: string, path: string): string {
  return `${baseUrl.replace(/\/+$/, "")}${path}`;
}

async function failure(res: Response, what: string): Promise<GeneratorHttpError> {
  const text = await res.text().catch(() => "");
  let parsed: z.infer<typeof errorBody> | undefined;
  try {
    const r = errorBody.safeParse(JSON.parse(text));
    if (r.success) parsed = r.data;
  } catch {
    // not JSON
  }
  const msg = parsed?.error.message ?? (text.trim().slice(0, 200) || res.statusText);
  return new GeneratorHttpError(`${what}: HTTP ${res.status}: ${msg}`, { status: res.status, ...(parsed?.error.code ? { code: parsed.error.code } : {}) });
}

function unreachable(e: unknown, url: string): GeneratorHttpError {
  const name = (e as Error)?.name;
  if (name === "TimeoutError") return new GeneratorHttpError(`${url} timed out`, { cause: e });
  if (name === "AbortError") return new GeneratorHttpError(`${url}: aborted`, { cause: e });
  const c = (e as { cause?: { code?: string; message?: string } })?.cause;
  return new GeneratorHttpError(`cannot reach ${url}`, { details: c?.code ?? c?.message ?? String((e as Error)?.message ?? e), cause: e });
}

/** POST the canonical request encoding of job `jobId` to the generator at `baseUrl`; throws GeneratorHttpError. */
export async function deliverRequest(
  baseUrl: string,
  jobId: bigint | number | string,
  bytes: Uint8Array,
  o: { signal?: AbortSignal; timeoutMs?: number } = {}
): Promise<Delivered> {
  const url = join(baseUrl, `/v1/jobs/${jobId.toString()}/request`);
  const signals = [AbortSignal.timeout(o.timeoutMs ?? 30_000), ...(o.signal ? [o.signal] : [])];
  let res: Response;
  try {
    res = await fetch(url, { method: "POST", headers: { "content-type": "application/octet-stream" }, body: bytes, signal: AbortSignal.any(signals) });
  } catch (e) {
    throw unreachable(e, url);
  }
  if (res.status !== 202) throw await failure(res, `delivering the request of job ${jobId}`);
  const r = acceptedBody.safeParse(await res.json().catch(() => undefined));
  if (!r.success) throw new GeneratorHttpError(`delivering the request of job ${jobId}: the generator's 202 answer is malformed`, { status: 202 });
  return { jobId: r.data.jobId, held: r.data.held ?? false };
}

const streamEvent = z.discriminatedUnion("event", [
  z.object({ event: z.literal("token"), data: z.object({ index: z.number().int().min(0), token: z.number().int().min(0) }) }),
  z.object({ event: z.literal("done"), data: z.object({ tokens: z.array(z.number().int().min(0)), finishReason: z.enum(["stop", "length"]) }) }),
  z.object({ event: z.literal("committed"), data: z.object({ receiptRoot: z.string(), receiptUri: z.string(), tx: z.string() }) }),
  z.object({ event: z.literal("error"), data: z.object({ message: z.string() }) }),
]);

/** Parse one server-sent event block (lines without the blank separator); undefined for comments and unknown events. */
export function parseSseBlock(block: string): JobStreamEvent | undefined {
  let event = "message";
  const data: string[] = [];
  for (const line of block.split(/\r?\n/)) {
    if (line === "" || line.startsWith(":")) continue;
    const i = line.indexOf(":");
    const field = i < 0 ? line : line.slice(0, i);
    const value = i < 0 ? "" : line.slice(i + 1).replace(/^ /, "");
    if (field === "event") event = value;
    else if (field === "data") data.push(value);
  }
  if (data.length === 0) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(data.join("\n"));
  } catch {
    throw new GeneratorHttpError(`the stream sent a ${event} event whose data is not JSON`);
  }
  if (!["token", "done", "committed", "error"].includes(event)) return undefined;
  const r = streamEvent.safeParse({ event, data: json });
  if (!r.success) throw new GeneratorHttpError(`the stream sent a malformed ${event} event`, { details: r.error.issues.map((x) => `${x.path.join(".")}: ${x.message}`).join("; ") });
  return r.data;
}

/**
 * The job's event stream (`GET /v1/jobs/{jobId}/stream` with `authHeader` from `signAccess`): every
 * event from the start, then live ones; ends after `committed` or `error` (or when the server closes).
 * Throws GeneratorHttpError (status 401/403/…) when the server refuses.
 */
export async function* streamJob(
  baseUrl: string,
  jobId: bigint | number | string,
  authHeader: string,
  o: { signal?: AbortSignal } = {}
): AsyncGenerator<JobStreamEvent> {
  const url = join(baseUrl, `/v1/jobs/${jobId.toString()}/stream`);
  let res: Response;
  try {
    res = await fetch(url, { headers: { authorization: authHeader, accept: "text/event-stream" }, ...(o.signal ? { signal: o.signal } : {}) });
  } catch (e) {
    throw unreachable(e, url);
  }
  if (res.status !== 200) throw await failure(res, `streaming job ${jobId}`);
  if (!res.body) return;
  const decoder = new TextDecoder();
  let buf = "";
  const reader = res.body.getReader();
  try {
    for (;;) {
      let chunk: Awaited<ReturnType<typeof reader.read>>;
      try {
        chunk = await reader.read();
      } catch (e) {
        throw unreachable(e, url);
      }
      if (chunk.done) break;
      buf += decoder.decode(chunk.value, { stream: true });
      for (let sep = /\r?\n\r?\n/.exec(buf); sep; sep = /\r?\n\r?\n/.exec(buf)) {
        const block = buf.slice(0, sep.index);
        buf = buf.slice(sep.index + sep[0].length);
        const e = parseSseBlock(block);
        if (!e) continue;
        yield e;
        if (e.event === "committed" || e.event === "error") return;
      }
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
}

const stageAnswerBody = z.object({
  answer: z.string().regex(/^0x[0-9a-fA-F]{64}$/, "must be 32 bytes of 0x-hex"),
  signature: z.string().regex(/^0x[0-9a-fA-F]{130}$/, "must be a 65-byte 0x-hex signature"),
});

/**
 * Ask the generator at `baseUrl` to answer a one-transaction stage (`POST /v1/jobs/{jobId}/answer`,
 * docs/PROTOCOL.md "One-transaction stages"): our commitment and our signature of its statement; the
 * generator's fingerprint and its signature. Throws GeneratorHttpError (status, code) when refused or
 * unreachable; the caller checks the signature and the distance itself.
 */
export async function requestStageAnswer(
  baseUrl: string,
  jobId: bigint | number | string,
  req: { stage: number; commitment: string; signature: string },
  o: { signal?: AbortSignal; timeoutMs?: number } = {}
): Promise<{ answer: string; signature: string }> {
  const url = join(baseUrl, `/v1/jobs/${jobId.toString()}/answer`);
  const signals = [AbortSignal.timeout(o.timeoutMs ?? 60_000), ...(o.signal ? [o.signal] : [])];
  let res: Response;
  try {
    res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(req), signal: AbortSignal.any(signals) });
  } catch (e) {
    throw unreachable(e, url);
  }
  if (res.status !== 200) throw await failure(res, `asking for the generator's answer to stage ${req.stage} of job ${jobId}`);
  const r = stageAnswerBody.safeParse(await res.json().catch(() => undefined));
  if (!r.success) throw new GeneratorHttpError(`the generator's answer to stage ${req.stage} of job ${jobId} is malformed`, { status: 200, details: r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ") });
  return r.data;
}

/**
 * The generator server's base URL from the receipt URI it committed (`<base>/receipts/<root>?job=<id>`,
 * docs/NETWORK.md); undefined when the URI is not of that form (a receipt served elsewhere).
 */
export function generatorBaseUrl(receiptUri: string): string | undefined {
  let u: URL;
  try {
    u = new URL(receiptUri);
  } catch {
    return undefined;
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") return undefined;
  const i = u.pathname.lastIndexOf("/receipts/");
  if (i < 0) return undefined;
  return `${u.origin}${u.pathname.slice(0, i)}`;
}
