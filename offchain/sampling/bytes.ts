/**
 * Byte helpers shared by the counter RNG and the samplers. Every hash preimage in `sampling/` is
 * packed like Solidity's `abi.encodePacked`: ASCII domain tags, then big-endian fixed-width integers
 * and raw 32-byte values, so that a contract can recompute any draw with `keccak256(abi.encodePacked(…))`.
 */
import { getBytes, hexlify, keccak256 } from "ethers";

/** A `0x`-prefixed hex string. */
export type Hex = `0x${string}`;

const encoder = new TextEncoder();

/** ASCII/UTF-8 bytes of a domain tag. */
export function tagBytes(tag: string): Uint8Array {
  return encoder.encode(tag);
}

/** Big-endian unsigned integer of `width` bytes (abi.encodePacked of uintN). */
export function uintBE(value: bigint | number, width: number): Uint8Array {
  let v = BigInt(value);
  if (v < 0n || v >= 1n << BigInt(8 * width)) {
    throw new RangeError(`${value} does not fit in ${width} bytes`);
  }
  const out = new Uint8Array(width);
  for (let i = width - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/** Concatenate byte arrays. */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** keccak256 of bytes, as raw bytes. */
export function keccakBytes(data: Uint8Array): Uint8Array {
  return getBytes(keccak256(data));
}

/** keccak256 of bytes, as lowercase hex. */
export function keccakHex(data: Uint8Array): Hex {
  return keccak256(data) as Hex;
}

/** Big-endian unsigned integer value of a byte array. */
export function bytesToBigInt(bytes: Uint8Array): bigint {
  return BigInt(hexlify(bytes));
}

/** 32-byte hex (`0x` + 64 hex digits), any case. */
export const HEX32_RE = /^0x[0-9a-fA-F]{64}$/;

/** Bytes of a 32-byte hex value (throws RangeError when malformed). */
export function hex32Bytes(value: string): Uint8Array {
  if (!HEX32_RE.test(value)) throw new RangeError(`not a 32-byte hex value: ${value}`);
  return getBytes(value);
}
