/**
 * Whole-array binary16 <-> binary32 conversion for model weights and fp16 KV tensors; the scalar
 * conversion (round to nearest, ties to even) is the receipt's (`offchain/receipt/float16.ts`), so a
 * model's fp16 numbers and a receipt's are the same bits.
 */
import { f16BitsToF32, f32ToF16Bits } from "../receipt/float16.js";

const HALF_TABLE = (() => {
  const t = new Float32Array(65536);
  for (let i = 0; i < 65536; i++) t[i] = f16BitsToF32(i);
  return t;
})();

export function halfToFloat32(src: Uint16Array, dst: Float32Array = new Float32Array(src.length)): Float32Array {
  for (let i = 0; i < src.length; i++) dst[i] = HALF_TABLE[src[i]!]!;
  return dst;
}

export function float32ToHalf(src: ArrayLike<number>, dst: Uint16Array = new Uint16Array(src.length)): Uint16Array {
  for (let i = 0; i < src.length; i++) dst[i] = f32ToF16Bits(src[i]!);
  return dst;
}
