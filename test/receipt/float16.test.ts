import { expect } from "chai";
import { F16_MAX, f16BitsToF32, f32ToF16Bits, roundToF16 } from "../../offchain/receipt/index.js";
import { mulberry32 } from "../sampling/prng.js";

describe("receipt/float16", function () {
  this.timeout(60_000);
  it("round-trips every finite half exactly (and ±Infinity)", () => {
    for (let h = 0; h < 0x10000; h++) {
      const e = (h >>> 10) & 0x1f;
      if (e === 0x1f && (h & 0x3ff) !== 0) continue; // NaN
      expect(f32ToF16Bits(f16BitsToF32(h))).to.equal(h);
    }
    expect(Number.isNaN(f16BitsToF32(f32ToF16Bits(NaN)))).to.equal(true);
  });

  it("rounds to nearest, ties to even", () => {
    expect(roundToF16(1 + 2 ** -11)).to.equal(1); // tie → even mantissa 0
    expect(roundToF16(1 + 3 * 2 ** -11)).to.equal(1 + 2 ** -9); // tie → even mantissa 2
    expect(roundToF16(1 + 2 ** -11 + 2 ** -20)).to.equal(1 + 2 ** -10); // above the tie
    expect(f32ToF16Bits(F16_MAX)).to.equal(0x7bff);
    expect(roundToF16(65519)).to.equal(F16_MAX);
    expect(roundToF16(65520)).to.equal(Infinity); // tie with 2^16 rounds to even → overflow
    expect(roundToF16(-1e9)).to.equal(-Infinity);
    expect(f32ToF16Bits(2 ** -24)).to.equal(0x0001); // smallest subnormal
    expect(f32ToF16Bits(2 ** -25)).to.equal(0x0000); // tie → even (0)
    expect(f32ToF16Bits(1.5 * 2 ** -25)).to.equal(0x0001);
    expect(f32ToF16Bits(3 * 2 ** -25)).to.equal(0x0002); // tie between 1 and 2 → 2
    expect(f32ToF16Bits(2 ** -14 - 2 ** -26)).to.equal(0x0400); // carries into the smallest normal
    expect(f32ToF16Bits(-0)).to.equal(0x8000);
    expect(Object.is(f16BitsToF32(0x8000), -0)).to.equal(true);
  });

  it("agrees with a brute-force nearest-even reference on random float32 values", () => {
    const rand = mulberry32(7);
    const f32 = new Float32Array(1);
    const u32 = new Uint32Array(f32.buffer);
    for (let i = 0; i < 20000; i++) {
      u32[0] = Math.floor(rand() * 2 ** 32);
      const x = f32[0]!;
      if (!Number.isFinite(x) || Math.abs(x) >= 65520) continue;
      const h = f32ToF16Bits(x);
      const v = f16BitsToF32(h);
      // neighbours in magnitude
      const mag = h & 0x7fff;
      const sign = h & 0x8000;
      for (const n of [mag - 1, mag + 1]) {
        if (n < 0 || n > 0x7bff) continue;
        const w = f16BitsToF32(sign | n);
        const dv = Math.abs(x - v);
        const dw = Math.abs(x - w);
        expect(dv <= dw, `x=${x}`).to.equal(true);
        if (dv === dw) expect(mag & 1, `tie at x=${x}`).to.equal(0);
      }
    }
  });
});
