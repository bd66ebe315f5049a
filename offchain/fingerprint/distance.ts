/** Hamming distance of two fingerprints and the match rule (distance ≤ FINGERPRINT_TOLERANCE). */
import { parseFingerprint } from "./parse.js";

/** Largest Hamming distance (bits of 256) at which two fingerprints match. */
export const FINGERPRINT_TOLERANCE = 32;

const popcount8 = (x: number) => {
  let c = 0;
  for (let v = x; v; v &= v - 1) c++;
  return c;
};

/** popcount(a xor b) of two bytes32 fingerprints (throws FingerprintError when malformed). */
export function fingerprintDistance(a: string, b: string): number {
  const x = Buffer.from(parseFingerprint(a).slice(2), "hex");
  const y = Buffer.from(parseFingerprint(b).slice(2), "hex");
  let d = 0;
  for (let i = 0; i < 32; i++) d += popcount8(x[i]! ^ y[i]!);
  return d;
}

/** The pool's rule: distance ≤ FINGERPRINT_TOLERANCE. */
export function fingerprintsMatch(a: string, b: string): boolean {
  return fingerprintDistance(a, b) <= FINGERPRINT_TOLERANCE;
}
