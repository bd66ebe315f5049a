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
import { DEFAULT_TOKEN_TOLERANCE, type TokenTolerance } from "../sampling/index.js";
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
  /** Largest KV error (metric above) of a matching key or value. */
  kv: number;
  /** The token check's noise bound δ (sampling/decode.ts checkToken). */
  token: TokenTolerance;
}

/**
 * Thresholds per model precision (the dtype of the model's KV cache and activations), set from the
 * measurements in README.md ("KV matching"): the largest honest error observed, times a safety
 * factor, well below the smallest error of a changed model.
 */
export const DEFAULT_TOLERANCES: Readonly<Record<Dtype, Readonly<Tolerances>>> = Object.freeze({
  fp32: Object.freeze({ kv: 1e-3, token: Object.freeze({ ...DEFAULT_TOKEN_TOLERANCE }) }),
  fp16: Object.freeze({ kv: 5e-3, token: Object.freeze({ logitAbs: 2e-2, logitRel: 1e-2, cdfAbs: 1e-6 }) }),
});

/** The tolerances for a model of this precision, with overrides; validates them. */
export function resolveTolerances(dtype: Dtype, overrides: { kv?: number; token?: Partial<TokenTolerance> } = {}): Tolerances {
  const base = DEFAULT_TOLERANCES[dtype];
  const t: Tolerances = { kv: overrides.kv ?? base.kv, token: { ...base.token, ...(overrides.token ?? {}) } };
  if (!(t.kv > 0) || !Number.isFinite(t.kv)) throw new VerifyOptionsError(`the KV threshold must be a positive number (got ${t.kv})`);
  for (const [k, v] of Object.entries(t.token))
    if (!(v >= 0) || !Number.isFinite(v)) throw new VerifyOptionsError(`token tolerance ${k} must be a non-negative number (got ${v})`);
  return t;
}
