/**
 * IEEE 754 binary16 conversion (no Float16Array in Node 22 without a flag).
 *
 * `f32ToF16Bits` rounds a float32 value to the nearest binary16 value, ties to even, exactly like a
 * hardware conversion: values beyond the largest half (65504) round to ±Infinity once they reach
 * 65520, tiny values become subnormals or ±0, NaN maps to a quiet NaN (0x7e00 with the sign).
 * `f16BitsToF32` is exact (every half is a float32).
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The binary16 bits of `x` (first rounded to float32), round-to-nearest-even. */
export function f32ToF16Bits(x: number): number {
  f32[0] = x;
  const b = u32[0]!;
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  let mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // ±Infinity or NaN
  const e = exp - 127 + 15; // biased half exponent
  if (e >= 0x1f) return sign | 0x7c00; // overflow
  if (e <= 0) {
    // Subnormal half (or zero): value = m · 2^-24 with m = M · 2^(e-14), M the 24-bit significand.
    if (e < -10) return sign; // below half the smallest subnormal: rounds to ±0
    mant |= 0x800000;
    const shift = 14 - e; // 14 … 24
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && (half & 1) === 1)) half++; // may carry into the smallest normal
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1) === 1)) half++; // a carry may reach Infinity: correct
  return sign | half;
}

/** The value of binary16 bits `h` (exact). */
export function f16BitsToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 0x1f) return m ? NaN : sign * Infinity;
  return sign * (1024 + m) * 2 ** (e - 25);
}

/** `x` rounded to the nearest binary16 value (ties to even), as a number. */
export function roundToF16(x: number): number {
  return f16BitsToF32(f32ToF16Bits(x));
}

/** Largest finite binary16 value. */
export const F16_MAX = 65504;
