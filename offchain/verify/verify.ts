/**
 * The verifier (paper §3.2, BRIEF "Verification", docs/PROTOCOL.md): replay a receipt with one
 * prefill pass, compare every KV sample within tolerance, check every generated token against the
 * replayed logits, and return the canonical match bitmap that goes on-chain.
 *
 * ## Order of work
 * 1. **Refusals** (throw, no verdict): a receipt that fails `parseReceipt` (ReceiptFormatError), a
 *    receipt for another model (ModelMismatchError), a receipt whose root is not `expectedRoot`
 *    (ReceiptMismatchError), bad options (VerifyOptionsError).
 * 2. **Structure** (`checkReceiptStructure`): a receipt of this model id whose content no honest
 *    generator could have produced with this model — vectorLength ≠ kvHeads·headDim, sampler.numLayers
 *    ≠ the model's layers, a token id outside the vocabulary, prompt + output beyond the context, an
 *    output that breaks the stop rule (with stopAtEos: an end-of-sequence token before the last output
 *    token, or fewer than maxTokens tokens without one; without it: fewer than maxTokens tokens), or
 *    samples that are not exactly `samplePlan(sampler, prompt ++ output, promptLen)` (extra, missing
 *    or moved samples). Such a receipt is rejected **as a whole**: every check is unmatched (all-zero
 *    bitmap), `malformed` says why, and nothing is replayed. This is canonical (the plan and the
 *    model's shape are deterministic), and a generator gains nothing from it: it is the worst result.
 *    With `strict: true` it throws ReceiptStructureError instead.
 * 3. **Probe** (early stop, `earlyStop` default true): with m the lowest sampled layer, run the graph
 *    pruned to layers ≤ m (`fetchLayers = m + 1`, no logits, only up to the last position sampled at
 *    those layers) when that is at most a quarter of the model, and compare the samples at layers ≤ m.
 *    Any mismatch there fixes the lowest mismatching layer L ≤ m for good, and with it the whole
 *    canonical bitmap: stop.
 * 4. **Replay**: one prefill over `prompt ++ output[0 .. O−2]` (the last output token is never fed
 *    back), in chunks of `chunkSize` tokens (the same KV and logits as one pass, up to float noise),
 *    comparing the samples of each chunk and checking the output tokens whose logits it holds
 *    (output token i at position promptLen + i − 1, drawn for tokenPosition promptLen + i). Token
 *    checks are skipped once a KV sample has mismatched (they are unmatched by the canonical rule).
 * 5. **Canonical bitmap** (PROTOCOL.md): with L the lowest layer of a mismatching sample, samples at
 *    layers ≤ L carry their result, samples at layers > L and every token check are unmatched; with
 *    no KV mismatch, samples are matched and token checks carry their result. The probe and the full
 *    replay therefore give identical bytes (tested).
 *
 * A sample matches when `kvVectorError` (metric.ts) of its key and of its value are both ≤
 * `tolerances.kv`; a token matches when `checkToken` accepts it with `tolerances.token`.
 */
import { keccak256 } from "ethers";
import { type GraphOptimizationLevel, type LoadedModel, type KvCache, kvRow, kvPrefixLayers, passPlan, prefillChunked } from "../model/index.js";
import { fingerprintFromCache } from "../fingerprint/compute.js";
import { checkSeed } from "../fingerprint/pairs.js";
import { type Hex, type TokenCheck, type TokenTolerance, checkToken } from "../sampling/index.js";
import {
  type Receipt,
  ReceiptMismatchError,
  bitmapToHex,
  checkSamplePlan,
  encodeBitmap,
  kvSampleVectors,
  topSampleVectors,
  numChecks,
  parseReceipt,
  receiptRoot,
} from "../receipt/index.js";
import {
  ModelMismatchError,
  ReceiptStructureError,
  VerifyAbortedError,
  VerifyOptionsError,
  type StructureProblem,
} from "./errors.js";
import {
  jobThresholds,
  kvMaxAbsOverRms,
  kvVectorError,
  resolveTolerances,
  sampleThreshold,
  type JobThresholds,
  type ToleranceOverrides,
  type Tolerances,
} from "./metric.js";

/** Default tokens per forward of the replay (bounds the logits and attention buffers). */
export const DEFAULT_REPLAY_CHUNK = 512;
/** The probe runs only when it needs at most this fraction of the model's layers. */
export const PROBE_MAX_LAYER_FRACTION = 0.25;

export type VerifyPhase = "probe" | "replay";

export interface VerifyOptions {
  /** Tokens per forward pass of the replay (default 512). */
  chunkSize?: number;
  /** Probe the lowest sampled layer with a pruned graph first and stop on a mismatch (default true). */
  earlyStop?: boolean;
  /** Overrides of the thresholds of the model's precision (metric.ts DEFAULT_TOLERANCES). */
  tolerances?: ToleranceOverrides;
  /**
   * 32-byte hex randomness that did not exist when the receipt was committed (the pool supplies it):
   * the job's KV and top thresholds are drawn from it (metric.ts `jobThresholds`, docs/PROTOCOL.md
   * "Thresholds"). Without it, the fixed base thresholds.
   */
  thresholdSeed?: string;
  /** Progress in tokens of the current phase. */
  onProgress?: (phase: VerifyPhase, done: number, total: number) => void;
  /** When given, the receipt's root must equal it (ReceiptMismatchError otherwise). */
  expectedRoot?: string;
  /** Throw ReceiptStructureError for a malformed receipt instead of returning the all-unmatched verdict. */
  strict?: boolean;
  /** Include every sample's errors in the verdict (`samples`). */
  collectSamples?: boolean;
  /** Cancels between forward passes (VerifyAbortedError). */
  signal?: AbortSignal;
  /**
   * uint64 seed of the pool's replay fingerprint (offchain/fingerprint): `verdict.fingerprint` is computed
   * from the full replay's final cache; after an early stop, a separate full prefill pass provides it.
   */
  fingerprintSeed?: bigint;
  /**
   * Which graph optimisation level the replay runs at: "receipt" (default) the level the receipt
   * declares (absent: "all"), through `model.atGraphLevel` — what every honest verifier does, so that
   * a level's own rounding never separates honest parties (docs/PROTOCOL.md "Pinned replay level");
   * "model" the given model's level as it is (measurements across levels only).
   */
  replayLevel?: "receipt" | "model";
}

export type MismatchKind = "key" | "value" | "top" | "token" | "plan";

export interface Mismatch {
  /** Check index (samples first, then output tokens); −1 for a malformed receipt. */
  index: number;
  kind: MismatchKind;
  /** Sequence position: the sample's, or the output token's (promptLen + i). */
  position: number;
  layer?: number;
  /** Output token index (token checks). */
  outputIndex?: number;
  /** KV error (metric.ts), or for a token the score deficit R − s_c reported by checkToken (passes ≤ 2δ). */
  error: number;
  /** The KV threshold, or 2δ of the token check. */
  threshold: number;
  detail: string;
}

export interface SampleResult {
  index: number;
  position: number;
  layer: number;
  keyError: number;
  valueError: number;
  /** A top sample (layer numLayers: projections of the logits row). */
  top: boolean;
  /** The threshold this sample was compared with. */
  threshold: number;
  matched: boolean;
  /** max |a − b| / RMS(b) of key and value (metric.ts kvMaxAbsOverRms; for comparison, not used to decide). */
  keyMaxAbsOverRms: number;
  valueMaxAbsOverRms: number;
}

export interface ErrorStats {
  /** Samples compared. */
  count: number;
  max: number;
  mean: number;
  /** Where the max was seen. */
  maxAt: { position: number; layer: number } | null;
}

export interface TokenStats {
  /** Token checks evaluated. */
  checked: number;
  /** Claimed token equals the replay's own draw. */
  exact: number;
  /** Accepted as a near-tie (not the exact draw, within tolerance). */
  nearTies: number;
  failed: number;
}

export interface Verdict {
  /** Every check matched: the generator's claim holds. */
  agrees: boolean;
  modelId: Hex;
  /** receiptRoot of the verified receipt. */
  root: Hex;
  /** The graph optimisation level the replay ran at (the receipt's, unless `replayLevel: "model"` or the loader had to lower it). */
  replayGraphOptimizationLevel: GraphOptimizationLevel;
  checks: number;
  matched: number;
  /** ceil(checks / 8) bytes, PROTOCOL.md layout: what `revealResult` takes. */
  matchBitmap: Uint8Array;
  matchBitmapHex: Hex;
  /** keccak256 of the bitmap (what the pool compares). */
  matchBitmapHash: Hex;
  kvChecks: { total: number; matched: number };
  tokenChecks: { total: number; matched: number };
  /** The first real mismatch: lowest check index among the mismatching samples at layer L, else the first failed token. */
  firstMismatch?: Mismatch;
  /** L, the lowest layer of a mismatching sample (the canonical stop), when a sample mismatched. */
  stoppedAtLayer?: number;
  /** The replay ended at the probe (a mismatch within its layers). */
  earlyStopped: boolean;
  /** Why the receipt was rejected as a whole (all checks unmatched, nothing replayed). */
  malformed?: StructureProblem;
  /** Wall time of probe + replay (0 for a malformed receipt). */
  replayMs: number;
  probeMs: number;
  /** Layers the deepest pass computed: the probe's fetchLayers when it stopped, else the model's. */
  layersComputed: number;
  /** Tokens fed to the model by the full replay (0 when it stopped at the probe). */
  replayedTokens: number;
  errors: { key: ErrorStats; value: ErrorStats; tokens: TokenStats };
  tolerances: Tolerances;
  /** The job's thresholds (drawn from thresholdSeed, or the base ones), before the position scale. */
  thresholds: JobThresholds;
  samples?: SampleResult[];
  /** The replay fingerprint of `fingerprintSeed` (absent without it, for a malformed receipt, or with no KV position). */
  fingerprint?: Hex;
}

/** The first structural problem of a (parsed) receipt against a model, or null (module comment, step 2). */
export function checkReceiptStructure(model: LoadedModel, r: Receipt): StructureProblem | null {
  const c = model.config;
  const V = c.kvHeads * c.headDim;
  if (r.sampler.projectionDim === 0 && r.vectorLength !== V)
    return { kind: "vectorLength", message: `vectorLength is ${r.vectorLength}, the model's KV rows have ${V} numbers (${c.kvHeads} heads × ${c.headDim})` };
  if (r.sampler.numLayers !== c.layers)
    return { kind: "numLayers", message: `sampler.numLayers is ${r.sampler.numLayers}, the model has ${c.layers} layers` };
  const P = r.promptTokens.length;
  const tokens = [...r.promptTokens, ...r.outputTokens];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t >= c.vocabSize)
      return {
        kind: "token",
        message: `${i < P ? `prompt token ${i}` : `output token ${i - P}`} is ${t}, outside the vocabulary [0, ${c.vocabSize})`,
      };
  }
  if (c.maxPositions !== null && tokens.length > c.maxPositions)
    return { kind: "context", message: `prompt + output is ${tokens.length} tokens, beyond the model's context of ${c.maxPositions}` };
  const O = r.outputTokens.length;
  const eos = new Set(c.eosIds);
  if (r.decoding.stopAtEos) {
    const k = r.outputTokens.findIndex((t) => eos.has(t));
    if (k >= 0 && k < O - 1)
      return { kind: "stop", message: `output token ${k} is end-of-sequence (${r.outputTokens[k]}) but ${O - 1 - k} tokens follow it (stopAtEos)` };
    if (O < r.decoding.maxTokens && (O === 0 || !eos.has(r.outputTokens[O - 1]!)))
      return { kind: "stop", message: `${O} output tokens, fewer than maxTokens ${r.decoding.maxTokens}, and the last is not end-of-sequence` };
  } else if (O < r.decoding.maxTokens) {
    return { kind: "stop", message: `${O} output tokens, fewer than maxTokens ${r.decoding.maxTokens} (stopAtEos is off)` };
  }
  const check = checkSamplePlan(r);
  if (!check.ok)
    return { kind: "plan", message: `samples are not the samplers' plan: ${check.reason}`, details: `${r.samples.length} samples in the receipt, ${check.plan.length} planned` };
  return null;
}

/**
 * PROTOCOL.md's canonical bits from per-sample results (true / false / null = not computed) and token
 * results (null = not computed). Throws if a result the rule needs was not computed (a bug).
 */
export function canonicalBits(sampleLayers: readonly number[], kv: readonly (boolean | null)[], tokens: readonly (boolean | null)[]): boolean[] {
  let L = Infinity;
  for (let i = 0; i < kv.length; i++) if (kv[i] === false) L = Math.min(L, sampleLayers[i]!);
  const bits: boolean[] = [];
  for (let i = 0; i < kv.length; i++) {
    const layer = sampleLayers[i]!;
    if (layer > L) bits.push(false);
    else if (kv[i] === null) throw new Error(`canonicalBits: sample ${i} (layer ${layer}) was not compared`);
    else bits.push(kv[i]!);
  }
  for (let j = 0; j < tokens.length; j++) {
    if (L !== Infinity) bits.push(false);
    else if (tokens[j] === null) throw new Error(`canonicalBits: token check ${j} was not evaluated`);
    else bits.push(tokens[j]!);
  }
  return bits;
}

/**
 * Build the probe's pruned session (fetchLayers = 1) ahead of the first receipt, so that the early
 * stop of a later `verifyReceipt` costs only its forward pass (building the session takes 0.1–0.9 s
 * on the `small` preset). A worker calls it once after loading the model.
 */
export async function prepareVerifier(model: LoadedModel): Promise<void> {
  if (model.config.layers > 1) await model.forward({ tokens: [0], past: null, fetchLayers: 1 });
}

const emptyStats = (): ErrorStats => ({ count: 0, max: 0, mean: 0, maxAt: null });

/**
 * Verify a receipt against a loaded model (module comment). Resolves to a verdict for every receipt
 * of this model id that decodes; throws only for refusals (step 1), `strict` structure errors, model
 * runtime faults and cancellation.
 */
export async function verifyReceipt(given: LoadedModel, input: Receipt, opts: VerifyOptions = {}): Promise<Verdict> {
  const receipt = parseReceipt(input);
  if (receipt.modelId.toLowerCase() !== given.modelId.toLowerCase()) throw new ModelMismatchError(receipt.modelId, given.modelId);
  const replayLevel = opts.replayLevel ?? "receipt";
  if (replayLevel !== "receipt" && replayLevel !== "model") throw new VerifyOptionsError(`replayLevel must be "receipt" or "model" (got ${String(replayLevel)})`);
  const model = replayLevel === "receipt" ? await given.atGraphLevel(receipt.graphOptimizationLevel ?? "all") : given;
  const root = receiptRoot(receipt);
  if (opts.expectedRoot !== undefined && opts.expectedRoot.toLowerCase() !== root)
    throw new ReceiptMismatchError(`receipt root ${root} is not the committed root ${opts.expectedRoot}`, {
      details: "the receipt content does not match its commitment: tampered, or the wrong receipt",
    });
  const chunk = opts.chunkSize ?? DEFAULT_REPLAY_CHUNK;
  if (!Number.isInteger(chunk) || chunk < 1) throw new VerifyOptionsError(`chunkSize must be a positive integer (got ${chunk})`);
  const tol = resolveTolerances(model.config.dtype, opts.tolerances);
  if (opts.thresholdSeed !== undefined && !/^0x[0-9a-fA-F]{64}$/.test(opts.thresholdSeed))
    throw new VerifyOptionsError(`thresholdSeed must be 0x followed by 64 hex digits (got ${opts.thresholdSeed})`);
  const job = jobThresholds(tol, opts.thresholdSeed);
  if (opts.fingerprintSeed !== undefined) {
    try {
      checkSeed(opts.fingerprintSeed);
    } catch (e) {
      throw new VerifyOptionsError(`fingerprintSeed must be a uint64 bigint (got ${String(opts.fingerprintSeed)})`, { cause: e });
    }
  }
  const abort = () => {
    if (opts.signal?.aborted) throw new VerifyAbortedError("verification cancelled", { cause: opts.signal.reason });
  };

  const S = receipt.samples.length;
  const O = receipt.outputTokens.length;
  const P = receipt.promptTokens.length;
  const checks = numChecks(receipt);
  const base = { modelId: receipt.modelId, root, replayGraphOptimizationLevel: model.graphOptimizationLevel, checks, tolerances: tol, thresholds: job };

  const problem = checkReceiptStructure(model, receipt);
  if (problem) {
    if (opts.strict) throw new ReceiptStructureError(problem);
    const bitmap = encodeBitmap(new Array<boolean>(checks).fill(false));
    return {
      ...base,
      agrees: false,
      matched: 0,
      ...bitmapFields(bitmap),
      kvChecks: { total: S, matched: 0 },
      tokenChecks: { total: O, matched: 0 },
      firstMismatch: { index: -1, kind: "plan", position: -1, error: Infinity, threshold: 0, detail: problem.message },
      earlyStopped: false,
      malformed: problem,
      replayMs: 0,
      probeMs: 0,
      layersComputed: 0,
      replayedTokens: 0,
      errors: { key: emptyStats(), value: emptyStats(), tokens: { checked: 0, exact: 0, nearTies: 0, failed: 0 } },
      ...(opts.collectSamples ? { samples: [] } : {}),
    };
  }

  const L = model.config.layers;
  const V = model.config.vocabSize;
  const tokens = [...receipt.promptTokens, ...receipt.outputTokens];
  const feed = tokens.slice(0, Math.max(0, tokens.length - 1));
  const layers = receipt.samples.map((s) => s.layer);
  const kv: (boolean | null)[] = new Array<boolean | null>(S).fill(null);
  const tok: (boolean | null)[] = new Array<boolean | null>(O).fill(null);
  const results: (SampleResult | null)[] = new Array<SampleResult | null>(S).fill(null);
  const tokenFail: (Mismatch | null)[] = new Array<Mismatch | null>(O).fill(null);
  const tokenStats: TokenStats = { checked: 0, exact: 0, nearTies: 0, failed: 0 };
  let minBad = Infinity; // lowest layer of a mismatching sample so far

  const record = (i: number, top: boolean, claimed: { key: Float32Array; value: Float32Array }, ref: { key: Float32Array; value: Float32Array }) => {
    const s = receipt.samples[i]!;
    const threshold = sampleThreshold(tol, job, top, s.position);
    const keyError = kvVectorError(claimed.key, ref.key, receipt.kvDtype);
    const valueError = kvVectorError(claimed.value, ref.value, receipt.kvDtype);
    const matched = keyError <= threshold && valueError <= threshold;
    kv[i] = matched;
    results[i] = {
      index: i,
      position: s.position,
      layer: s.layer,
      keyError,
      valueError,
      top,
      threshold,
      matched,
      keyMaxAbsOverRms: opts.collectSamples ? kvMaxAbsOverRms(claimed.key, ref.key, receipt.kvDtype) : NaN,
      valueMaxAbsOverRms: opts.collectSamples ? kvMaxAbsOverRms(claimed.value, ref.value, receipt.kvDtype) : NaN,
    };
    if (!matched) minBad = Math.min(minBad, s.layer);
  };
  const compare = (present: KvCache, i: number) => {
    const s = receipt.samples[i]!;
    const ref = kvSampleVectors(receipt.sampler, s.layer, kvRow(present, s.layer, "key", s.position), kvRow(present, s.layer, "value", s.position));
    record(i, false, s, ref);
  };
  const compareTop = (logitsRow: Float32Array, i: number) => record(i, true, receipt.samples[i]!, topSampleVectors(receipt.sampler, logitsRow));

  const t0 = performance.now();
  let probeMs = 0;
  let layersComputed = 0;
  let earlyStopped = false;
  let replayedTokens = 0;
  let fullPresent: KvCache | null = null;

  // 3. probe
  const minLayer = S > 0 ? Math.min(...layers) : L;
  const probeLayers = minLayer + 1;
  if ((opts.earlyStop ?? true) && S > 0 && probeLayers < L && probeLayers <= Math.max(1, Math.floor(L * PROBE_MAX_LAYER_FRACTION))) {
    const idx: number[] = [];
    for (let i = 0; i < S; i++) if (layers[i]! < probeLayers) idx.push(i);
    const upTo = Math.max(...idx.map((i) => receipt.samples[i]!.position)) + 1;
    const present = await runChunks(model, feed.slice(0, upTo), chunk, P, probeLayers, abort, (d, t) => opts.onProgress?.("probe", d, t));
    for (const i of idx) compare(present, i);
    probeMs = performance.now() - t0;
    layersComputed = probeLayers;
    if (minBad !== Infinity) earlyStopped = true;
  }

  // 4. full replay
  if (!earlyStopped && feed.length > 0) {
    const byPos = new Map<number, number[]>();
    for (let i = 0; i < S; i++) {
      if (kv[i] !== null) continue;
      const p = receipt.samples[i]!.position;
      const list = byPos.get(p);
      if (list) list.push(i);
      else byPos.set(p, [i]);
    }
    let past: KvCache | null = null;
    // a stepwise model (dynamic activation quantisation) in the generator's own passes
    for (const [s, e] of passPlan(model.config.stepwise, feed.length, P, chunk)) {
      abort();
      const part = feed.slice(s, e);
      const out = await model.forward({ tokens: part, past });
      for (let p = s; p < e; p++)
        for (const i of byPos.get(p) ?? []) {
          if (receipt.samples[i]!.layer === L) compareTop(out.logits!.subarray((p - s) * V, (p - s + 1) * V), i);
          else compare(out.present, i);
        }
      if (minBad === Infinity) {
        const logits = out.logits!;
        for (let p = Math.max(s, P - 1); p < e; p++) {
          const j = p - P + 1; // output token j is drawn from the logits of position P + j − 1
          const row = logits.subarray((p - s) * V, (p - s + 1) * V);
          const c = checkToken(row, receipt.decoding, P + j, receipt.outputTokens[j]!, tol.token);
          tokenStats.checked++;
          if (c.exact) tokenStats.exact++;
          else if (c.ok) tokenStats.nearTies++;
          else tokenStats.failed++;
          tok[j] = c.ok;
          if (!c.ok) tokenFail[j] = tokenMismatch(S + j, P + j, j, c);
        }
      }
      past = out.present;
      fullPresent = past;
      replayedTokens = e;
      opts.onProgress?.("replay", e, feed.length);
    }
    layersComputed = L;
  }
  const replayMs = performance.now() - t0;
  let fingerprint: Hex | undefined;
  if (opts.fingerprintSeed !== undefined && feed.length > 0) {
    abort();
    fullPresent ??= (await prefillChunked(model, feed, { chunkSize: chunk, keepLogits: false, promptLength: P })).present;
    fingerprint = fingerprintFromCache(fullPresent, opts.fingerprintSeed, P, O);
  }

  // 5. canonical bitmap
  const bits = canonicalBits(layers, kv, tok);
  const bitmap = encodeBitmap(bits);
  const matched = bits.reduce((a, b) => a + (b ? 1 : 0), 0);
  let firstMismatch: Mismatch | undefined;
  if (minBad !== Infinity) {
    const i = results.findIndex((r) => r !== null && !r.matched && r.layer === minBad);
    const r = results[i]!;
    const keyBad = r.keyError > r.threshold;
    const what = r.top ? `top sample (logits projection ${keyBad ? "a" : "b"})` : keyBad ? "key" : "value";
    firstMismatch = {
      index: i,
      kind: r.top ? "top" : keyBad ? "key" : "value",
      position: r.position,
      layer: r.layer,
      error: keyBad ? r.keyError : r.valueError,
      threshold: r.threshold,
      detail: `${what} error ${fmt(keyBad ? r.keyError : r.valueError)} > ${fmt(r.threshold)} at position ${r.position}, layer ${r.layer}`,
    };
  } else {
    const f = tokenFail.find((m) => m !== null);
    if (f) firstMismatch = f;
  }
  const key = stats(results, "keyError");
  const value = stats(results, "valueError");
  return {
    ...base,
    agrees: matched === checks,
    matched,
    ...bitmapFields(bitmap),
    kvChecks: { total: S, matched: bits.slice(0, S).filter(Boolean).length },
    tokenChecks: { total: O, matched: bits.slice(S).filter(Boolean).length },
    ...(firstMismatch ? { firstMismatch } : {}),
    ...(minBad !== Infinity ? { stoppedAtLayer: minBad } : {}),
    earlyStopped,
    replayMs,
    probeMs,
    layersComputed,
    replayedTokens,
    errors: { key, value, tokens: tokenStats },
    ...(opts.collectSamples ? { samples: results.filter((r): r is SampleResult => r !== null) } : {}),
    ...(fingerprint !== undefined ? { fingerprint } : {}),
  };
}

function bitmapFields(bitmap: Uint8Array) {
  return { matchBitmap: bitmap, matchBitmapHex: bitmapToHex(bitmap), matchBitmapHash: keccak256(bitmap) as Hex };
}

function tokenMismatch(index: number, position: number, outputIndex: number, c: TokenCheck): Mismatch {
  return {
    index,
    kind: "token",
    position,
    outputIndex,
    error: c.deficit,
    threshold: 2 * c.delta,
    detail: `output token ${outputIndex} (position ${position}): ${c.reason} (replay draws ${c.drawn})`,
  };
}

/** Forward `tokens` in the model's passes (passPlan; fetchLayers = `fetch`), returning the final present. */
async function runChunks(
  model: LoadedModel,
  tokens: readonly number[],
  chunk: number,
  promptLength: number,
  fetch: number,
  abort: () => void,
  progress: (done: number, total: number) => void,
): Promise<KvCache> {
  let past: KvCache | null = null;
  for (const [a, b] of passPlan(model.config.stepwise, tokens.length, promptLength, chunk)) {
    abort();
    const out = await model.forward({ tokens: tokens.slice(a, b), past: past && kvPrefixLayers(past, fetch), fetchLayers: fetch });
    past = out.present;
    progress(b, tokens.length);
  }
  return past!;
}

function stats(results: readonly (SampleResult | null)[], field: "keyError" | "valueError"): ErrorStats {
  const s = emptyStats();
  let sum = 0;
  for (const r of results) {
    if (!r) continue;
    const e = r[field];
    s.count++;
    sum += e;
    if (s.maxAt === null || e > s.max) {
      s.max = e;
      s.maxAt = { position: r.position, layer: r.layer };
    }
  }
  s.mean = s.count ? sum / s.count : 0;
  return s;
}

const fmt = (x: number) => (Number.isFinite(x) ? x.toExponential(2) : String(x));
