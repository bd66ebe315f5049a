import { expect } from "chai";
import { keccak256, solidityPackedKeccak256, toUtf8Bytes } from "ethers";
import {
  EMPTY_PREFIX_HASH,
  PrefixHasher,
  type SamplerConfig,
  SamplingError,
  layersFor,
  parseRatePpm,
  parseSamplerConfig,
  prefixHashes,
  samplePlan,
  tokenSampled,
} from "../../offchain/sampling/index.js";
import { mulberry32 } from "./prng.js";

const SEED = "0x" + "5a".repeat(32);
const sampler = (over: Record<string, unknown> = {}): SamplerConfig =>
  parseSamplerConfig({ seed: SEED, ratePpm: 62_500, layersPerToken: 2, numLayers: 8, ...over });

function randomTokens(seed: number, n: number): number[] {
  const rand = mulberry32(seed);
  return Array.from({ length: n }, () => Math.floor(rand() * 50_000));
}

describe("sampling/kv-sampler: configuration", function () {
  this.timeout(60_000);
  it("validates with clear errors", () => {
    expect(sampler().scope).to.equal("all");
    expect(sampler({ seed: SEED.toUpperCase().replace("0X", "0x") }).seed).to.equal(SEED);
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ ratePpm: 0 }, /ratePpm/],
      [{ ratePpm: 1_000_001 }, /ratePpm/],
      [{ ratePpm: 0.5 }, /ratePpm/],
      [{ layersPerToken: 0 }, /layersPerToken/],
      [{ layersPerToken: 9 }, /layersPerToken must not exceed numLayers/],
      [{ numLayers: 0 }, /numLayers/],
      [{ numLayers: 70_000, layersPerToken: 1 }, /numLayers/],
      [{ seed: "0x1234" }, /seed/],
      [{ scope: "prompt" }, /scope/],
      [{ rate: 0.5 }, /rate/],
    ];
    for (const [over, re] of bad) {
      let err: unknown;
      try {
        sampler(over);
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(over)).to.be.instanceOf(SamplingError);
      expect((err as SamplingError).details, JSON.stringify(over)).to.match(re);
    }
  });

  it("parses rates as ppm", () => {
    expect(parseRatePpm("1/16")).to.equal(62_500);
    expect(parseRatePpm(0.0625)).to.equal(62_500);
    expect(parseRatePpm("6.25%")).to.equal(62_500);
    expect(parseRatePpm("1")).to.equal(1_000_000);
    expect(parseRatePpm("1/3")).to.equal(333_333);
    for (const bad of ["0", "2", "-0.1", "abc", "1/0", 1e-9, NaN]) expect(() => parseRatePpm(bad), String(bad)).to.throw(SamplingError);
  });
});

describe("sampling/kv-sampler: prefix hash", function () {
  this.timeout(60_000);
  it("follows h_{-1} = keccak256(tag), h_p = keccak256(h_{p-1} ‖ uint32 token)", () => {
    expect(EMPTY_PREFIX_HASH).to.equal(keccak256(toUtf8Bytes("poc.prefix.v1")));
    const tokens = [5, 0, 4294967295, 17];
    let h = EMPTY_PREFIX_HASH as string;
    const hs = prefixHashes(tokens);
    tokens.forEach((t, p) => {
      h = solidityPackedKeccak256(["bytes32", "uint32"], [h, t]);
      expect(hs[p]).to.equal(h);
    });
  });

  it("is incremental and depends on the whole prefix", () => {
    const tokens = randomTokens(1, 50);
    const hasher = new PrefixHasher();
    expect(hasher.current).to.equal(EMPTY_PREFIX_HASH);
    const inc = tokens.map((t) => hasher.push(t));
    expect(inc).to.deep.equal(prefixHashes(tokens));
    expect(hasher.length).to.equal(50);
    const changed = [...tokens];
    changed[10] = changed[10]! + 1;
    const hc = prefixHashes(changed);
    expect(hc.slice(0, 10)).to.deep.equal(inc.slice(0, 10));
    for (let p = 10; p < 50; p++) expect(hc[p]).to.not.equal(inc[p]);
    expect(() => hasher.push(-1)).to.throw(SamplingError);
    expect(() => hasher.push(2 ** 32)).to.throw(SamplingError);
  });
});

describe("sampling/kv-sampler: token and layer samplers", function () {
  this.timeout(60_000);
  it("token sampler matches keccak256(abi.encodePacked(tag, seed, uint32 p, h_p)) mod 1e6 < ratePpm", () => {
    const cfg = sampler({ ratePpm: 300_000 });
    const hs = prefixHashes(randomTokens(2, 200));
    let hits = 0;
    hs.forEach((h, p) => {
      const d = BigInt(solidityPackedKeccak256(["string", "bytes32", "uint32", "bytes32"], ["poc.token-sampler.v1", SEED, p, h]));
      const expected = d % 1_000_000n < 300_000n;
      expect(tokenSampled(cfg, p, h)).to.equal(expected);
      if (expected) hits++;
    });
    expect(hits).to.be.greaterThan(30);
  });

  it("samples positions at the configured rate", () => {
    for (const ratePpm of [62_500, 250_000]) {
      const cfg = sampler({ ratePpm });
      const hs = prefixHashes(randomTokens(3, 20_000));
      const n = hs.filter((h, p) => tokenSampled(cfg, p, h)).length;
      const mean = 20_000 * (ratePpm / 1e6);
      const sd = Math.sqrt(mean * (1 - ratePpm / 1e6));
      expect(Math.abs(n - mean), `rate ${ratePpm}`).to.be.below(4 * sd);
    }
    const all = sampler({ ratePpm: 1_000_000 });
    expect(prefixHashes([1, 2, 3]).every((h, p) => tokenSampled(all, p, h))).to.equal(true);
  });

  it("layer sampler: sorted, distinct, in range, reproducible, roughly uniform", () => {
    const cfg = sampler({ layersPerToken: 3, numLayers: 12 });
    const hs = prefixHashes(randomTokens(4, 3000));
    const counts = new Array(12).fill(0);
    hs.forEach((h, p) => {
      const ls = layersFor(cfg, p, h);
      expect(ls).to.have.length(3);
      expect(new Set(ls).size).to.equal(3);
      expect([...ls].sort((a, b) => a - b)).to.deep.equal(ls);
      for (const l of ls) {
        expect(l).to.be.within(0, 11);
        counts[l]++;
      }
      expect(layersFor(cfg, p, h)).to.deep.equal(ls);
    });
    for (const c of counts) expect(c).to.be.within(750 - 120, 750 + 120); // 3000·3/12
    expect(layersFor(sampler({ layersPerToken: 8 }), 0, hs[0]!)).to.deep.equal([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(() => layersFor({ ...cfg, layersPerToken: 13 }, 0, hs[0]!)).to.throw(SamplingError);
    expect(() => layersFor(cfg, -1, hs[0]!)).to.throw(SamplingError);
  });

  it("layer sampler follows the documented partial Fisher–Yates", () => {
    const cfg = sampler({ layersPerToken: 2, numLayers: 5 });
    const h = prefixHashes([9, 8, 7])[2]!;
    const a = [0, 1, 2, 3, 4];
    for (let j = 0; j < 2; j++) {
      const d = BigInt(solidityPackedKeccak256(["string", "bytes32", "uint32", "bytes32", "uint32"], ["poc.layer-sampler.v1", SEED, 2, h, j]));
      const r = Number(d % BigInt(5 - j));
      [a[j], a[j + r]] = [a[j + r]!, a[j]!];
    }
    expect(layersFor(cfg, 2, h)).to.deep.equal(a.slice(0, 2).sort((x, y) => x - y));
  });
});

describe("sampling/kv-sampler: samplePlan", function () {
  this.timeout(60_000);
  const tokens = randomTokens(5, 600);

  it("is sorted by (position, layer), covers [0, n−1) and is reproducible", () => {
    const cfg = sampler({ ratePpm: 100_000 });
    const plan = samplePlan(cfg, tokens, 100);
    expect(plan.length).to.be.greaterThan(60);
    for (let i = 1; i < plan.length; i++) {
      const a = plan[i - 1]!;
      const b = plan[i]!;
      expect(a.position < b.position || (a.position === b.position && a.layer < b.layer)).to.equal(true);
    }
    expect(plan.some((s) => s.position < 100)).to.equal(true);
    expect(plan.every((s) => s.position < tokens.length - 1)).to.equal(true);
    expect(samplePlan(cfg, tokens, 100)).to.deep.equal(plan);
    expect(samplePlan(sampler({ ratePpm: 100_000, seed: "0x" + "00".repeat(32) }), tokens, 100)).to.not.deep.equal(plan);
    expect(samplePlan(sampler({ ratePpm: 1_000_000 }), [1, 2, 3], 1).map((s) => s.position)).to.deep.equal([0, 0, 1, 1]);
  });

  it("decides each position from the prefix alone (position-independent, streaming-compatible)", () => {
    const cfg = sampler({ ratePpm: 100_000 });
    const full = samplePlan(cfg, tokens, 100);
    for (const m of [101, 250, 599]) {
      const part = samplePlan(cfg, tokens.slice(0, m), 100);
      expect(part).to.deep.equal(full.filter((s) => s.position < m - 1));
    }
    // changing a later token never changes earlier decisions
    const changed = [...tokens];
    changed[300] = changed[300]! + 1;
    const other = samplePlan(cfg, changed, 100);
    expect(other.filter((s) => s.position < 300)).to.deep.equal(full.filter((s) => s.position < 300));
    expect(other.filter((s) => s.position >= 300)).to.not.deep.equal(full.filter((s) => s.position >= 300));
  });

  it("scope 'generated' skips prompt positions and matches 'all' after the prompt", () => {
    const all = samplePlan(sampler({ ratePpm: 100_000 }), tokens, 100);
    const gen = samplePlan(sampler({ ratePpm: 100_000, scope: "generated" }), tokens, 100);
    expect(gen).to.deep.equal(all.filter((s) => s.position >= 100));
    expect(() => samplePlan(sampler(), tokens, 601)).to.throw(SamplingError);
  });
});
