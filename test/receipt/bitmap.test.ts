import { expect } from "chai";
import {
  BitmapError,
  allMatchedBitmap,
  bitmapByteLength,
  bitmapFromHex,
  bitmapToHex,
  decodeBitmap,
  encodeBitmap,
  isAllMatched,
  matchedIndices,
  numChecks,
} from "../../offchain/receipt/index.js";
import { mulberry32 } from "../sampling/prng.js";
import { makeReceipt } from "./helpers.js";

describe("receipt/bitmap: checks and the match bitmap", function () {
  this.timeout(60_000);
  it("numChecks = samples + generated tokens", () => {
    const r = makeReceipt();
    expect(numChecks(r)).to.equal(r.samples.length + r.outputTokens.length);
  });

  it("uses the canonical bit order: check i is bit 7 − (i mod 8) of byte floor(i / 8)", () => {
    expect(bitmapToHex(encodeBitmap([true]))).to.equal("0x80");
    expect(bitmapToHex(encodeBitmap([false, true]))).to.equal("0x40");
    expect(bitmapToHex(encodeBitmap([...new Array(7).fill(false), true]))).to.equal("0x01");
    const bits = new Array(10).fill(false);
    bits[9] = true;
    expect(bitmapToHex(encodeBitmap(bits))).to.equal("0x0040");
    expect(bitmapToHex(encodeBitmap([]))).to.equal("0x");
    expect(bitmapToHex(allMatchedBitmap(10))).to.equal("0xffc0");
    expect(bitmapToHex(allMatchedBitmap(16))).to.equal("0xffff");
    expect(bitmapToHex(allMatchedBitmap(0))).to.equal("0x");
    expect(bitmapByteLength(17)).to.equal(3);
  });

  it("round-trips random bitmaps of every length up to 70", () => {
    const rand = mulberry32(5);
    for (let n = 0; n <= 70; n++) {
      const bits = Array.from({ length: n }, () => rand() < 0.5);
      const bytes = encodeBitmap(bits);
      expect(bytes.length).to.equal(Math.ceil(n / 8));
      expect(decodeBitmap(bytes, n)).to.deep.equal(bits);
      expect(bitmapFromHex(bitmapToHex(bytes), n)).to.deep.equal(bytes);
      expect(matchedIndices(bytes, n)).to.deep.equal(bits.flatMap((b, i) => (b ? [i] : [])));
      expect(isAllMatched(allMatchedBitmap(n), n)).to.equal(true);
      expect(decodeBitmap(allMatchedBitmap(n), n).every(Boolean)).to.equal(true);
      if (n > 0) expect(isAllMatched(encodeBitmap(bits.map((_, i) => i !== n - 1)), n)).to.equal(false);
    }
  });

  it("rejects a wrong length or nonzero unused bits", () => {
    expect(() => decodeBitmap(new Uint8Array(2), 17)).to.throw(BitmapError, /3 bytes/);
    expect(() => decodeBitmap(new Uint8Array(3), 16)).to.throw(BitmapError, /2 bytes/);
    expect(() => decodeBitmap(Uint8Array.from([0xff, 0xe0]), 10)).to.throw(BitmapError, /unused trailing bits/);
    expect(() => decodeBitmap(Uint8Array.from([0x01]), 7)).to.throw(BitmapError, /unused/);
    expect(decodeBitmap(Uint8Array.from([0x02]), 7)[6]).to.equal(true);
    expect(() => bitmapFromHex("0xffe0", 10)).to.throw(BitmapError);
    expect(() => bitmapFromHex("ffc0", 10)).to.throw(BitmapError, /hex/);
    expect(() => bitmapFromHex("0xffc", 10)).to.throw(BitmapError, /hex/);
    expect(() => allMatchedBitmap(-1)).to.throw(BitmapError);
    expect(() => allMatchedBitmap(1.5)).to.throw(BitmapError);
  });
});
