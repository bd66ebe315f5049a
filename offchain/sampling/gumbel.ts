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

/** The uniform number u of token `id` under `key` (module comment), in [2^-53, 1 − 2^-53]. */
export function gumbelUniform(key: GumbelKey, id: number): number {
  const a = lowbias32(lowbias32(id ^ key[0]!) ^ key[1]!);
  const b = lowbias32(a ^ key[2]!);
  return (a * TWO_POW_20 + (b >>> 12) + 0.5) / TWO_POW_52;
}

/** The Gumbel number g of token `id` under `key`: −ln(−ln u). */
export function gumbelNoise(key: GumbelKey, id: number): number {
  return -Math.log(-Math.log(gumbelUniform(key, id)));
}

/** The largest value g can take: g(1 − 2^-53). */
export const GUMBEL_MAX = -Math.log(-Math.log((TWO_POW_52 - 0.5) / TWO_POW_52));
/** The smallest value g can take: g(2^-53). */
export const GUMBEL_MIN = -Math.log(-Math.log(0.5 / TWO_POW_52));
/** G_MAX − G_MIN ≈ 40.34: no score can exceed another's by more than T·GUMBEL_SPAN plus their logit gap. */
export const GUMBEL_SPAN = GUMBEL_MAX - GUMBEL_MIN;
