/**
 * The KV error metric and the verifier's tolerances (see README.md "KV matching" for the
 * measurements behind the numbers).
 *
 * ## Metric
 * For one sampled vector (the key, or the value, of one (position, layer)), with `a` the receipt's
 * numbers and `b` the verifier's replay:
 *
 *     excess_j = |a_j − b_j|                            (receipt stored as float32)
 *     excess_j = max(0, |a_j − b_j| − halfUlp16(a_j))   (receipt stored as float16)
 *     error    = ‖excess‖₂ / max(‖b‖₂, RMS_FLOOR · √n)
 *
 * i.e. the relative L2 error of the claimed vector, after forgiving, element by element, the
 * rounding that float16 storage itself introduced (|round16(g) − g| ≤ halfUlp16(round16(g)) for the
 * generator's value g). Key and value are checked separately; a sample matches when both errors are
 * ≤ the threshold of the model's precision. Why this metric:
 * - honest noise (another thread count, graph optimisation, chunking, decode vs prefill) is a sum
 *   of many tiny reassociation errors spread over every element: relative L2 averages it, while a
 *   changed model (other weights, quantisation, 1 % noise) moves every element coherently, so the
 *   ratio between the two is the largest with an L2 norm (measured by `poc calibrate`, which also
 *   prints max-abs/RMS for comparison);
 * - normalising by the replay's own norm makes one threshold fit every layer, position and model
 *   scale (|K| reaches ~10 where |V| stays ~1);
 * - forgiving the float16 storage rounding exactly (instead of raising the threshold by its
 *   ~2.8e-4 relative RMS) keeps the fp32 threshold usable for fp16-stored receipts.
 */
import type { KvDtype } from "../receipt/index.js";
import { DEFAULT_TOKEN_TOLERANCE, type TokenTolerance, concatBytes, hex32Bytes, keccakBytes, tagBytes } from "../sampling/index.js";
import type { Dtype } from "../model/index.js";
import { VerifyOptionsError } from "./errors.js";

/** Below this RMS the reference vector counts as this RMS (avoids dividing by ~0). */
export const RMS_FLOOR = 1e-6;

/** Half the spacing of binary16 numbers around `a` (a itself a binary16 value): the most rounding moved it. */
export function halfUlp16(a: number): number {
  const x = Math.abs(a);
  if (x < 6.103515625e-5) return 2 ** -25; // subnormal range (and 0): spacing 2^-24
  return 2 ** (Math.floor(Math.log2(x)) - 11);
}

/** The error of a claimed vector against the replayed one (module comment). */
export function kvVectorError(claimed: ArrayLike<number>, reference: ArrayLike<number>, storage: KvDtype): number {
  const n = reference.length;
  if (claimed.length !== n) return Infinity;
  let num = 0;
  let den = 0;
  const f16 = storage === "float16";
  for (let j = 0; j < n; j++) {
    const a = claimed[j]!;
    const b = reference[j]!;
    let d = Math.abs(a - b);
    if (f16) d = Math.max(0, d - halfUlp16(a));
    num += d * d;
    den += b * b;
  }
  if (!Number.isFinite(num)) return Infinity;
  return Math.sqrt(num) / Math.max(Math.sqrt(den), RMS_FLOOR * Math.sqrt(n));
}

/** Max-abs error over the reference RMS (reported by calibration for comparison only). */
export function kvMaxAbsOverRms(claimed: ArrayLike<number>, reference: ArrayLike<number>, storage: KvDtype): number {
  const n = reference.length;
  let m = 0;
  let den = 0;
  for (let j = 0; j < n; j++) {
    let d = Math.abs(claimed[j]! - reference[j]!);
    if (storage === "float16") d = Math.max(0, d - halfUlp16(claimed[j]!));
    m = Math.max(m, d);
    den += reference[j]! * reference[j]!;
  }
  return m / Math.max(Math.sqrt(den / n), RMS_FLOOR);
}

export interface Tolerances {
  /** Largest KV error (metric above) of a matching key or value: the fixed rule's threshold, the centre of the drawn one. */
  kv: number;
  /** The same for top samples (projections of the logits row). */
  top: number;
  /**
   * With a threshold seed (VerifyOptions.thresholdSeed), the job's thresholds are `kv · spread^(2u−1)` and
   * `top · spread^(2u'−1)` with u, u' uniform draws from the seed (`thresholdFactor`): log-uniform over
   * [base/spread, base·spread]. Without one, the base values.
   */
  spread: number;
  /** Thresholds grow linearly with the position beyond this many tokens: × max(1, (position + 1) / positionScale). */
  positionScale: number;
  /** The token check's noise bound δ (sampling/decode.ts checkToken). */
  token: TokenTolerance;
}

export type ToleranceOverrides = { kv?: number; top?: number; spread?: number; positionScale?: number; token?: Partial<TokenTolerance> };

/**
 * Thresholds per model precision (the dtype of the model's KV cache and activations), set from the
 * measurements in README.md ("KV matching"): the largest honest error observed, times a safety
 * factor, well below the smallest error of a changed model.
 */
export const DEFAULT_TOLERANCES: Readonly<Record<Dtype, Readonly<Tolerances>>> = Object.freeze({
  fp32: Object.freeze({ kv: 1e-3, top: 1e-3, spread: 3, positionScale: 2048, token: Object.freeze({ ...DEFAULT_TOKEN_TOLERANCE }) }),
  fp16: Object.freeze({ kv: 5e-3, top: 5e-3, spread: 1.5, positionScale: 2048, token: Object.freeze({ logitAbs: 2e-2, logitRel: 1e-2, cdfAbs: 1e-6 }) }),
});

/** The tolerances for a model of this precision, with overrides; validates them. */
export function resolveTolerances(dtype: Dtype, overrides: ToleranceOverrides = {}): Tolerances {
  const base = DEFAULT_TOLERANCES[dtype];
  const t: Tolerances = {
    kv: overrides.kv ?? base.kv,
    top: overrides.top ?? overrides.kv ?? base.top,
    spread: overrides.spread ?? base.spread,
    positionScale: overrides.positionScale ?? base.positionScale,
    token: { ...base.token, ...(overrides.token ?? {}) },
  };
  for (const k of ["kv", "top", "positionScale"] as const)
    if (!(t[k] > 0) || !Number.isFinite(t[k])) throw new VerifyOptionsError(`the ${k === "kv" ? "KV threshold" : k === "top" ? "top threshold" : "position scale"} must be a positive number (got ${t[k]})`);
  if (!(t.spread >= 1) || !Number.isFinite(t.spread)) throw new VerifyOptionsError(`the threshold spread must be a number ≥ 1 (got ${t.spread})`);
  for (const [k, v] of Object.entries(t.token))
    if (!(v >= 0) || !Number.isFinite(v)) throw new VerifyOptionsError(`token tolerance ${k} must be a non-negative number (got ${v})`);
  return t;
}

export const THRESHOLD_DOMAIN = "poc.threshold.v1";

/**
 * The uniform draw u ∈ [0, 1) of a stage from a threshold seed:
 * `u = (uint64_be(keccak256("poc.threshold.v1" ‖ seed[32] ‖ stage)[0..8]) >> 11) / 2^53`.
 */
export function thresholdDraw(seed: string, stage: "kv" | "top"): number {
  const d = keccakBytes(concatBytes(tagBytes(THRESHOLD_DOMAIN), hex32Bytes(seed), tagBytes(stage)));
  let v = 0n;
  for (let i = 0; i < 8; i++) v = (v << 8n) | BigInt(d[i]!);
  return Number(v >> 11n) / 2 ** 53;
}

/** The job's threshold multiplier of a stage: 1 without a seed, else spread^(2u − 1). */
export function thresholdFactor(t: Pick<Tolerances, "spread">, seed: string | undefined, stage: "kv" | "top"): number {
  if (seed === undefined) return 1;
  return t.spread ** (2 * thresholdDraw(seed, stage) - 1);
}

/** The job's thresholds of both stages (base × factor), before the position scale. */
export interface JobThresholds {
  kv: number;
  top: number;
}

export function jobThresholds(t: Tolerances, seed: string | undefined): JobThresholds {
  return { kv: t.kv * thresholdFactor(t, seed, "kv"), top: t.top * thresholdFactor(t, seed, "top") };
}

/** The threshold of one sample: the job's threshold of its stage × the position scale. */
export function sampleThreshold(t: Tolerances, job: JobThresholds, top: boolean, position: number): number {
  return (top ? job.top : job.kv) * Math.max(1, (position + 1) / t.positionScale);
}
