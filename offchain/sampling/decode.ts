/**
 * The decoding draw (generator) and the token check (verifier): one implementation for both.
 *
 * ## Draw (`drawToken`), exact definition: Gumbel-max
 * Input: the fp32 logits `l[0..V)` at sequence position `p − 1`, the decoding config and the position
 * `p` of the token being drawn (output token i has position promptLen + i). With `g_i = g(seed, p, i)`
 * the counter-based Gumbel number of `gumbel.ts` and `T` the temperature, every token gets the score
 *
 *     s_i = l_i + T·g_i          (float64: l_i widened from float32, one multiply, one add; T = 0: s_i = l_i)
 *
 * and the drawn token is `argmax_{i ∈ F} s_i`, ties to the lowest id, over the kept set F:
 * - greedy (`T = 0`): F = every token (top-k/top-p are ignored; the draw is the argmax of the logits);
 * - sampling (`T > 0`), weights `w_i = exp((l_i − max_j l_j)/T)` in float64, canonical order = logit
 *   descending then id ascending: top-k (`topK > 0`) keeps the first `topK` tokens of the canonical
 *   order; top-p (`topP < 1`) then keeps, walking the kept tokens in canonical order, each token whose
 *   preceding kept weight is `< topP · Z` (Z = the kept weight summed in canonical order; the first token
 *   is always kept). Tokens of logit −∞ have score −∞ and are never drawn.
 * Since `argmax (l_i + T g_i) = argmax (l_i/T + g_i)` and the g_i are i.i.d. standard Gumbel, token i is
 * drawn with probability `w_i / Σ_F w` — softmax sampling. One pass over the vocabulary: a token whose
 * upper bound `l_i + T·G_MAX` cannot beat the best score so far is skipped without hashing (exact: the
 * result is the argmax; `G_MAX` is the largest value g can take), so at low temperature almost no
 * Gumbel number is computed (measured costs in offchain/verify/README.md "Token checks").
 *
 * ## Check (`checkToken`), tolerance rule
 * δ bounds |replayed logit − generator's logit| for the logits that can matter at this position:
 *
 *     δ = logitAbs + logitRel · max{ |l_i| : l_i finite, l_i ≥ l_max − Λ },   Λ = T·G_SPAN + max(1, 4δ)
 *
 * (`G_SPAN = G_MAX − G_MIN ≈ 40.3`; solved by widening Λ until it covers 4δ, in practice one pass). A
 * token below `l_max − Λ` can never reach the acceptance threshold below (its score is at most
 * `l_i + T·G_MAX < l_max + T·G_MIN − 4δ`), so its own noise is irrelevant: masked or padded logits
 * (−1e4, −∞) no longer inflate δ (issue 9, finding 2). For T ≤ 1.5 on our models Λ covers every
 * unmasked logit, so δ is the old `logitAbs + logitRel·max|l|` there; for greedy it is ≈ |l_max|-relative.
 *
 * With δ, under any generator logits l' with |l'_i − l_i| ≤ δ:
 * - **surely kept** F_min and **possibly kept** F_max bracket every kept set the generator can have
 *   (`F_min ⊆ F' ⊆ F_max`): i is surely ahead of t when `l_i > l_t + 2δ`, possibly ahead when
 *   `l_i > l_t − 2δ`; top-k: possibly kept when fewer than k tokens are surely ahead, surely kept when
 *   fewer than k are possibly ahead; top-p: the preceding kept-mass fraction `A/(A+B)` of a token moves
 *   at most to `A e^{±2δ/T} / (A e^{±2δ/T} + B)` (each weight ratio moves by at most e^{2δ/T}; a
 *   multiplicative bound, exact for A = 0, so the first token stays surely kept at any T), compared
 *   with `topP ∓ cdfAbs` (float rounding of the sums);
 * - the threshold score `R = max( max_{i∈F_min} s_i , min_{t∈P1} s_t )`, with P1 = {t : l_t ≥ l_max − 2δ}
 *   the tokens that can be first in the generator's canonical order (always kept); R ≤ max_{F'} s for
 *   every admissible F' (greedy and no top-k/top-p: R = max_i s_i, the verifier's own draw's score).
 *
 * The claimed token c **passes** iff `c ∈ F_max` and `s_c ≥ R − 2δ`.
 *
 * *Honest tokens pass*: the generator's c maximises s' over F' ⊇ F_min, and |s_i − s'_i| ≤ δ, so for
 * every i ∈ F_min: s_c ≥ s'_c − δ ≥ s'_i − δ ≥ s_i − 2δ; and F' holds its first token t ∈ P1:
 * s_c ≥ s_t − 2δ ≥ min_{P1} s − 2δ. Hence s_c ≥ R − 2δ, and c ∈ F' ⊆ F_max.
 *
 * ## The bound: how many tokens pass at one position
 * Let A = {c : c passes} and ε = 2δ/T. Probabilities are over the Gumbel numbers (the seed), which the
 * generator cannot choose after the job fixes it; logits and δ are fixed.
 * 1. **Per token** (multiplicative, no band of mass): with Z_min = Σ_{F_min} w,
 *        P(c ∈ A) ≤ w_c e^ε / (w_c e^ε + Z_min − [c ∈ F_min]·w_c) ≤ e^{2δ/T} · w_c / Z_min,
 *    because c ∈ A implies `l_c/T + ε + g_c ≥ max_{j ∈ F_min∖c} (l_j/T + g_j)`, the event that c wins the
 *    Gumbel race against F_min∖c with its logit raised by 2δ. A token the model gives probability ~0 is
 *    accepted with probability ~0, at every temperature.
 * 2. **Per position**: E|A| ≤ Σ_{c ∈ F_max} (the bound of 1.) ≤ e^{2δ/T} · Z(F_max) / Z(F_min) (when
 *    F_min ≠ ∅), and the chance that a position can be steered at all is P(|A| ≥ 2) ≤ E|A| − 1. Without
 *    top-k/top-p (F_min = F_max = all): E|A| ≤ Σ_c p_c e^ε / (1 + p_c (e^ε − 1)) ≤ e^{2δ/T}, so
 *    P(steerable) ≤ e^{2δ/T} − 1 ≈ 2δ/T for δ ≪ T. `acceptanceBound` computes the first sum.
 * 3. **Deterministically**: A ⊆ {c ∈ F_max : l_c ≥ l_max − 4δ − T·G_SPAN} (c ∈ A needs
 *    `l_c + T·G_MAX ≥ R − 2δ ≥ l_max − 4δ + T·G_MIN`; 2δ instead of 4δ when the argmax is surely kept,
 *    always so without top-k/top-p). As T → 0 this is the greedy near-tie set {c : l_c ≥ l_max − 2δ}, and
 *    at T = 0 the check *is* the greedy check `l_c ≥ l_max − 2δ`.
 * So the check tolerates exactly the logit noise δ, never more than a factor e^{2δ/T} on any token's
 * probability; at temperatures T ≲ δ it degrades gracefully into the greedy near-tie check instead of
 * accepting anything (the id-order CDF window it replaces tended to 1 as T → 0: issue 9, finding 1).
 *
 * ## Reported numbers
 * `deficit = R − s_c` (∞ when c is not possibly kept or outside the vocabulary; ≤ 2δ passes), `delta`;
 * `margin` is how clear the verdict was on the verifier's own logits: `s_c − max_{i∈F, i≠c} s_i` over
 * the verifier's exact kept set F (> 0: c is the verifier's strict draw; −∞ when c ∉ F). For greedy
 * this is `l_c − max_{i≠c} l_i` as before.
 *
 * Stop tokens: the stop rule is `stopAtEos` with the model's `eosIds` (offchain/verify checks the
 * receipt's shape); an end-of-sequence token is checked like any other token, so a generator can stop
 * early only where the EOS token itself passes (bound 1: probability ≤ e^{2δ/T}·p_eos per position).
 */
import * as z from "zod"; // the namespace import lets bundlers drop what is unused (zod 4)
import { SamplingError, formatIssues } from "./errors.js";
import { toSeed64 } from "./rng.js";
import {
  GUMBEL_BUCKET_LOWER,
  GUMBEL_BUCKET_SHIFT,
  GUMBEL_BUCKET_UPPER,
  GUMBEL_MAX,
  GUMBEL_SPAN,
  type GumbelKey,
  gumbelHash,
  gumbelKey,
  gumbelNoiseOfHash,
} from "./gumbel.js";
import { type Logits, canonicalOrder, topKCanonical } from "./order.js";
import { SHIFTED_MARGIN, shiftedBelow } from "./fraction.js";

export { canonicalOrder, topKCanonical, type Logits };

// Local copies of the hot imports: a transpiled module (tsx, mocha) may read imported bindings
// through getters, which costs more than the hash itself in the per-token loops below.
const hashOf = gumbelHash;
const noiseOfHash = gumbelNoiseOfHash;
const BUCKET_SHIFT = GUMBEL_BUCKET_SHIFT;
const below = shiftedBelow;

const U32_MAX = 0xffff_ffff;

/** Decoding configuration as committed in the receipt (see the module comment for its meaning). */
export const decodingConfigSchema = z.strictObject({
  /** uint64 seed of the decoding RNG: bigint, safe integer or decimal string. */
  seed: z.union([z.bigint(), z.number(), z.string()]).transform((v, ctx) => {
    try {
      return toSeed64(v);
    } catch (e) {
      ctx.addIssue({ code: "custom", message: e instanceof Error ? e.message : String(e) });
      return z.NEVER;
    }
  }),
  /** 0 = greedy; otherwise the softmax temperature. */
  temperature: z
    .number()
    .min(0)
    .transform((t) => (t === 0 ? 0 : t)), // normalise −0
  /** 0 = off. */
  topK: z.number().int().min(0).max(U32_MAX),
  /** 1 = off; in (0, 1]. */
  topP: z.number().gt(0).max(1),
  maxTokens: z.number().int().min(1).max(U32_MAX),
  /** Stop when the model's end-of-sequence token is drawn (the EOS token is then the last output token). */
  stopAtEos: z.boolean().default(false),
});

export type DecodingConfig = z.output<typeof decodingConfigSchema>;
export type DecodingConfigInput = z.input<typeof decodingConfigSchema>;

/** Validate a decoding configuration from outside (CLI, JSON, receipt); throws SamplingError. */
export function parseDecodingConfig(input: unknown): DecodingConfig {
  const r = decodingConfigSchema.safeParse(input);
  if (!r.success) {
    throw new SamplingError("invalid decoding configuration", { details: formatIssues(r.error.issues) });
  }
  return r.data;
}

interface LogitScan {
  max: number;
  argmax: number;
}

function scanLogits(logits: Logits): LogitScan {
  const V = logits.length;
  if (V === 0) throw new SamplingError("empty logits");
  let max = -Infinity;
  let argmax = -1;
  for (let i = 0; i < V; i++) {
    const x = logits[i]!;
    if (Number.isNaN(x) || x === Infinity) {
      throw new SamplingError("logits contain NaN or +Infinity", { details: `logit ${i} is ${x}` });
    }
    if (x > max) {
      max = x;
      argmax = i;
    }
  }
  if (argmax < 0) throw new SamplingError("all logits are -Infinity");
  return { max, argmax };
}

/** The exact kept set F: `null` = every token; `first` = the first kept token in canonical order. */
interface Kept {
  flags: Uint8Array | null;
  first: number;
  /** The full canonical order, when it was computed (top-p without top-k). */
  order?: Uint32Array;
  /** The top-k tokens in canonical order (top-k), before top-p. */
  top?: Uint32Array;
  /** Top-p over the full order: w_r = exp((l − l_max)/T) of order[r], and cum[r] = w_0 + … + w_{r−1} summed in that order. */
  weights?: Float64Array;
  cum?: Float64Array;
}

function useTopK(cfg: DecodingConfig, V: number): boolean {
  return cfg.temperature > 0 && cfg.topK > 0 && cfg.topK < V;
}
function useTopP(cfg: DecodingConfig): boolean {
  return cfg.temperature > 0 && cfg.topP < 1;
}

/** Top-k then top-p (module comment) on the given logits. */
function keptSet(logits: Logits, cfg: DecodingConfig, scan: LogitScan): Kept {
  const V = logits.length;
  const useK = useTopK(cfg, V);
  const useP = useTopP(cfg);
  if (!useK && !useP) return { flags: null, first: scan.argmax };
  const order = useK ? undefined : canonicalOrder(logits);
  const top = useK ? topKCanonical(logits, cfg.topK) : undefined;
  let kept = (order ?? top)!;
  let weights: Float64Array | undefined;
  let cum: Float64Array | undefined;
  if (useP) {
    const T = cfg.temperature;
    const n = kept.length;
    // Z summed in canonical order; over the full order the weights and running sums are kept for slackSets
    if (order) {
      weights = new Float64Array(n);
      cum = new Float64Array(n + 1);
    }
    let Z = 0;
    for (let r = 0; r < n; r++) {
      const x = Math.exp((logits[kept[r]!]! - scan.max) / T);
      Z += x;
      if (weights) {
        weights[r] = x;
        cum![r + 1] = Z;
      }
    }
    const threshold = cfg.topP * Z;
    let c = 0;
    let m = 0;
    if (cum) {
      while (m < n && cum[m]! < threshold) m++; // cum[m] is the walk's running sum after m tokens
    } else {
      while (m < n && c < threshold) c += Math.exp((logits[kept[m++]!]! - scan.max) / T);
    }
    kept = kept.subarray(0, Math.max(1, m));
  }
  const flags = new Uint8Array(V);
  for (let r = 0; r < kept.length; r++) flags[kept[r]!] = 1;
  return { flags, first: kept[0]!, ...(order ? { order } : {}), ...(top ? { top } : {}), ...(weights && cum ? { weights, cum } : {}) };
}

/** fl(T·GUMBEL_BUCKET_UPPER[j]) and fl(T·GUMBEL_BUCKET_LOWER[j]) of the last temperature used. */
let bucketT = NaN;
let bucketUpper = new Float64Array(0);
let bucketLower = new Float64Array(0);
function bucketBounds(T: number): { upper: Float64Array; lower: Float64Array } {
  if (T !== bucketT) {
    bucketUpper = GUMBEL_BUCKET_UPPER.map((g) => T * g);
    bucketLower = GUMBEL_BUCKET_LOWER.map((g) => T * g);
    bucketT = T;
  }
  return { upper: bucketUpper, lower: bucketLower };
}

/**
 * Scores s_i = l_i + T·g_i of one position (T = 0: s_i = l_i).
 *
 * Pruning (never changes a result): `best` skips a token whose upper bound cannot beat the current
 * floor — first `l_i + fl(T·G_MAX)`, then, after the first hash word a of the token, the bucket bound
 * `l_i + fl(T·UPPER[a >>> 20])` (gumbel.ts: UPPER[j] ≥ g_i for the computed g_i; multiplying by T > 0 and
 * adding l_i are correctly rounded, hence monotone, so the bound is ≥ the computed s_i). A skipped token
 * has s_i below the floor, or equal to it with a larger id, so the scan's state would not have changed.
 * `minScore` prunes with the lower bucket bound likewise. Only tokens that can matter pay for the two
 * logarithms (at T = 1 on 151,936 N(0, 3²) logits: a few hundred instead of all).
 */
class Scorer {
  readonly #logits: Logits;
  readonly #T: number;
  readonly #key: GumbelKey | null;
  readonly #upper: Float64Array;
  readonly #lower: Float64Array;
  /** fl(T · G_MAX): s_i ≤ l_i + bound for every i. */
  readonly bound: number;
  constructor(logits: Logits, T: number, seed: bigint, tokenPosition: number) {
    this.#logits = logits;
    this.#T = T;
    this.#key = T > 0 ? gumbelKey(seed, tokenPosition) : null;
    this.bound = T * GUMBEL_MAX;
    const b = T > 0 ? bucketBounds(T) : { upper: new Float64Array(0), lower: new Float64Array(0) };
    this.#upper = b.upper;
    this.#lower = b.lower;
  }
  score(i: number): number {
    const l = this.#logits[i]!;
    return this.#key === null || l === -Infinity ? l : l + this.#T * noiseOfHash(this.#key, hashOf(this.#key, i));
  }
  /**
   * Exact argmax of s over the tokens with `flags[i]` (all when null), and the runner-up (the argmax
   * of the others; only with `withSecond`); ties to the lowest id. `start` (a member) is scored first
   * so that the upper bounds prune the rest (class comment).
   */
  best(flags: Uint8Array | null, start: number, withSecond = false): { id: number; score: number; second: number } {
    const logits = this.#logits;
    const V = logits.length;
    const b = this.bound;
    const key = this.#key;
    const T = this.#T;
    const upper = this.#upper;
    let id = -1;
    let best = -Infinity;
    let id2 = -1;
    let second = -Infinity;
    if (start >= 0 && (flags === null || flags[start])) {
      id = start;
      best = this.score(start);
    }
    for (let i = 0; i < V; i++) {
      if (i === id || (flags !== null && !flags[i])) continue;
      const l = logits[i]!;
      if (l === -Infinity) continue;
      const ub = l + b;
      const floor = withSecond ? second : best;
      const floorId = withSecond ? id2 : id;
      if (ub < floor || (ub === floor && i > floorId)) continue;
      let s = l;
      if (key !== null) {
        const a = hashOf(key, i);
        const ub2 = l + upper[a >>> BUCKET_SHIFT]!;
        if (ub2 < floor || (ub2 === floor && i > floorId)) continue;
        s = l + T * noiseOfHash(key, a);
      }
      if (s > best || (s === best && i < id)) {
        second = best;
        id2 = id;
        best = s;
        id = i;
      } else if (s > second || (s === second && (id2 < 0 || i < id2))) {
        second = s;
        id2 = i;
      }
    }
    return { id, score: best, second };
  }
  /** min of s_i over the tokens with l_i ≥ floor (Infinity when none), as a Math.min fold in id order. */
  minScore(floor: number): number {
    const logits = this.#logits;
    const V = logits.length;
    const key = this.#key;
    const T = this.#T;
    const lower = this.#lower;
    let min = Infinity;
    for (let i = 0; i < V; i++) {
      const l = logits[i]!;
      if (!(l >= floor)) continue;
      if (key === null || l === -Infinity) {
        min = Math.min(min, l);
        continue;
      }
      const a = hashOf(key, i);
      if (l + lower[a >>> BUCKET_SHIFT]! > min) continue; // s_i > min: Math.min would keep min
      min = Math.min(min, l + T * noiseOfHash(key, a));
    }
    return min;
  }
}

/**
 * Draw the token for sequence position `tokenPosition` from the logits of position `tokenPosition − 1`
 * (module comment). Throws SamplingError on NaN/+Infinity logits, all −Infinity, or a bad position.
 */
export function drawToken(logits: Logits, config: DecodingConfig, tokenPosition: number): number {
  const scan = scanLogits(logits);
  if (config.temperature === 0) return scan.argmax;
  const kept = keptSet(logits, config, scan);
  return new Scorer(logits, config.temperature, config.seed, tokenPosition).best(kept.flags, kept.first).id;
}

/** Tolerances of `checkToken` (see the module comment). */
export interface TokenTolerance {
  /** Absolute part of δ, the per-logit noise bound, in logit units. */
  logitAbs: number;
  /** Relative part of δ, times the largest |logit| among the logits that can matter (module comment). */
  logitRel: number;
  /** Absolute slack on the top-p mass fractions (float rounding of the sums). */
  cdfAbs: number;
}

/**
 * Defaults for fp32 replays across thread counts and execution providers: δ = 1e-3 + 1e-3·|top logits|.
 * Raise them for fp16 models (offchain/verify/metric.ts has the per-precision values).
 */
export const DEFAULT_TOKEN_TOLERANCE: Readonly<TokenTolerance> = Object.freeze({
  logitAbs: 1e-3,
  logitRel: 1e-3,
  cdfAbs: 1e-6,
});

function resolveTolerance(tolerance: Partial<TokenTolerance>): TokenTolerance {
  const tol = { ...DEFAULT_TOKEN_TOLERANCE, ...tolerance };
  if (!(tol.logitAbs >= 0 && tol.logitRel >= 0 && tol.cdfAbs >= 0) || !Number.isFinite(tol.logitAbs + tol.logitRel + tol.cdfAbs)) {
    throw new SamplingError("token tolerances must be non-negative finite numbers", { details: JSON.stringify(tol) });
  }
  return tol;
}

/** δ of the module comment: logitAbs + logitRel · (largest |l| of the finite logits within Λ of the max). */
export function tokenDelta(logits: Logits, temperature: number, tolerance: Partial<TokenTolerance> = {}): number {
  const tol = resolveTolerance(tolerance);
  return deltaOf(logits, scanLogits(logits).max, temperature, tol);
}

function deltaOf(logits: Logits, max: number, T: number, tol: TokenTolerance): number {
  const V = logits.length;
  let delta = tol.logitAbs + tol.logitRel * Math.abs(max);
  let covered = 0; // Λ − T·G_SPAN already scanned
  for (let iter = 0; iter < 64; iter++) {
    const need = Math.max(1, 4 * delta);
    if (need <= covered) break;
    covered = need;
    const floor = max - (T * GUMBEL_SPAN + covered);
    let scale = Math.abs(max);
    for (let i = 0; i < V; i++) {
      const x = logits[i]!;
      if (x >= floor && x !== -Infinity && Math.abs(x) > scale) scale = Math.abs(x);
    }
    delta = tol.logitAbs + tol.logitRel * scale;
  }
  return delta;
}

/**
 * Surely-kept (F_min) and possibly-kept (F_max) flags under per-logit noise δ; null = every token.
 * `kept` supplies what keptSet already computed: the top-k list, or the full canonical order with its
 * weights and running sums (the same float64 values, summed in the same order, as computed here).
 */
function slackSets(
  logits: Logits,
  cfg: DecodingConfig,
  scan: LogitScan,
  delta: number,
  cdfAbs: number,
  kept: Kept,
): { fMin: Uint8Array | null; fMax: Uint8Array | null } {
  const V = logits.length;
  const useK = useTopK(cfg, V);
  const useP = useTopP(cfg);
  if (!useK && !useP) return { fMin: null, fMax: null };
  if (!useK) return topPSlack(logits, cfg, scan, delta, cdfAbs, kept);
  const fMin = new Uint8Array(V);
  const fMax = new Uint8Array(V);
  const k = cfg.topK;
  const s = 2 * delta;
  // only tokens with l ≥ L_k − 2s can be possibly ahead-ranked into the top k
  const top = kept.top ?? topKCanonical(logits, k);
  const floor = logits[top[k - 1]!]! - 2 * s;
  const cand: number[] = [];
  for (let i = 0; i < V; i++) if (logits[i]! >= floor) cand.push(i);
  const ord = canonicalOrder(logits, cand);
  const N = ord.length;
  // pS[r] = #tokens surely ahead of ord[r] (a prefix of ord); pP[r] = end of its possibly-ahead prefix (includes itself)
  const pS = new Uint32Array(N);
  const pP = new Uint32Array(N);
  let js = 0;
  let jp = 0;
  for (let r = 0; r < N; r++) {
    const lt = logits[ord[r]!]!;
    if (delta > 0) {
      while (js < N && logits[ord[js]!]! > lt + s) js++;
      while (jp < N && logits[ord[jp]!]! > lt - s) jp++;
      pS[r] = js;
      pP[r] = Math.max(jp, r + 1);
    } else {
      pS[r] = r;
      pP[r] = r + 1;
    }
  }
  const inKMin = new Uint8Array(N);
  const inKMax = new Uint8Array(N);
  for (let r = 0; r < N; r++) {
    inKMin[r] = pP[r]! - 1 < k ? 1 : 0;
    inKMax[r] = pS[r]! < k ? 1 : 0;
  }
  if (!useP) {
    for (let r = 0; r < N; r++) {
      fMin[ord[r]!] = inKMin[r]!;
      fMax[ord[r]!] = inKMax[r]!;
    }
    return { fMin, fMax };
  }
  const T = cfg.temperature;
  const w = new Float64Array(N);
  for (let r = 0; r < N; r++) w[r] = Math.exp((logits[ord[r]!]! - scan.max) / T);
  const cumMin = new Float64Array(N + 1);
  const cumMax = new Float64Array(N + 1);
  for (let r = 0; r < N; r++) {
    cumMin[r + 1] = cumMin[r]! + (inKMin[r] ? w[r]! : 0);
    cumMax[r + 1] = cumMax[r]! + (inKMax[r] ? w[r]! : 0);
  }
  const totMin = cumMin[N]!;
  const totMax = cumMax[N]!;
  const lf = (2 * delta) / T;
  const eUp = Math.exp(lf);
  const eDown = Math.exp(-lf);
  for (let r = 0; r < N; r++) {
    const t = ord[r]!;
    const wt = w[r]!;
    const s0 = pS[r]!;
    const p1 = pP[r]!;
    // mass before t over kept sets K_min ⊆ K ⊆ K_max containing t: at least aMin (surely ahead, surely
    // in the top-k), at most aMax (possibly ahead, possibly in the top-k); the rest after t likewise
    const aMin = cumMin[s0]!;
    const aMax = cumMax[p1]! - cumMax[r + 1]! + cumMax[r]!;
    const rMin = totMin - cumMin[p1]!;
    const rMax = totMax - cumMax[s0]! - (inKMax[r] ? wt : 0);
    // upper = shifted(aMax, wt + rMin, lf) < topP − cdfAbs; lower = shifted(aMin, wt + rMax, −lf) < topP + cdfAbs
    // (fraction.ts: `below` is exactly that comparison)
    if (inKMin[r] && below(aMax, wt + rMin, lf, eUp, cfg.topP - cdfAbs)) fMin[t] = 1;
    if (inKMax[r] && below(aMin, wt + rMax, -lf, eDown, cfg.topP + cdfAbs)) fMax[t] = 1;
  }
  return { fMin, fMax };
}

/**
 * slackSets for top-p without top-k: the same computation over the full canonical order (every token
 * is in the "top-k", so cumMin = cumMax = the running sums cum of keptSet and totMin = totMax = Z),
 * stopped at the first rank R where the tail certificate below shows that every later rank has
 * F_min and F_max flags 0, as the full loop would have computed.
 *
 * Tail certificate at rank R (u = 2^-53; every rank r ≥ R; cum is non-decreasing, pS and pP too):
 * - lower_r = shifted(A, B, −lf) with A = cum[pS[r]] ≥ aL := cum[pS[R]] and B = fl(w_r + fl(fl(Z − A) − w_r))
 *   ≤ (Z − A)(1 + 5u) + 2u·Z ≤ bL := (Z − aL)(1 + 1e-13) + 1e-13·Z (w_r ≤ Z; each operation is within u);
 * - upper_r = shifted(A', B', lf) with A' = fl(fl(cum[pP] − cum[r+1]) + cum[r]) ≥ cum[r] ≥ aU := cum[R]
 *   (pP[r] ≥ r + 1) and B' = fl(w_r + fl(Z − cum[pP])) ≤ fl(w_r + fl(Z − cum[r+1])) ≤ (Z − cum[r])(1 + 3u)
 *   + 4u·Z ≤ bU := (Z − aU)(1 + 1e-13) + 1e-13·Z;
 * - the exact fraction A e^{±lf}/(A e^{±lf} + B) increases with A and decreases with B, so it is at least
 *   its value at (aL, bL) resp. (aU, bU), which fL and fU compute within 6u; the computed `shifted` is
 *   within 1e-12 of the exact fraction (fraction.ts; A ∈ [1e-200, 1e15], B ∈ [0, 1e15], |lf| ≤ 200).
 * So fL > topP + cdfAbs + 1e-9 gives lower_r > topP + cdfAbs (F_max flag 0) and fU > topP − cdfAbs +
 * 1e-9 gives upper_r > topP − cdfAbs (F_min flag 0) for every r ≥ R. The certificate holds a few ranks
 * after the nucleus boundary, so only the nucleus and its slack boundary are walked.
 */
function topPSlack(
  logits: Logits,
  cfg: DecodingConfig,
  scan: LogitScan,
  delta: number,
  cdfAbs: number,
  kept: Kept,
): { fMin: Uint8Array; fMax: Uint8Array } {
  const V = logits.length;
  const T = cfg.temperature;
  const ord = kept.order ?? canonicalOrder(logits);
  const N = ord.length;
  let w = kept.weights;
  let cum = kept.cum;
  if (!w || !cum || w.length !== N) {
    w = new Float64Array(N);
    cum = new Float64Array(N + 1);
    for (let r = 0; r < N; r++) {
      w[r] = Math.exp((logits[ord[r]!]! - scan.max) / T);
      cum[r + 1] = cum[r]! + w[r]!;
    }
  }
  const fMin = new Uint8Array(V);
  const fMax = new Uint8Array(V);
  const s = 2 * delta;
  const Z = cum[N]!;
  const lf = (2 * delta) / T;
  const eUp = Math.exp(lf);
  const eDown = Math.exp(-lf);
  const targetMin = cfg.topP - cdfAbs;
  const targetMax = cfg.topP + cdfAbs;
  const certify = Math.abs(lf) <= 200 && Z <= 1e15;
  let js = 0;
  let jp = 0;
  for (let r = 0; r < N; r++) {
    const lt = logits[ord[r]!]!;
    let s0 = r;
    let p1 = r + 1;
    if (delta > 0) {
      while (js < N && logits[ord[js]!]! > lt + s) js++;
      while (jp < N && logits[ord[jp]!]! > lt - s) jp++;
      s0 = js;
      p1 = Math.max(jp, r + 1);
    }
    if (certify) {
      const aL = cum[s0]!;
      const aU = cum[r]!;
      if (aL >= 1e-200) {
        const bL = (Z - aL) * (1 + 1e-13) + 1e-13 * Z;
        const bU = (Z - aU) * (1 + 1e-13) + 1e-13 * Z;
        const fL = (aL * eDown) / (aL * eDown + bL);
        const fU = (aU * eUp) / (aU * eUp + bU);
        if (fL > targetMax + SHIFTED_MARGIN && fU > targetMin + SHIFTED_MARGIN) break;
      }
    }
    const t = ord[r]!;
    const wt = w[r]!;
    // as in slackSets with every inK flag 1: cumMin = cumMax = cum, totMin = totMax = Z
    const aMin = cum[s0]!;
    const aMax = cum[p1]! - cum[r + 1]! + cum[r]!;
    const rMin = Z - cum[p1]!;
    const rMax = Z - cum[s0]! - wt;
    if (below(aMax, wt + rMin, lf, eUp, targetMin)) fMin[t] = 1;
    if (below(aMin, wt + rMax, -lf, eDown, targetMax)) fMax[t] = 1;
  }
  return { fMin, fMax };
}

/** Everything the check needs at one position (module comment). */
export interface TokenAnalysis {
  /** δ, the per-logit noise bound used. */
  delta: number;
  temperature: number;
  /** The verifier's own draw, its score, and the best score of the other kept tokens. */
  drawn: number;
  drawnScore: number;
  runnerUp: number;
  /** R, the threshold score: a token passes when possibly kept and s_c ≥ R − 2δ. */
  threshold: number;
  maxLogit: number;
  /** Exact kept set of the verifier's logits, and the slack sets (null = every token). */
  kept: Uint8Array | null;
  fMin: Uint8Array | null;
  fMax: Uint8Array | null;
  /** s_i of the position. */
  score(i: number): number;
}

/** The analysis of one position under `config` and `tolerance` (what checkToken and acceptedTokens use). */
export function analyseToken(
  logits: Logits,
  config: DecodingConfig,
  tokenPosition: number,
  tolerance: Partial<TokenTolerance> = {},
): TokenAnalysis {
  const tol = resolveTolerance(tolerance);
  const scan = scanLogits(logits);
  const T = config.temperature;
  const delta = deltaOf(logits, scan.max, T, tol);
  const scorer = new Scorer(logits, T, config.seed, tokenPosition);
  const kept = keptSet(logits, config, scan);
  const drawn = scorer.best(kept.flags, kept.first, true);
  const { fMin, fMax } = slackSets(logits, config, scan, delta, tol.cdfAbs, kept);
  let threshold = drawn.score;
  if (fMin !== null) {
    threshold = scorer.best(fMin, fMin[scan.argmax] ? scan.argmax : -1).score;
    // P1: tokens that can be first in the generator's canonical order (always kept)
    const minP1 = scorer.minScore(scan.max - 2 * delta);
    threshold = Math.max(threshold, minP1);
  }
  return {
    delta,
    temperature: T,
    drawn: drawn.id,
    drawnScore: drawn.score,
    runnerUp: drawn.second,
    threshold,
    maxLogit: scan.max,
    kept: kept.flags,
    fMin,
    fMax,
    score: (i) => scorer.score(i),
  };
}

/** Every token id that passes at this position, ascending (the set A of the module comment). */
export function acceptedTokens(
  logits: Logits,
  config: DecodingConfig,
  tokenPosition: number,
  tolerance: Partial<TokenTolerance> = {},
  analysis: TokenAnalysis = analyseToken(logits, config, tokenPosition, tolerance),
): number[] {
  const a = analysis;
  const cut = a.threshold - 2 * a.delta;
  const bound = a.temperature * GUMBEL_MAX;
  const out: number[] = [];
  for (let i = 0; i < logits.length; i++) {
    if (a.fMax !== null && !a.fMax[i]) continue;
    const l = logits[i]!;
    if (l === -Infinity || l + bound < cut) continue;
    if (a.score(i) >= cut) out.push(i);
  }
  return out;
}

/**
 * Upper bound on the expected number of passing tokens, over the Gumbel numbers (bound 2 of the
 * module comment: Σ_{c ∈ F_max} w_c e^ε / (w_c e^ε + Z_min − [c ∈ F_min] w_c), ε = 2δ/T); for T = 0
 * the exact (deterministic) size of the greedy near-tie set.
 */
export function acceptanceBound(logits: Logits, analysis: TokenAnalysis): number {
  const a = analysis;
  const V = logits.length;
  const T = a.temperature;
  if (T === 0) {
    let n = 0;
    for (let i = 0; i < V; i++) if (logits[i]! >= a.maxLogit - 2 * a.delta) n++;
    return n;
  }
  const eps = (2 * a.delta) / T;
  const lw = (i: number) => (logits[i]! - a.maxLogit) / T; // log weight
  let zMin = 0;
  for (let i = 0; i < V; i++) if (a.fMin === null || a.fMin[i]) zMin += Math.exp(lw(i));
  let sum = 0;
  for (let i = 0; i < V; i++) {
    if ((a.fMax !== null && !a.fMax[i]) || logits[i] === -Infinity) continue;
    if (!(zMin > 0)) {
      sum += 1;
      continue;
    }
    const inMin = a.fMin === null || a.fMin[i] === 1;
    const rest = Math.max(0, zMin - (inMin ? Math.exp(lw(i)) : 0));
    sum += 1 / (1 + Math.exp(Math.log(rest) - lw(i) - eps));
  }
  return sum;
}

export interface TokenCheck {
  /** The claimed token is accepted (exact draw or within tolerance). */
  ok: boolean;
  /** The claimed token is exactly what the verifier's own logits draw. */
  exact: boolean;
  /** The token the verifier's own logits draw. */
  drawn: number;
  /** Human-readable reason for the verdict. */
  reason: string;
  /** Clearness of the verdict on the verifier's logits (module comment). */
  margin: number;
  /** R − s_c: ≤ 2δ passes; ∞ when the token cannot be kept or is outside the vocabulary. */
  deficit: number;
  /** δ used at this position. */
  delta: number;
}

/**
 * Check that `claimedToken` at sequence position `tokenPosition` is reproduced by the verifier's
 * logits of position `tokenPosition − 1` under `config`, tolerating logit noise δ (module comment).
 * A claimed id outside the vocabulary gives ok=false (it is a check result, not an error);
 * NaN/+Infinity logits throw SamplingError (the verifier's own replay is broken).
 */
export function checkToken(
  logits: Logits,
  config: DecodingConfig,
  tokenPosition: number,
  claimedToken: number,
  tolerance: Partial<TokenTolerance> = {},
): TokenCheck {
  const a = analyseToken(logits, config, tokenPosition, tolerance);
  const V = logits.length;
  const c = claimedToken;
  const { drawn, delta } = a;
  const fmt = (x: number) => x.toPrecision(3);
  if (!Number.isInteger(c) || c < 0 || c >= V) {
    return { ok: false, exact: false, drawn, reason: `token id ${c} outside the vocabulary (${V})`, margin: -Infinity, deficit: Infinity, delta };
  }
  const sc = a.score(c);
  const inKept = a.kept === null || a.kept[c] === 1;
  const margin = !inKept ? -Infinity : drawn === c ? sc - a.runnerUp : sc - a.drawnScore;
  const exact = drawn === c;
  const possiblyKept = a.fMax === null || a.fMax[c] === 1;
  const deficit = possiblyKept && sc !== -Infinity ? a.threshold - sc : Infinity;
  const base = { exact, drawn, margin, deficit, delta };
  const what = a.temperature === 0 ? "logit" : "score";
  if (exact) return { ok: true, ...base, reason: a.temperature === 0 ? "argmax" : "exact draw" };
  if (!possiblyKept) {
    return { ok: false, ...base, reason: `token ${c} is outside the top-k/top-p set even with slack δ = ${fmt(delta)}; drew ${drawn}` };
  }
  if (deficit <= 2 * delta) {
    return { ok: true, ...base, reason: `near-tie: ${what} ${fmt(deficit)} below the threshold (2δ = ${fmt(2 * delta)})` };
  }
  return { ok: false, ...base, reason: `${what} ${fmt(deficit)} below the threshold (2δ = ${fmt(2 * delta)}); drew ${drawn}` };
}
