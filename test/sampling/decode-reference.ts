/**
 * Frozen reference: the decoding draw and token check of offchain/sampling/decode.ts as of commit
 * 8295b25 (before the top-p / Gumbel-bucket speed-ups), copied verbatim except for the imports, the
 * config schema (the type is imported) and an inlined copy of the version-1 Gumbel noise. Used only by
 * test/sampling/decode-diff.test.ts to show that the fast implementation decides exactly the same.
 * Do not optimise this file.
 */
import { SamplingError } from "../../offchain/sampling/errors.js";
import type { DecodingConfig } from "../../offchain/sampling/decode.js";
import { GUMBEL_MAX, GUMBEL_SPAN, type GumbelKey, gumbelKey } from "../../offchain/sampling/gumbel.js";

// gumbel.ts (version 1) as of the same commit
function lowbias32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}
function gumbelUniform(key: GumbelKey, id: number): number {
  const a = lowbias32(lowbias32(id ^ key[0]!) ^ key[1]!);
  const b = lowbias32(a ^ key[2]!);
  return (a * 2 ** 20 + (b >>> 12) + 0.5) / 2 ** 52;
}
function gumbelNoise(key: GumbelKey, id: number): number {
  return -Math.log(-Math.log(gumbelUniform(key, id)));
}

/** Logits for one position: fp32 values, one per vocabulary entry (a view into a larger tensor is fine). */
export type Logits = ArrayLike<number>;

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

/** Canonical comparison: logit descending, then id ascending. */
function canonicalCompare(logits: Logits, a: number, b: number): number {
  const la = logits[a]!;
  const lb = logits[b]!;
  return la > lb ? -1 : la < lb ? 1 : a - b;
}

const FAST_ID_BITS = 21;
const FAST_IDS = 2 ** FAST_ID_BITS;
const f32Buf = new Float32Array(1);
const u32Buf = new Uint32Array(f32Buf.buffer);

/**
 * Token ids in canonical order (logit descending, id ascending); `ids` restricts it to a subset.
 * For Float32Array logits and vocabularies up to 2^21 it sorts exact 53-bit integer keys
 * (order-preserving f32 bits · 2^21 + id) natively, ~10× faster than a comparator sort.
 */
export function canonicalOrder(logits: Logits, ids?: ArrayLike<number>): Uint32Array {
  const n = ids ? ids.length : logits.length;
  if (logits instanceof Float32Array && logits.length <= FAST_IDS) {
    const keys = new Float64Array(n);
    for (let j = 0; j < n; j++) {
      const i = ids ? ids[j]! : j;
      const x = logits[i]!;
      f32Buf[0] = x === 0 ? 0 : x; // −0 ties with +0
      const b = u32Buf[0]!;
      const asc = b & 0x8000_0000 ? ~b >>> 0 : (b | 0x8000_0000) >>> 0; // ascending with the value
      keys[j] = (0xffff_ffff - asc) * FAST_IDS + i;
    }
    keys.sort();
    const out = new Uint32Array(n);
    for (let j = 0; j < n; j++) out[j] = keys[j]! % FAST_IDS;
    return out;
  }
  const out = new Uint32Array(n);
  for (let j = 0; j < n; j++) out[j] = ids ? ids[j]! : j;
  return out.sort((a, b) => canonicalCompare(logits, a, b));
}

/** The first k token ids of the canonical order (O(V log k) with a bounded heap). */
export function topKCanonical(logits: Logits, k: number): Uint32Array {
  const V = logits.length;
  if (k >= V) return canonicalOrder(logits);
  // Max-heap by canonical position: the root is the "worst" kept token (last in canonical order).
  const heap = new Uint32Array(k);
  let size = 0;
  const worse = (a: number, b: number) => canonicalCompare(logits, a, b) > 0;
  const siftUp = (i: number) => {
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!worse(heap[i]!, heap[p]!)) break;
      [heap[i], heap[p]] = [heap[p]!, heap[i]!];
      i = p;
    }
  };
  const siftDown = (i: number) => {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < size && worse(heap[l]!, heap[m]!)) m = l;
      if (r < size && worse(heap[r]!, heap[m]!)) m = r;
      if (m === i) break;
      [heap[i], heap[m]] = [heap[m]!, heap[i]!];
      i = m;
    }
  };
  for (let i = 0; i < V; i++) {
    if (size < k) {
      heap[size++] = i;
      siftUp(size - 1);
    } else if (worse(heap[0]!, i)) {
      heap[0] = i;
      siftDown(0);
    }
  }
  return heap.sort((a, b) => canonicalCompare(logits, a, b));
}

/** The exact kept set F: `null` = every token; `first` = the first kept token in canonical order. */
interface Kept {
  flags: Uint8Array | null;
  first: number;
  /** The full canonical order, when it was computed (top-p without top-k). */
  order?: Uint32Array;
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
  let kept = order ?? topKCanonical(logits, cfg.topK);
  if (useP) {
    const T = cfg.temperature;
    let Z = 0;
    for (const t of kept) Z += Math.exp((logits[t]! - scan.max) / T);
    const threshold = cfg.topP * Z;
    let cum = 0;
    let m = 0;
    for (const t of kept) {
      if (!(cum < threshold)) break;
      cum += Math.exp((logits[t]! - scan.max) / T);
      m++;
    }
    kept = kept.subarray(0, Math.max(1, m));
  }
  const flags = new Uint8Array(V);
  for (const t of kept) flags[t] = 1;
  return { flags, first: kept[0]!, ...(order ? { order } : {}) };
}

/** Scores s_i = l_i + T·g_i of one position (T = 0: s_i = l_i). */
class Scorer {
  readonly #logits: Logits;
  readonly #T: number;
  readonly #key: GumbelKey | null;
  /** fl(T · G_MAX): s_i ≤ l_i + bound for every i. */
  readonly bound: number;
  constructor(logits: Logits, T: number, seed: bigint, tokenPosition: number) {
    this.#logits = logits;
    this.#T = T;
    this.#key = T > 0 ? gumbelKey(seed, tokenPosition) : null;
    this.bound = T * GUMBEL_MAX;
  }
  score(i: number): number {
    const l = this.#logits[i]!;
    return this.#key === null || l === -Infinity ? l : l + this.#T * gumbelNoise(this.#key, i);
  }
  /**
   * Exact argmax of s over the tokens with `flags[i]` (all when null), and the runner-up (the argmax
   * of the others); ties to the lowest id. `start` (a member) is scored first so that the upper bound
   * `l_i + T·G_MAX` prunes the rest: a token that cannot beat the runner-up is never hashed.
   */
  best(flags: Uint8Array | null, start: number, withSecond = false): { id: number; score: number; second: number } {
    const logits = this.#logits;
    const V = logits.length;
    const b = this.bound;
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
      if (ub < floor || (ub === floor && i > (withSecond ? id2 : id))) continue;
      const s = this.score(i);
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

/** Fraction A/(A+B) after multiplying A by e^{lf} (0 when A = 0, 1 when B = 0). */
function shifted(A: number, B: number, lf: number): number {
  if (!(A > 0)) return 0;
  return 1 / (1 + Math.exp(Math.log(B) - Math.log(A) - lf));
}

/** Surely-kept (F_min) and possibly-kept (F_max) flags under per-logit noise δ; null = every token. */
function slackSets(
  logits: Logits,
  cfg: DecodingConfig,
  scan: LogitScan,
  delta: number,
  cdfAbs: number,
  order?: Uint32Array,
): { fMin: Uint8Array | null; fMax: Uint8Array | null } {
  const V = logits.length;
  const useK = useTopK(cfg, V);
  const useP = useTopP(cfg);
  if (!useK && !useP) return { fMin: null, fMax: null };
  const fMin = new Uint8Array(V);
  const fMax = new Uint8Array(V);
  const k = useK ? cfg.topK : V;
  const s = 2 * delta;
  let ord: Uint32Array;
  if (useK) {
    // only tokens with l ≥ L_k − 2s can be possibly ahead-ranked into the top k
    const top = topKCanonical(logits, k);
    const floor = logits[top[k - 1]!]! - 2 * s;
    const cand: number[] = [];
    for (let i = 0; i < V; i++) if (logits[i]! >= floor) cand.push(i);
    ord = canonicalOrder(logits, cand);
  } else {
    ord = order ?? canonicalOrder(logits);
  }
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
    const lower = shifted(aMin, wt + rMax, -lf);
    const upper = shifted(aMax, wt + rMin, lf);
    if (inKMin[r] && upper < cfg.topP - cdfAbs) fMin[t] = 1;
    if (inKMax[r] && lower < cfg.topP + cdfAbs) fMax[t] = 1;
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
  const { fMin, fMax } = slackSets(logits, config, scan, delta, tol.cdfAbs, kept.order);
  let threshold = drawn.score;
  if (fMin !== null) {
    threshold = scorer.best(fMin, fMin[scan.argmax] ? scan.argmax : -1).score;
    // P1: tokens that can be first in the generator's canonical order (always kept)
    let minP1 = Infinity;
    const floor = scan.max - 2 * delta;
    for (let i = 0; i < logits.length; i++) if (logits[i]! >= floor) minP1 = Math.min(minP1, scorer.score(i));
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
