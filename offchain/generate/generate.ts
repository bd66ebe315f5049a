/**
 * The generator's half of the protocol (paper §3.2, BRIEF "Verification"): decode with the KV cache,
 * capture the sampled K/V rows as they are produced, and commit to a receipt.
 *
 * ## The loop
 * 1. **Prefill** the prompt in chunks of `prefillChunkSize` tokens (`forward(chunk, past)`), capturing
 *    the sampled prompt positions from each chunk's `present` as soon as it is computed.
 * 2. **Decode** output token i (i = 0, 1, …) with
 *    `drawToken(logits of position promptLen + i − 1, decoding, promptLen + i)`: the position argument
 *    is the sequence position **of the token being produced** (docs/RECEIPT.md "Counter RNG"), so the
 *    verifier's token check of output token i uses the replayed logits at `promptLen + i − 1` and
 *    `tokenPosition = promptLen + i`. The drawn token is fed back (`forward([token], past)`) to get the
 *    logits for the next one, and its own K/V (position promptLen + i) is captured from that `present`.
 * 3. Stop after `maxTokens` tokens, or right after drawing an end-of-sequence id (the model's
 *    `eosIds`) when `decoding.stopAtEos`; the EOS token is then the last output token. The last output
 *    token is never fed back, so it has no K/V and is never a sample candidate (`samplePlan`).
 *
 * ## Capture
 * At every position p whose K/V is produced, the prefix hash h_p comes from one incremental
 * `PrefixHasher` (one keccak per token), `tokenSampled(sampler, p, h_p)` decides, and for each layer of
 * `layersFor(sampler, p, h_p)` the rows `kvRow(present, layer, "key"|"value", p)` are copied (only the
 * sampled rows are ever copied; the cache itself is only passed back to onnxruntime). At the end the
 * captured (position, layer) list is compared with `samplePlan` over the final tokens (`checkSamplePlan`) (a cheap
 * self-check; a difference is a bug and throws GenerateInvariantError).
 *
 * With `kvDtype: "float16"` the captured numbers are rounded to binary16 (nearest even) in the returned
 * receipt, so `receipt` equals `decodeReceipt(bytes)`.
 */
import { type LoadedModel, type KvCache, kvRow, STEPWISE_PROMPT_CHUNK } from "../model/index.js";
import {
  type DecodingConfig,
  type DecodingConfigInput,
  type Hex,
  type SamplerConfig,
  type SamplerConfigInput,
  PrefixHasher,
  SamplingError,
  concatBytes,
  drawToken,
  firstCandidatePosition,
  keccakHex,
  layersFor,
  parseDecodingConfig,
  parseSamplerConfig,
  tagBytes,
  tokenSampled,
  uintBE,
  DEFAULT_MIN_POSITIONS,
  DEFAULT_PROJECTION_DIM,
  floorLayers,
  floorPositions,
  sampledLayers,
} from "../sampling/index.js";
import {
  type KvDtype,
  type KvSample,
  type Receipt,
  RECEIPT_VERSION,
  checkSamplePlan,
  encodeReceipt,
  kvSampleVectors,
  receiptRoot,
  roundToF16,
  topSampleVectors,
} from "../receipt/index.js";
import {
  ContextLengthError,
  GenerateAbortedError,
  GenerateConfigError,
  GenerateInvariantError,
  PromptError,
} from "./errors.js";

/** Default prefill chunk (tokens per forward while reading the prompt). */
export const DEFAULT_PREFILL_CHUNK = 256;

export interface GenerateRequest {
  /** Prompt token ids (non-empty, each in [0, vocabSize)). */
  promptTokens: readonly number[];
  /** Decoding configuration (validated with parseDecodingConfig; seed as bigint, safe integer or decimal string). */
  decoding: DecodingConfig | DecodingConfigInput;
  /**
   * Sampler configuration; numLayers is filled from the model (and must equal it when given);
   * projectionDim and minPositions default to DEFAULT_PROJECTION_DIM (32) and DEFAULT_MIN_POSITIONS (4).
   */
  sampler: Omit<SamplerConfigInput, "numLayers"> & { numLayers?: number };
  /** How K/V numbers are stored in the receipt (default: the model's KV dtype). */
  kvDtype?: KvDtype;
  /** Called after each prefill chunk and each output token: done/total in tokens, total = promptLen + maxTokens. */
  onProgress?: (done: number, total: number) => void;
  /** Called with each output token as soon as it is drawn (index 0, 1, … in output order). */
  onToken?: (index: number, token: number) => void;
  /** Tokens per forward while reading the prompt (default 256). */
  prefillChunkSize?: number;
  /** Cancels generation between forward passes (GenerateAbortedError). */
  signal?: AbortSignal;
}

export interface GenerateTimings {
  /** Reading the prompt (all prefill chunks, with their KV capture). */
  prefillMs: number;
  /** From the end of the prefill to the last output token drawn (draws, feed-backs, KV capture). */
  decodeMs: number;
  /** Everything, including validation, the self-check, encoding and the root. */
  totalMs: number;
  /** outputTokens / decode seconds (0 when decodeMs is 0). */
  tokensPerSecond: number;
}

export interface GenerateResult {
  receipt: Receipt;
  /** Canonical encoding (encodeReceipt). */
  bytes: Uint8Array;
  /** receiptRoot(bytes), the commitment. */
  root: Hex;
  /** The output tokens as text (model tokenizer, special tokens skipped). */
  text: string;
  /** "stop": it ended on an end-of-sequence id (`stopAtEos`); "length": it produced `maxTokens`. */
  finishReason: "stop" | "length";
  timings: GenerateTimings;
}

/** The model's KV dtype in receipt terms. */
export function modelKvDtype(model: LoadedModel): KvDtype {
  return model.config.dtype === "fp16" ? "float16" : "float32";
}

/**
 * A deterministic sampler seed derived from the prompt and the decoding configuration, for callers
 * that are given none (the CLI's default):
 *
 *     keccak256("poc.default-sampler-seed.v1" ‖ uint32(promptLen) ‖ uint32(token)… ‖ uint64(seed) ‖
 *               float64(temperature) ‖ float64(topP) ‖ uint32(topK) ‖ uint32(maxTokens) ‖ uint8(stopAtEos))
 *
 * (big-endian, packed like abi.encodePacked). It makes runs reproducible; it is NOT a secret — the
 * generator knows it before decoding. In the protocol the seed should come from the job (for example
 * fixed by the user when opening it) so the generator cannot steer which positions are checked.
 */
export function defaultSamplerSeed(promptTokens: readonly number[], decoding: DecodingConfig | DecodingConfigInput): Hex {
  const d = parseDecodingConfigOrThrow(decoding);
  const f64 = (x: number) => {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, x === 0 ? 0 : x, false);
    return b;
  };
  return keccakHex(
    concatBytes(
      tagBytes("poc.default-sampler-seed.v1"),
      uintBE(promptTokens.length, 4),
      ...promptTokens.map((t) => uintBE(t, 4)),
      uintBE(d.seed, 8),
      f64(d.temperature),
      f64(d.topP),
      uintBE(d.topK, 4),
      uintBE(d.maxTokens, 4),
      uintBE(d.stopAtEos ? 1 : 0, 1),
    ),
  );
}

function parseDecodingConfigOrThrow(input: unknown): DecodingConfig {
  try {
    return parseDecodingConfig(input);
  } catch (e) {
    if (e instanceof SamplingError) throw new GenerateConfigError(e.shortMessage, { details: e.details, cause: e });
    throw e;
  }
}

interface Validated {
  prompt: number[];
  decoding: DecodingConfig;
  sampler: SamplerConfig;
  kvDtype: KvDtype;
  chunk: number;
}

function validate(model: LoadedModel, req: GenerateRequest): Validated {
  const { vocabSize, layers, maxPositions } = model.config;
  if (!req || typeof req !== "object") throw new PromptError("generate() needs a request object");
  if (!Array.isArray(req.promptTokens) || req.promptTokens.length === 0) {
    throw new PromptError("the prompt is empty", { details: "generation needs at least one prompt token" });
  }
  const prompt = [...req.promptTokens];
  for (let i = 0; i < prompt.length; i++) {
    const t = prompt[i]!;
    if (!Number.isInteger(t) || t < 0 || t >= vocabSize) {
      throw new PromptError(`prompt token ${i} is ${t}, outside the model's vocabulary [0, ${vocabSize})`);
    }
  }
  const decoding = parseDecodingConfigOrThrow(req.decoding);
  if (req.sampler?.numLayers !== undefined && req.sampler.numLayers !== layers) {
    throw new GenerateConfigError(`sampler.numLayers is ${req.sampler.numLayers}, the model has ${layers} layers`);
  }
  let sampler: SamplerConfig;
  try {
    sampler = parseSamplerConfig({
      projectionDim: DEFAULT_PROJECTION_DIM,
      minPositions: DEFAULT_MIN_POSITIONS,
      ...req.sampler,
      numLayers: layers,
    });
  } catch (e) {
    if (e instanceof SamplingError) {
      throw new GenerateConfigError(e.shortMessage, { details: `${e.details ?? ""}${e.details ? "; " : ""}the model has ${layers} layers`, cause: e });
    }
    throw e;
  }
  const kvDtype = req.kvDtype ?? modelKvDtype(model);
  if (kvDtype !== "float32" && kvDtype !== "float16") {
    throw new GenerateConfigError(`kvDtype must be "float32" or "float16" (got ${String(kvDtype)})`);
  }
  if (maxPositions !== null && prompt.length + decoding.maxTokens > maxPositions) {
    throw new ContextLengthError(prompt.length, decoding.maxTokens, maxPositions);
  }
  // a stepwise model (dynamic activation quantisation) reads its prompt in the passes the verifier replays
  const chunk = req.prefillChunkSize ?? (model.config.stepwise ? STEPWISE_PROMPT_CHUNK : DEFAULT_PREFILL_CHUNK);
  if (!Number.isInteger(chunk) || chunk < 1) throw new GenerateConfigError(`prefillChunkSize must be a positive integer (got ${chunk})`);
  if (model.config.stepwise && chunk !== STEPWISE_PROMPT_CHUNK)
    throw new GenerateConfigError(`this model quantises activations per pass, so its prompt is read in chunks of ${STEPWISE_PROMPT_CHUNK} (got prefillChunkSize ${chunk})`, {
      details: "a verifier replays it in the same passes; other chunks give other numbers and an honest receipt would be rejected",
    });
  return { prompt, decoding, sampler, kvDtype, chunk };
}

/**
 * Generate with KV-cache sampling and return the committed receipt. Throws PromptError,
 * ContextLengthError, GenerateConfigError (bad input), GenerateAbortedError, model errors
 * (ModelInputError, …) and GenerateInvariantError (a bug).
 */
export async function generate(model: LoadedModel, req: GenerateRequest): Promise<GenerateResult> {
  const t0 = performance.now();
  const { prompt, decoding, sampler, kvDtype, chunk } = validate(model, req);
  const { vocabSize: V, kvHeads, headDim, eosIds } = model.config;
  const vectorLength = sampler.projectionDim > 0 ? sampler.projectionDim : kvHeads * headDim;
  const P = prompt.length;
  const total = P + decoding.maxTokens;
  const eos = new Set(decoding.stopAtEos ? eosIds : []);
  const start = firstCandidatePosition(sampler, P);
  const f16 = kvDtype === "float16";

  const tokens = prompt.slice();
  const samples: KvSample[] = [];
  const hasher = new PrefixHasher();
  const checkAbort = () => {
    if (req.signal?.aborted) throw new GenerateAbortedError("generation cancelled", { cause: req.signal.reason });
  };
  const round = (v: Float32Array, p: number, layer: number, kind: string): Float32Array => {
    if (!f16) return v;
    for (let j = 0; j < v.length; j++) {
      const r = roundToF16(v[j]!);
      if (!Number.isFinite(r)) {
        throw new GenerateConfigError(`${kind} at position ${p}, layer ${layer} does not fit in float16 (${v[j]})`, {
          details: "store the receipt with kvDtype float32",
        });
      }
      v[j] = r;
    }
    return v;
  };
  // logits rows of the latest fed positions, for the top samples of the evidence floor (decided at the end)
  const recentLogits = new Map<number, Float32Array>();
  const keepLogits = (p: number, row: Float32Array) => {
    if (sampler.minPositions === 0 || sampler.projectionDim === 0) return;
    recentLogits.set(p, Float32Array.from(row));
    recentLogits.delete(p - sampler.minPositions);
  };
  const take = (present: KvCache, logitsRow: () => Float32Array, p: number, layers: readonly number[]) => {
    for (const layer of layers) {
      const v =
        layer === sampler.numLayers
          ? topSampleVectors(sampler, logitsRow())
          : kvSampleVectors(sampler, layer, kvRow(present, layer, "key", p), kvRow(present, layer, "value", p));
      samples.push({ position: p, layer, key: round(v.key, p, layer, "key"), value: round(v.value, p, layer, "value") });
    }
  };
  /** Push tokens[from..to) into the prefix hash and copy the sampled rows of those positions from `present` (logits: rows of from..to). */
  const capture = (present: KvCache, logits: Float32Array, from: number, to: number) => {
    for (let p = from; p < to; p++) {
      if (hasher.length !== p) throw new GenerateInvariantError(`prefix hash at ${hasher.length}, expected position ${p}`);
      const h = hasher.push(tokens[p]!);
      const row = () => logits.subarray((p - from) * V, (p - from + 1) * V);
      keepLogits(p, row());
      if (p < start || !tokenSampled(sampler, p, h)) continue;
      picked.add(p);
      take(present, row, p, sampledLayers(sampler, p, h));
    }
  };
  const picked = new Set<number>();

  // 1. prefill
  let past: KvCache | null = null;
  let logits: Float32Array | null = null;
  for (let s = 0; s < P; s += chunk) {
    checkAbort();
    const part = prompt.slice(s, s + chunk);
    const out = await model.forward({ tokens: part, past });
    capture(out.present, out.logits!, s, s + part.length);
    past = out.present;
    if (s + part.length === P) logits = out.logits!.subarray((part.length - 1) * V, part.length * V);
    req.onProgress?.(s + part.length, total);
  }
  const t1 = performance.now();

  // 2. decode
  const output: number[] = [];
  for (let i = 0; i < decoding.maxTokens; i++) {
    const position = P + i; // the position of the token being produced; logits are those of position − 1
    const token = drawToken(logits!, decoding, position);
    output.push(token);
    tokens.push(token);
    req.onToken?.(i, token);
    req.onProgress?.(position + 1, total);
    if (eos.has(token) || i === decoding.maxTokens - 1) break;
    checkAbort();
    const out = await model.forward({ tokens: [token], past });
    capture(out.present, out.logits!, position, position + 1);
    past = out.present;
    logits = out.logits!;
  }
  // evidence floor: positions known only now, read from the final cache and the kept logits rows
  for (const p of floorPositions(sampler, tokens.length, P, picked)) {
    take(past!, () => {
      const row = recentLogits.get(p);
      if (!row) throw new GenerateInvariantError(`no logits kept for floor position ${p}`);
      return row;
    }, p, floorLayers(sampler));
  }
  samples.sort((a, b) => a.position - b.position || a.layer - b.layer);
  const t2 = performance.now();
  past = null;
  if (output.length < decoding.maxTokens) req.onProgress?.(total, total);

  // self-check: exactly the sampler's plan over the final tokens
  const check = checkSamplePlan({ sampler, promptTokens: prompt, outputTokens: output, samples });
  if (!check.ok) throw new GenerateInvariantError("captured KV samples differ from the sampler's plan", { details: check.reason });

  const receipt: Receipt = {
    version: RECEIPT_VERSION,
    modelId: model.modelId.toLowerCase() as Hex,
    promptTokens: prompt,
    outputTokens: output,
    decoding,
    sampler,
    kvDtype,
    vectorLength,
    samples,
    // The level the sessions ran at (after any fallback of the loader): replays follow it.
    ...(model.graphOptimizationLevel !== "all" ? { graphOptimizationLevel: model.graphOptimizationLevel } : {}),
  };
  const bytes = encodeReceipt(receipt);
  const root = receiptRoot(bytes);
  const text = model.tokenizer.decode(output);
  const t3 = performance.now();
  const decodeMs = t2 - t1;
  return {
    receipt,
    bytes,
    root,
    text,
    finishReason: output.length > 0 && eos.has(output[output.length - 1]!) ? "stop" : "length",
    timings: {
      prefillMs: t1 - t0,
      decodeMs,
      totalMs: t3 - t0,
      tokensPerSecond: decodeMs > 0 ? output.length / (decodeMs / 1000) : 0,
    },
  };
}
