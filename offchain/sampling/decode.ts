/**
 * The decoding draw (generator) and the token check (verifier).
 *
 * ## Draw (`drawToken`), exact definition
 * Input: the fp32 logits `l[0..V)` at sequence position `tokenPosition - 1`, the decoding config and
 * `tokenPosition` (the position the drawn token will occupy; output token i has position promptLen + i).
 *
 * - **Greedy** (`temperature == 0`): argmax of `l`, ties to the lowest token id. top-k/top-p are ignored.
 * - **Sampling** (`temperature = T > 0`), all arithmetic in float64:
 *   1. weights `w_i = exp((l_i - max_j l_j) / T)` (a −∞ logit has weight 0);
 *   2. canonical order: logit descending, then token id ascending;
 *   3. top-k (`topK > 0`): keep the first `topK` tokens of the canonical order;
 *   4. top-p (`topP < 1`): with `Z` = sum of the kept weights (summed in canonical order), walk the
 *      kept tokens in canonical order and keep token t iff the sum of the weights before it is
 *      `< topP * Z` (the smallest prefix whose mass reaches topP; the first token is always kept);
 *   5. inverse CDF **in token-id order** over the kept set F: `u = decodeUniform(seed, tokenPosition)`,
 *      `target = u * Σ_F w` (sum in id order); the drawn token is the first id (ascending) whose
 *      running weight sum exceeds `target` (if rounding leaves none, the last kept id of positive weight).
 *
 *   The id-order CDF (rather than canonical order) makes the check robust: two tokens with nearly equal
 *   probability that swap places under numerical noise do not move every interval after them.
 *
 * ## Check (`checkToken`), tolerance rule
 * `δ = logitAbs + logitRel * max_i |l_i|` is the assumed bound on |replayed logit − generator's logit|
 * for each token (finite logits only). A claimed token passes when it is the exact draw on the
 * verifier's logits, or when:
 * - greedy: `l_c >= max_i l_i − 2δ` (a near-tie within the noise of a difference of two logits);
 * - sampling: with slack `s = 2δ` on every logit comparison and `εu = cdfAbs + tanh(δ / (2T))` on every
 *   cumulative probability (the largest shift of a CDF boundary when each logit moves by ≤ δ):
 *   - the claimed token is *possibly* in the top-k (fewer than k tokens have a logit > l_c + s) and
 *     *possibly* in the nucleus (the smallest mass that could precede it is `< topP + εu`);
 *   - u lies in the hull of the claimed token's id-order interval over every kept set between the
 *     *surely kept* set F_min and the *possibly kept* set F_max, widened by εu:
 *     `A_min/(A_min + w_c + B_max) − εu <= u < (A_max + w_c)/(A_max + w_c + B_min) + εu`,
 *     where A_* / B_* are the weights of F_min / F_max tokens with ids below / above c.
 *
 * `margin` reports how clear the verdict was on the verifier's own logits: greedy — `l_c − max_{i≠c} l_i`
 * (> 0: a strict winner); sampling — `min(u − lo, hi − u)` for c's exact interval [lo, hi) (negative when
 * u falls outside it; −Infinity when c is not in the exact kept set).
 */
import { z } from "zod";
import { SamplingError, formatIssues } from "./errors.js";
import { decodeUniform, toSeed64 } from "./rng.js";

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

/** Logits for one position: fp32 values, one per vocabulary entry (a view into a larger tensor is fine). */
export type Logits = ArrayLike<number>;

interface LogitScan {
  max: number;
  argmax: number;
  absMax: number;
}

function scanLogits(logits: Logits): LogitScan {
  const V = logits.length;
  if (V === 0) throw new SamplingError("empty logits");
  let max = -Infinity;
  let argmax = -1;
  let absMax = 0;
  for (let i = 0; i < V; i++) {
    const x = logits[i]!;
    if (Number.isNaN(x) || x === Infinity) {
      throw new SamplingError("logits contain NaN or +Infinity", { details: `logit ${i} is ${x}` });
    }
    if (x > max) {
      max = x;
      argmax = i;
    }
    if (x !== -Infinity && Math.abs(x) > absMax) absMax = Math.abs(x);
  }
  if (argmax < 0) throw new SamplingError("all logits are -Infinity");
  return { max, argmax, absMax };
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

function weights(logits: Logits, max: number, temperature: number): Float64Array {
  const w = new Float64Array(logits.length);
  for (let i = 0; i < w.length; i++) w[i] = Math.exp((logits[i]! - max) / temperature);
  return w;
}

interface KeptSet {
  /** Kept token ids, ascending. */
  ids: Uint32Array;
  /** Weights of every token (index = token id). */
  w: Float64Array;
  /** The full canonical order, when it was computed. */
  order?: Uint32Array;
}

/** Steps 1–4 of the draw: the kept set F (ids ascending) and the weights. */
function keptSet(logits: Logits, cfg: DecodingConfig, scan: LogitScan): KeptSet {
  const V = logits.length;
  const w = weights(logits, scan.max, cfg.temperature);
  const useK = cfg.topK > 0 && cfg.topK < V;
  const useP = cfg.topP < 1;
  if (!useK && !useP) {
    const ids = new Uint32Array(V);
    for (let i = 0; i < V; i++) ids[i] = i;
    return { ids, w };
  }
  const order = useK ? undefined : canonicalOrder(logits);
  let kept = order ?? topKCanonical(logits, cfg.topK);
  if (useP) {
    let Z = 0;
    for (const t of kept) Z += w[t]!;
    const threshold = cfg.topP * Z;
    let cum = 0;
    let m = 0;
    for (const t of kept) {
      if (!(cum < threshold)) break;
      cum += w[t]!;
      m++;
    }
    kept = kept.slice(0, m);
  }
  return { ids: kept.slice().sort(), w, ...(order ? { order } : {}) };
}

/** Step 5: inverse CDF in id order. */
function pick(set: KeptSet, u: number): number {
  let total = 0;
  for (const t of set.ids) total += set.w[t]!;
  const target = u * total;
  let cum = 0;
  let last = -1;
  for (const t of set.ids) {
    const wt = set.w[t]!;
    if (wt > 0) last = t;
    cum += wt;
    if (target < cum) return t;
  }
  return last;
}

/** [lo, hi) of token c in the id-order CDF of the kept set, or null when c is not kept. */
function interval(set: KeptSet, c: number): [number, number] | null {
  let total = 0;
  let before = 0;
  let found = false;
  for (const t of set.ids) {
    if (t === c) found = true;
    else if (!found) before += set.w[t]!;
    total += set.w[t]!;
  }
  if (!found) return null;
  return [before / total, (before + set.w[c]!) / total];
}

/**
 * Draw the token for sequence position `tokenPosition` from the logits of position `tokenPosition − 1`.
 * Throws SamplingError on NaN/+Infinity logits, all −Infinity, or a bad position.
 */
export function drawToken(logits: Logits, config: DecodingConfig, tokenPosition: number): number {
  const scan = scanLogits(logits);
  if (config.temperature === 0) return scan.argmax;
  const u = decodeUniform(config.seed, tokenPosition);
  return pick(keptSet(logits, config, scan), u);
}

/** Tolerances of `checkToken` (see the module comment). */
export interface TokenTolerance {
  /** Absolute part of δ, the per-logit noise bound, in logit units. */
  logitAbs: number;
  /** Relative part of δ, times the largest |logit|. */
  logitRel: number;
  /** Extra absolute slack on cumulative probabilities (float rounding). */
  cdfAbs: number;
}

/**
 * Defaults for fp32 replays across thread counts and execution providers: δ = 1e-3 + 1e-3·max|l|.
 * Raise them for fp16 models (the verifier's calibration step measures the real noise).
 */
export const DEFAULT_TOKEN_TOLERANCE: Readonly<TokenTolerance> = Object.freeze({
  logitAbs: 1e-3,
  logitRel: 1e-3,
  cdfAbs: 1e-6,
});

export interface TokenCheck {
  /** The claimed token is accepted (exact draw or within tolerance). */
  ok: boolean;
  /** The claimed token is exactly what the verifier's own logits draw. */
  exact: boolean;
  /** The token the verifier's own logits draw. */
  drawn: number;
  /** Human-readable reason for the verdict. */
  reason: string;
  /** Clearness of the verdict on the verifier's logits (see the module comment). */
  margin: number;
}

/**
 * Check that `claimedToken` at sequence position `tokenPosition` is reproduced by the verifier's
 * logits of position `tokenPosition − 1` under `config`, tolerating numerical near-ties.
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
  const tol = { ...DEFAULT_TOKEN_TOLERANCE, ...tolerance };
  if (!(tol.logitAbs >= 0 && tol.logitRel >= 0 && tol.cdfAbs >= 0)) {
    throw new SamplingError("token tolerances must be non-negative numbers", { details: JSON.stringify(tol) });
  }
  const scan = scanLogits(logits);
  const V = logits.length;
  const delta = tol.logitAbs + tol.logitRel * scan.absMax;
  const c = claimedToken;

  if (config.temperature === 0) {
    const drawn = scan.argmax;
    if (!Number.isInteger(c) || c < 0 || c >= V) {
      return { ok: false, exact: false, drawn, reason: `token id ${c} outside the vocabulary (${V})`, margin: -Infinity };
    }
    let other = -Infinity;
    for (let i = 0; i < V; i++) if (i !== c && logits[i]! > other) other = logits[i]!;
    const lc = logits[c]!;
    const margin = lc - other;
    if (drawn === c) return { ok: true, exact: true, drawn, reason: "argmax", margin };
    const gap = scan.max - lc;
    if (lc !== -Infinity && gap <= 2 * delta) {
      return { ok: true, exact: false, drawn, reason: `near-tie: ${gap.toPrecision(3)} below the max logit (2δ = ${(2 * delta).toPrecision(3)})`, margin };
    }
    return { ok: false, exact: false, drawn, reason: `logit ${gap.toPrecision(3)} below the max (2δ = ${(2 * delta).toPrecision(3)}); argmax is ${drawn}`, margin };
  }

  const u = decodeUniform(config.seed, tokenPosition);
  const set = keptSet(logits, config, scan);
  const drawn = pick(set, u);
  if (!Number.isInteger(c) || c < 0 || c >= V) {
    return { ok: false, exact: false, drawn, reason: `token id ${c} outside the vocabulary (${V})`, margin: -Infinity };
  }
  const iv = interval(set, c);
  const margin = iv ? Math.min(u - iv[0], iv[1] - u) : -Infinity;
  if (drawn === c) return { ok: true, exact: true, drawn, reason: "exact draw", margin };

  const T = config.temperature;
  const epsU = tol.cdfAbs + Math.tanh(delta / (2 * T));
  const { fMin, fMax } = slackSets(logits, config, set, delta, epsU);
  if (!fMax[c]) {
    return { ok: false, exact: false, drawn, reason: `token ${c} is outside the top-k/top-p set even with slack; drew ${drawn}`, margin };
  }
  let aMin = 0, aMax = 0, bMin = 0, bMax = 0;
  for (let i = 0; i < V; i++) {
    if (i === c) continue;
    const wi = set.w[i]!;
    if (i < c) {
      if (fMin[i]) aMin += wi;
      if (fMax[i]) aMax += wi;
    } else {
      if (fMin[i]) bMin += wi;
      if (fMax[i]) bMax += wi;
    }
  }
  const wc = set.w[c]!;
  const loMin = ratio(aMin, aMin + wc + bMax);
  const hiMax = ratio(aMax + wc, aMax + wc + bMin);
  if (loMin - epsU <= u && u < hiMax + epsU) {
    return { ok: true, exact: false, drawn, reason: `near-tie: u=${u.toPrecision(6)} within [${loMin.toPrecision(6)}, ${hiMax.toPrecision(6)}) ± ${epsU.toPrecision(3)}`, margin };
  }
  return { ok: false, exact: false, drawn, reason: `u=${u.toPrecision(6)} outside [${loMin.toPrecision(6)}, ${hiMax.toPrecision(6)}) ± ${epsU.toPrecision(3)}; drew ${drawn}`, margin };
}

function ratio(a: number, b: number): number {
  return a === 0 ? 0 : a / b;
}

/**
 * Surely-kept (F_min) and possibly-kept (F_max) flags per token under per-logit noise δ and CDF slack εu.
 * Ahead relations: i is surely ahead of t when l_i > l_t + 2δ, possibly ahead when l_i > l_t − 2δ
 * (with δ = 0 both reduce to the canonical order). With top-k only the tokens with
 * l ≥ L_k − 4δ (L_k = the k-th largest logit) can matter, so only those are ranked.
 */
function slackSets(
  logits: Logits,
  cfg: DecodingConfig,
  set: KeptSet,
  delta: number,
  epsU: number,
): { fMin: Uint8Array; fMax: Uint8Array } {
  const V = logits.length;
  const w = set.w;
  const fMin = new Uint8Array(V);
  const fMax = new Uint8Array(V);
  const useK = cfg.topK > 0 && cfg.topK < V;
  const useP = cfg.topP < 1;
  if (!useK && !useP) {
    fMin.fill(1);
    fMax.fill(1);
    return { fMin, fMax };
  }
  const k = useK ? cfg.topK : V;
  const s = 2 * delta;
  let ord: Uint32Array;
  if (useK) {
    const top = topKCanonical(logits, k);
    const floor = logits[top[k - 1]!]! - 2 * s;
    const cand: number[] = [];
    for (let i = 0; i < V; i++) if (logits[i]! >= floor) cand.push(i);
    ord = canonicalOrder(logits, cand);
  } else {
    ord = set.order ?? canonicalOrder(logits);
  }
  const N = ord.length;
  // For each rank r (token t = ord[r]): pS = #surely ahead (a prefix of ord), pP = end of the
  // possibly-ahead prefix (which contains t itself when δ > 0).
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
  const inKMin = new Uint8Array(N); // by rank
  const inKMax = new Uint8Array(N);
  for (let r = 0; r < N; r++) {
    const possiblyAhead = pP[r]! - 1; // excludes t itself
    inKMin[r] = possiblyAhead < k ? 1 : 0;
    inKMax[r] = pS[r]! < k ? 1 : 0;
  }
  if (!useP) {
    for (let r = 0; r < N; r++) {
      fMin[ord[r]!] = inKMin[r]!;
      fMax[ord[r]!] = inKMax[r]!;
    }
    return { fMin, fMax };
  }
  // Prefix sums (by rank) of the weights of K_min / K_max members.
  const cumMin = new Float64Array(N + 1);
  const cumMax = new Float64Array(N + 1);
  for (let r = 0; r < N; r++) {
    const wt = w[ord[r]!]!;
    cumMin[r + 1] = cumMin[r]! + (inKMin[r] ? wt : 0);
    cumMax[r + 1] = cumMax[r]! + (inKMax[r] ? wt : 0);
  }
  const totMin = cumMin[N]!;
  const totMax = cumMax[N]!;
  for (let r = 0; r < N; r++) {
    const t = ord[r]!;
    const wt = w[t]!;
    const s0 = pS[r]!;
    const p1 = pP[r]!; // possibly-ahead prefix including t
    // Bounds on the mass before t, over kept sets K with K_min ⊆ K ⊆ K_max that contain t.
    const aMin = cumMin[s0]!;
    const aMax = cumMax[p1]! - cumMax[r + 1]! + cumMax[r]!; // possibly-ahead K_max mass except t
    const rMin = totMin - cumMin[p1]!;
    const rMax = totMax - cumMax[s0]! - (inKMax[r] ? wt : 0);
    const cumLower = ratio(aMin, aMin + wt + rMax);
    const cumUpper = ratio(aMax, aMax + wt + rMin);
    if (inKMin[r] && cumUpper < cfg.topP - epsU) fMin[t] = 1;
    if (inKMax[r] && cumLower < cfg.topP + epsU) fMax[t] = 1;
  }
  return { fMin, fMax };
}
