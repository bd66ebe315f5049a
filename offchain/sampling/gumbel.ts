/**
 * Counter-based Gumbel noise for the decoding draw: `g(seed, p, i)`, one standard Gumbel number per
 * (decoding seed, token position p, token id i), recomputable for any single token on its own.
 *
 * ## Definition (version 1)
 *
 *     K      = keccak256("poc.gumbel.v1" ‖ uint64_be(seed) ‖ uint64_be(p))      one hash per position
 *     k_j    = uint32_be(K[4j .. 4j+4])                                           j = 0 … 2
 *     a      = H(H(i ⊕ k0) ⊕ k1)                                                  uint32
 *     b      = H(a ⊕ k2)                                                          uint32
 *     u      = (a · 2^20 + (b >> 12) + 0.5) / 2^52                                ∈ [2^-53, 1 − 2^-53]
 *     g      = −ln(−ln u)                                                          float64
 *
 * with `H` the 32-bit integer hash "lowbias32" (x ^= x >> 16; x *= 0x7feb352d; x ^= x >> 15;
 * x *= 0x846ca68b; x ^= x >> 16, all mod 2^32, logical shifts), `i` the token id as uint32 and `ln`
 * JavaScript's `Math.log` (V8's fdlibm port; another implementation may differ by an ulp, which moves a
 * score by ~1e-16 relative — far inside the token check's tolerance). `u` is exact in float64 (a
 * 52-bit integer plus one half, over a power of two) and never 0 or 1, so `g` is finite:
 * `G_MIN = g(2^-53) ≈ −3.604` ≤ g ≤ `G_MAX = g(1 − 2^-53) ≈ 36.737`.
 *
 * Why a keyed integer hash and not one keccak per token: the draw needs a Gumbel number for every
 * token that can win at every generated position (vocabularies reach ~150k). One keccak per position
 * makes the numbers unpredictable before the seed is known; the per-token hash only has to spread
 * them uniformly (H is a bijection with near-ideal avalanche; a is a keyed bijection of the id, b
 * only refines u below 2^-32). Cost (V8, this 2-core VM, 151,936 ids): ≈ 9 ns per id for u, ≈ 57 ns for g with the two logarithms. Steering resistance does not rest on
 * the hash: the verifier recomputes every g itself, so a generator cannot choose them.
 */
import { SamplingError } from "./errors.js";
import { concatBytes, keccakBytes, tagBytes, uintBE } from "./bytes.js";
import { toSeed64 } from "./rng.js";

/** Domain tag of the per-position Gumbel key. */
export const GUMBEL_DOMAIN = "poc.gumbel.v1";

const TWO_POW_20 = 2 ** 20;
const TWO_POW_52 = 2 ** 52;

/** The 32-bit integer hash "lowbias32" (Wellons), as an unsigned 32-bit value. */
export function lowbias32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/** The per-position key: the first three big-endian uint32 words of keccak256(domain ‖ seed ‖ position). */
export type GumbelKey = Uint32Array;

export function gumbelKey(seed: bigint | number | string, tokenPosition: number): GumbelKey {
  if (!Number.isSafeInteger(tokenPosition) || tokenPosition < 0) {
    throw new SamplingError(`token position must be a non-negative integer, got ${tokenPosition}`);
  }
  const d = keccakBytes(concatBytes(tagBytes(GUMBEL_DOMAIN), uintBE(toSeed64(seed), 8), uintBE(tokenPosition, 8)));
  const dv = new DataView(d.buffer, d.byteOffset, d.byteLength);
  const k = new Uint32Array(3);
  for (let j = 0; j < 3; j++) k[j] = dv.getUint32(4 * j, false);
  return k;
}

/** The first hash word a of token `id` under `key` (module comment): the top 32 bits of u. */
export function gumbelHash(key: GumbelKey, id: number): number {
  return lowbias32(lowbias32(id ^ key[0]!) ^ key[1]!);
}

/** u from the first hash word a (`gumbelHash`): the same value as `gumbelUniform(key, id)`. */
function uniformOfHash(key: GumbelKey, a: number): number {
  const b = lowbias32(a ^ key[2]!);
  return (a * TWO_POW_20 + (b >>> 12) + 0.5) / TWO_POW_52;
}

/** The uniform number u of token `id` under `key` (module comment), in [2^-53, 1 − 2^-53]. */
export function gumbelUniform(key: GumbelKey, id: number): number {
  return uniformOfHash(key, gumbelHash(key, id));
}

/** The Gumbel number g of token `id` under `key`: −ln(−ln u). */
export function gumbelNoise(key: GumbelKey, id: number): number {
  return -Math.log(-Math.log(gumbelUniform(key, id)));
}

/** g from the first hash word a = `gumbelHash(key, id)`: bit-identical to `gumbelNoise(key, id)`. */
export function gumbelNoiseOfHash(key: GumbelKey, a: number): number {
  return -Math.log(-Math.log(uniformOfHash(key, a)));
}

/** The largest value g can take: g(1 − 2^-53). */
export const GUMBEL_MAX = -Math.log(-Math.log((TWO_POW_52 - 0.5) / TWO_POW_52));
/** The smallest value g can take: g(2^-53). */
export const GUMBEL_MIN = -Math.log(-Math.log(0.5 / TWO_POW_52));
/** G_MAX − G_MIN ≈ 40.34: no score can exceed another's by more than T·GUMBEL_SPAN plus their logit gap. */
export const GUMBEL_SPAN = GUMBEL_MAX - GUMBEL_MIN;

/**
 * Bucket bounds on g from the first hash word alone: bucket j = a >>> GUMBEL_BUCKET_SHIFT (the top 12
 * bits of u). A token in bucket j has u ∈ [j·2^-12 + 2^-53, (j+1)·2^-12 − 2^-53] (a ∈ [j·2^20,
 * (j+1)·2^20), b's 20 bits and the half below), so g(u) lies between g at the two ends. The tables hold
 * those ends widened by GUMBEL_BUCKET_SLACK = 1e-9, far more than the error of the two Math.log calls
 * (≲ 1e-14 absolute on g ∈ [G_MIN, G_MAX]), so `LOWER[j] ≤ gumbelNoise(key, id) ≤ UPPER[j]` holds for
 * the computed values, not only the exact ones. The draw uses them to skip the two logarithms of a
 * token whose score cannot matter (decode.ts, `Scorer`); they define nothing.
 */
export const GUMBEL_BUCKET_SHIFT = 20;
export const GUMBEL_BUCKETS = 2 ** (32 - GUMBEL_BUCKET_SHIFT);
export const GUMBEL_BUCKET_SLACK = 1e-9;
const bucketEnd = (a: number, b20: number) => -Math.log(-Math.log((a * TWO_POW_20 + b20 + 0.5) / TWO_POW_52));
/** UPPER[j] ≥ g of every id in bucket j. */
export const GUMBEL_BUCKET_UPPER: Float64Array = Float64Array.from({ length: GUMBEL_BUCKETS }, (_, j) =>
  bucketEnd((j + 1) * 2 ** GUMBEL_BUCKET_SHIFT - 1, 2 ** 20 - 1) + GUMBEL_BUCKET_SLACK,
);
/** LOWER[j] ≤ g of every id in bucket j. */
export const GUMBEL_BUCKET_LOWER: Float64Array = Float64Array.from({ length: GUMBEL_BUCKETS }, (_, j) =>
  bucketEnd(j * 2 ** GUMBEL_BUCKET_SHIFT, 0) - GUMBEL_BUCKET_SLACK,
);
