/**
 * Checks and the match bitmap (docs/PROTOCOL.md "Positions, checks and the match bitmap").
 *
 * Checks, in canonical order: one per KV sample (receipt order, i.e. sorted by (position, layer)),
 * then one token check per generated token. The bitmap has ceil(numChecks / 8) bytes; check i is bit
 * 7 − (i mod 8) of byte floor(i / 8) (MSB first); unused trailing bits are 0.
 */
import { getBytes, hexlify, isHexString } from "ethers";
import type { Hex } from "../sampling/bytes.js";
import { BitmapError } from "./errors.js";

/** numChecks = samples.length + outputTokens.length (what the generator commits on-chain). */
export function numChecks(receipt: { samples: readonly unknown[]; outputTokens: ArrayLike<number> }): number {
  return receipt.samples.length + receipt.outputTokens.length;
}

/** Byte length of the bitmap for `n` checks. */
export function bitmapByteLength(n: number): number {
  checkCount(n);
  return Math.ceil(n / 8);
}

function checkCount(n: number): void {
  if (!Number.isInteger(n) || n < 0 || n > 0xffff_ffff) throw new BitmapError(`numChecks must be a uint32, got ${n}`);
}

/** Pack check results (true = matched) MSB-first. */
export function encodeBitmap(bits: readonly boolean[]): Uint8Array {
  checkCount(bits.length);
  const out = new Uint8Array(Math.ceil(bits.length / 8));
  for (let i = 0; i < bits.length; i++) if (bits[i]) out[i >> 3]! |= 0x80 >> (i & 7);
  return out;
}

/** Unpack a bitmap of `n` checks; rejects a wrong length or nonzero unused bits. */
export function decodeBitmap(bytes: Uint8Array, n: number): boolean[] {
  const len = bitmapByteLength(n);
  if (bytes.length !== len) throw new BitmapError(`bitmap for ${n} checks must have ${len} bytes, got ${bytes.length}`);
  const used = n & 7;
  if (used !== 0 && (bytes[len - 1]! & (0xff >> used)) !== 0) {
    throw new BitmapError(`bitmap has nonzero unused trailing bits`, { details: `last byte 0x${bytes[len - 1]!.toString(16).padStart(2, "0")}, ${used} bits used` });
  }
  const bits: boolean[] = new Array(n);
  for (let i = 0; i < n; i++) bits[i] = (bytes[i >> 3]! & (0x80 >> (i & 7))) !== 0;
  return bits;
}

/** The generator's claim: every one of `n` checks matched. */
export function allMatchedBitmap(n: number): Uint8Array {
  const len = bitmapByteLength(n);
  const out = new Uint8Array(len).fill(0xff);
  const used = n & 7;
  if (used !== 0) out[len - 1] = (0xff << (8 - used)) & 0xff;
  return out;
}

/** Whether a bitmap says every check matched. */
export function isAllMatched(bytes: Uint8Array, n: number): boolean {
  return decodeBitmap(bytes, n).every(Boolean);
}

/** 0x-prefixed lowercase hex of a bitmap (the `bytes` argument of revealResult). */
export function bitmapToHex(bytes: Uint8Array): Hex {
  return hexlify(bytes) as Hex;
}

/** Parse a 0x-hex bitmap for `n` checks (validated like `decodeBitmap`). */
export function bitmapFromHex(hex: string, n: number): Uint8Array {
  if (!isHexString(hex) || hex.length % 2 !== 0) throw new BitmapError(`not a 0x-prefixed even-length hex string: ${hex.slice(0, 20)}`);
  const bytes = getBytes(hex);
  decodeBitmap(bytes, n);
  return bytes;
}

/** Set bits of a 0x-hex bitmap: its matched checks (unused trailing bits are zero by the layout). */
export function matchedCountOfHex(hex: string): number {
  let n = 0;
  for (const b of getBytes(hex)) for (let v = b; v; v &= v - 1) n++;
  return n;
}

/** Indices of matched checks (the on-chain result in index form). */
export function matchedIndices(bytes: Uint8Array, n: number): number[] {
  const out: number[] = [];
  decodeBitmap(bytes, n).forEach((b, i) => b && out.push(i));
  return out;
}
