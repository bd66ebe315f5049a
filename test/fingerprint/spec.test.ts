import { expect } from "chai";
import { getBytes, keccak256, solidityPacked, solidityPackedKeccak256 } from "ethers";
import {
  FINGERPRINT_TOLERANCE,
  FingerprintError,
  fingerprintDistance,
  fingerprintFromRows,
  fingerprintPairs,
  fingerprintSignSeed,
  fingerprintsMatch,
  parseFingerprint,
  parseFingerprintSeed,
} from "../../offchain/fingerprint/index.js";
import { binomialTailAtMost, independentFingerprint } from "./reference.js";

const U64_MAX = (1n << 64n) - 1n;

describe("fingerprint spec (v1)", () => {
  describe("pairs", () => {
    for (const seed of [0n, 1n, 0x0123456789abcdefn, U64_MAX]) {
      it(`derives the pairs of seed ${seed} as keccak256(abi.encodePacked("poc.fingerprint.v1", uint64 seed, uint32 i)) reduced mod P and mod layers`, () => {
        const P = 1000 + Number(seed % 97n);
        const layers = 7;
        const pairs = fingerprintPairs(seed, P, layers);
        expect(pairs).to.have.length(16);
        pairs.forEach((p, i) => {
          const h = getBytes(solidityPackedKeccak256(["string", "uint64", "uint32"], ["poc.fingerprint.v1", seed, i]));
          const pos = BigInt("0x" + Buffer.from(h.subarray(0, 8)).toString("hex")) % BigInt(P);
          const layer = BigInt("0x" + Buffer.from(h.subarray(8, 12)).toString("hex")) % BigInt(layers);
          expect(p).to.deep.equal({ index: i, position: Number(pos), layer: Number(layer) });
        });
      });
    }

    it("the sign seed is keccak256(abi.encodePacked(\"poc.fingerprint.v1\", uint64 seed))", () => {
      const seed = 0xfedcba9876543210n;
      expect(fingerprintSignSeed(seed)).to.equal(keccak256(solidityPacked(["string", "uint64"], ["poc.fingerprint.v1", seed])));
    });

    it("different seeds spread the pairs over positions and layers", () => {
      const seen = new Set<string>();
      for (let s = 0n; s < 64n; s++) for (const p of fingerprintPairs(s, 50, 4)) seen.add(`${p.position}/${p.layer}`);
      expect(seen.size).to.be.greaterThan(150); // of 200 cells, 1024 draws
    });

    it("refuses a seed outside uint64, no KV position, or no layer", () => {
      expect(() => fingerprintPairs(-1n, 10, 4)).to.throw(FingerprintError, /uint64/);
      expect(() => fingerprintPairs(U64_MAX + 1n, 10, 4)).to.throw(FingerprintError, /uint64/);
      expect(() => fingerprintPairs(1n, 0, 4)).to.throw(FingerprintError, /KV position/);
      expect(() => fingerprintPairs(1n, 10, 0)).to.throw(FingerprintError, /numLayers/);
    });
  });

  describe("bytes from rows", () => {
    // deterministic synthetic rows: (layer, kind, position) → 24 numbers
    const rows = (layer: number, kind: "key" | "value", position: number) =>
      Float32Array.from({ length: 24 }, (_, j) => Math.sin(1.7 * j + 0.3 * position + 2.1 * layer + (kind === "key" ? 0 : 5)));

    it("equals an independent implementation of the spec (ethers keccak256, hand-rolled sign matrices)", () => {
      for (const seed of [0n, 42n, U64_MAX]) expect(fingerprintFromRows(rows, seed, 300, 5)).to.equal(independentFingerprint(rows, seed, 300, 5));
    });

    it("a row and its negation give complementary bytes (sign bits of Σ S·x)", () => {
      const neg = (l: number, k: "key" | "value", p: number) => rows(l, k, p).map((x) => -x);
      expect(fingerprintDistance(fingerprintFromRows(rows, 7n, 300, 5), fingerprintFromRows(neg, 7n, 300, 5))).to.equal(256);
    });

    it("another seed gives an unrelated fingerprint", () => {
      const d = fingerprintDistance(fingerprintFromRows(rows, 1n, 300, 5), fingerprintFromRows(rows, 2n, 300, 5));
      expect(d).to.be.greaterThan(FINGERPRINT_TOLERANCE);
    });
  });

  describe("distance and match", () => {
    const a = "0x" + "00".repeat(32);
    it("counts differing bits and matches up to FINGERPRINT_TOLERANCE = 16 bits", () => {
      expect(FINGERPRINT_TOLERANCE).to.equal(16);
      expect(fingerprintDistance(a, "0x" + "ff".repeat(32))).to.equal(256);
      const b16 = "0x" + "00".repeat(28) + "ff".repeat(2) + "00".repeat(2);
      const b17 = "0x" + "01" + "00".repeat(27) + "ff".repeat(2) + "00".repeat(2);
      expect(fingerprintDistance(a, b16)).to.equal(16);
      expect(fingerprintDistance(a, b17)).to.equal(17);
      expect(fingerprintsMatch(a, b16)).to.equal(true);
      expect(fingerprintsMatch(a, b17)).to.equal(false);
      expect(fingerprintDistance("0x" + "AB".repeat(32), "0x" + "ab".repeat(32))).to.equal(0);
    });

    it("a random bytes32 matches a given fingerprint with probability P(Bin(256, 1/2) ≤ 16) < 1e-50", () => {
      const p = binomialTailAtMost(256, FINGERPRINT_TOLERANCE);
      expect(p).to.be.greaterThan(0);
      expect(p).to.be.lessThan(1e-50);
      // the tail itself, against the sum of the first terms: C(256,0) + C(256,1) + C(256,2) = 32897
      expect(binomialTailAtMost(256, 2)).to.equal(32897 / 2 ** 256);
    });
  });

  describe("parsing", () => {
    it("accepts a uint64 seed as bigint, safe integer, decimal or 0x-hex string", () => {
      expect(parseFingerprintSeed(5n)).to.equal(5n);
      expect(parseFingerprintSeed(5)).to.equal(5n);
      expect(parseFingerprintSeed("18446744073709551615")).to.equal(U64_MAX);
      expect(parseFingerprintSeed("0xffffffffffffffff")).to.equal(U64_MAX);
    });
    it("refuses a seed that is not a uint64 with FingerprintError", () => {
      for (const bad of [-1n, U64_MAX + 1n, "18446744073709551616", "0x1ffffffffffffffff", 1.5, "abc", null])
        expect(() => parseFingerprintSeed(bad), String(bad)).to.throw(FingerprintError, /invalid fingerprint seed/);
    });
    it("accepts a bytes32 fingerprint (lowercased) and refuses anything else", () => {
      expect(parseFingerprint("0x" + "AB".repeat(32))).to.equal("0x" + "ab".repeat(32));
      for (const bad of ["0x" + "ab".repeat(31), "ab".repeat(32), "0x" + "zz".repeat(32), 7])
        expect(() => parseFingerprint(bad)).to.throw(FingerprintError, /invalid fingerprint/);
      expect(() => fingerprintDistance("0x12", "0x" + "00".repeat(32))).to.throw(FingerprintError);
    });
  });
});
