/**
 * Counter-based random numbers: every draw is a pure function of (domain, key, counter), so the draw
 * for any position can be recomputed on its own, in any order, on any machine.
 *
 * Construction (version 1):
 *
 *     digest = keccak256(domain ‖ key ‖ uint64_be(counter))
 *     u      = (uint64_be(digest[0..8]) >> 11) / 2^53            ∈ [0, 1), 53 random bits
 *
 * `domain` is an ASCII tag (no length prefix; every tag in this module is a fixed constant), `key`
 * fixed-width bytes. The result is exactly representable as a float64 (a multiple of 2^-53), so the
 * same inputs give the same number everywhere; a contract recomputes it as
 * `uint256(keccak256(abi.encodePacked(domain, key, uint64(counter)))) >> 203` (the top 53 bits).
 *
 * `decodeUniform`: domain `"poc.decode.v1"`, key `uint64_be(seed)`, counter = the sequence position of
 * the token being drawn (prompt positions count; output token i is at position promptLen + i and is
 * drawn from the logits at position promptLen + i - 1). The decoding draw itself uses the per-token
 * Gumbel numbers of `gumbel.ts` (same position convention, domain `"poc.gumbel.v1"`).
 */
import { SamplingError } from "./errors.js";
import { concatBytes, keccakBytes, tagBytes, uintBE } from "./bytes.js";

/** Domain tag of the decoding draw. */
export const DECODE_DOMAIN = "poc.decode.v1";

const TWO_POW_53 = 2 ** 53;
const U64_MAX = (1n << 64n) - 1n;

/** The top 53 bits of a 32-byte digest as a uniform number in [0, 1). */
export function digestToUniform(digest: Uint8Array): number {
  if (digest.length < 8) throw new RangeError("digest shorter than 8 bytes");
  const view = new DataView(digest.buffer, digest.byteOffset, 8);
  return Number(view.getBigUint64(0, false) >> 11n) / TWO_POW_53;
}

/** keccak256(domain ‖ key ‖ uint64_be(counter)) mapped to [0, 1) (see the module comment). */
export function counterUniform(domain: string, key: Uint8Array, counter: bigint | number): number {
  const c = BigInt(counter);
  if (c < 0n || c > U64_MAX) throw new SamplingError(`RNG counter out of range: ${counter}`);
  return digestToUniform(keccakBytes(concatBytes(tagBytes(domain), key, uintBE(c, 8))));
}

/** Parse a uint64 seed given as bigint, safe integer or decimal string. */
export function toSeed64(seed: bigint | number | string): bigint {
  let v: bigint;
  if (typeof seed === "bigint") v = seed;
  else if (typeof seed === "number") {
    if (!Number.isSafeInteger(seed)) throw new SamplingError(`seed must be an integer, got ${seed}`);
    v = BigInt(seed);
  } else {
    if (!/^[0-9]+$/.test(seed)) throw new SamplingError(`seed must be a decimal uint64, got "${seed}"`);
    v = BigInt(seed);
  }
  if (v < 0n || v > U64_MAX) throw new SamplingError(`seed out of uint64 range: ${v}`);
  return v;
}

/**
 * The uniform number in [0, 1) for drawing the token at sequence position `tokenPosition` under
 * decoding seed `seed`.
 */
export function decodeUniform(seed: bigint | number | string, tokenPosition: number): number {
  if (!Number.isSafeInteger(tokenPosition) || tokenPosition < 0) {
    throw new SamplingError(`token position must be a non-negative integer, got ${tokenPosition}`);
  }
  return counterUniform(DECODE_DOMAIN, uintBE(toSeed64(seed), 8), tokenPosition);
}
