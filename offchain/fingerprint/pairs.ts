/**
 * The (position, layer) pairs of a fingerprint seed (index.ts, spec version 1):
 *     h_i        = keccak256("poc.fingerprint.v1" ‖ uint64(seed) ‖ uint32(i))     i = 0 … 15
 *     position_i = uint64(h_i[0..8])  mod P          P = promptLen + outputLen − 1
 *     layer_i    = uint32(h_i[8..12]) mod numLayers
 * and the 32-byte key of the sign matrices, keccak256("poc.fingerprint.v1" ‖ uint64(seed)).
 */
import { bytesToBigInt, concatBytes, keccakBytes, tagBytes, uintBE, type Hex } from "../sampling/bytes.js";
import { FingerprintError } from "./errors.js";

export const FINGERPRINT_DOMAIN = "poc.fingerprint.v1";
/** Pairs per fingerprint; each gives one K byte and one V byte (32 bytes in all). */
export const FINGERPRINT_PAIRS = 16;
/** Sign bits per row (one byte). */
export const FINGERPRINT_BITS_PER_ROW = 8;
const UINT64_MAX = (1n << 64n) - 1n;

export interface FingerprintPair {
  index: number;
  position: number;
  layer: number;
}

export function checkSeed(seed: bigint): void {
  if (typeof seed !== "bigint" || seed < 0n || seed > UINT64_MAX) throw new FingerprintError(`fingerprint seed must be a uint64 (got ${String(seed)})`);
}

/** The 16 pairs of `seed` over `positions` KV positions and `numLayers` layers (module comment). */
export function fingerprintPairs(seed: bigint, positions: number, numLayers: number): FingerprintPair[] {
  checkSeed(seed);
  if (!Number.isSafeInteger(positions) || positions < 1) throw new FingerprintError(`fingerprint needs at least one KV position (got ${positions})`);
  if (!Number.isInteger(numLayers) || numLayers < 1 || numLayers > 0xffff_ffff) throw new FingerprintError(`numLayers must be a positive uint32 (got ${numLayers})`);
  const prefix = concatBytes(tagBytes(FINGERPRINT_DOMAIN), uintBE(seed, 8));
  const out: FingerprintPair[] = [];
  for (let i = 0; i < FINGERPRINT_PAIRS; i++) {
    const h = keccakBytes(concatBytes(prefix, uintBE(i, 4)));
    const position = Number(bytesToBigInt(h.subarray(0, 8)) % BigInt(positions));
    const layer = Number(bytesToBigInt(h.subarray(8, 12)) % BigInt(numLayers));
    out.push({ index: i, position, layer });
  }
  return out;
}

/** The projection seed of the sign matrices: 0x-hex of keccak256("poc.fingerprint.v1" ‖ uint64(seed)). */
export function fingerprintSignSeed(seed: bigint): Hex {
  checkSeed(seed);
  const h = keccakBytes(concatBytes(tagBytes(FINGERPRINT_DOMAIN), uintBE(seed, 8)));
  return ("0x" + Buffer.from(h).toString("hex")) as Hex;
}
