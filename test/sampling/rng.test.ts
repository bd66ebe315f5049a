import { expect } from "chai";
import { solidityPackedKeccak256 } from "ethers";
import { DECODE_DOMAIN, SamplingError, counterUniform, decodeUniform, toSeed64, uintBE } from "../../offchain/sampling/index.js";

/** Reference from the documented construction, via ethers' abi.encodePacked. */
function reference(seed: bigint, position: number): number {
  const h = solidityPackedKeccak256(["string", "uint64", "uint64"], [DECODE_DOMAIN, seed, position]);
  return Number(BigInt(h) >> 203n) / 2 ** 53;
}

describe("sampling/rng: counter-based RNG", function () {
  this.timeout(60_000);
  it("matches the documented construction (keccak256(abi.encodePacked(domain, uint64 seed, uint64 position)) top 53 bits)", () => {
    for (const seed of [0n, 1n, 42n, 2n ** 64n - 1n]) {
      for (const p of [0, 1, 7, 1000, 2 ** 32 + 5]) expect(decodeUniform(seed, p)).to.equal(reference(seed, p));
    }
  });

  it("is a pure function of (seed, position): any order, any call pattern gives the same draws", () => {
    const positions = Array.from({ length: 200 }, (_, i) => i);
    const forward = positions.map((p) => decodeUniform(123n, p));
    const shuffled = [...positions].sort(() => Math.random() - 0.5);
    for (const p of shuffled) expect(decodeUniform("123", p)).to.equal(forward[p]);
    expect(decodeUniform(123, 17)).to.equal(forward[17]);
  });

  it("returns 53-bit multiples in [0, 1) that differ across seeds and positions", () => {
    const seen = new Set<number>();
    for (let p = 0; p < 500; p++) {
      const u = decodeUniform(9n, p);
      expect(u).to.be.at.least(0).and.below(1);
      expect(Number.isInteger(u * 2 ** 53)).to.equal(true);
      seen.add(u);
    }
    expect(seen.size).to.equal(500);
    expect(decodeUniform(1n, 5)).to.not.equal(decodeUniform(2n, 5));
    expect(counterUniform("other.domain", uintBE(9n, 8), 5)).to.not.equal(decodeUniform(9n, 5));
  });

  it("is roughly uniform (10-bin chi-square over 20000 draws)", () => {
    const bins = new Array(10).fill(0);
    const n = 20000;
    for (let p = 0; p < n; p++) bins[Math.floor(decodeUniform(77n, p) * 10)]++;
    const e = n / 10;
    const chi2 = bins.reduce((s, b) => s + (b - e) ** 2 / e, 0);
    expect(chi2).to.be.below(30); // 9 dof: p ≈ 0.0004
  });

  it("rejects bad seeds and positions with SamplingError", () => {
    expect(toSeed64("18446744073709551615")).to.equal(2n ** 64n - 1n);
    for (const bad of ["18446744073709551616", "-1", "1e3", "abc", 1.5, -1, 2n ** 64n, -1n]) {
      expect(() => toSeed64(bad as never), String(bad)).to.throw(SamplingError);
    }
    expect(() => decodeUniform(1n, -1)).to.throw(SamplingError);
    expect(() => decodeUniform(1n, 1.5)).to.throw(SamplingError);
  });
});
