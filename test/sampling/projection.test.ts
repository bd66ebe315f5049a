import { expect } from "chai";
import { concatBytes, hex32Bytes, keccakBytes, tagBytes, uintBE } from "../../offchain/sampling/bytes.js";
import {
  SamplingError,
  floorLayers,
  parseSamplerConfig,
  project,
  projectionMatrixKey,
  projectionSigns,
  samplePlan,
  tokenSampled,
  prefixHashes,
} from "../../offchain/sampling/index.js";
import { gaussian, mulberry32 } from "./prng.js";

const SEED = "0x" + "7e".repeat(32);

describe("sampling/projection: seeded ±1/√r projections", () => {
  it("follows the documented construction (key, counter blocks, MSB-first bits)", () => {
    const key = keccakBytes(concatBytes(tagBytes("poc.projection.v1"), hex32Bytes(SEED), uintBE(3, 4), tagBytes("value")));
    expect(projectionMatrixKey({ seed: SEED, layer: 3, stream: "value" })).to.deep.equal(key);
    const signs = projectionSigns({ seed: SEED, layer: 3, stream: "value" }, 100, 5); // 500 bits: 2 blocks
    for (const t of [0, 7, 8, 255, 256, 499]) {
      const block = keccakBytes(concatBytes(key, uintBE(t >> 8, 4)));
      const b = t & 255;
      const bit = (block[b >> 3]! >> (7 - (b & 7))) & 1;
      expect(signs[t]).to.equal(bit ? -1 : 1);
    }
    const x = Float32Array.from({ length: 100 }, (_, j) => j / 10);
    const y = project(x, { seed: SEED, layer: 3, stream: "value" }, 5);
    for (let i = 0; i < 5; i++) {
      let acc = 0;
      for (let j = 0; j < 100; j++) acc += signs[i * 100 + j]! * x[j]!;
      expect(y[i]).to.equal(Math.fround(acc / Math.sqrt(5)));
    }
  });

  it("differs by seed, layer and stream, and preserves relative L2 errors within ×0.5–1.5 at r = 32", () => {
    const x = Float32Array.from({ length: 256 }, (_, j) => Math.sin(j));
    const a = project(x, { seed: SEED, layer: 0, stream: "key" }, 32);
    expect(project(x, { seed: SEED, layer: 1, stream: "key" }, 32)).to.not.deep.equal(a);
    expect(project(x, { seed: SEED, layer: 0, stream: "value" }, 32)).to.not.deep.equal(a);
    expect(project(x, { seed: "0x" + "7f".repeat(32), layer: 0, stream: "key" }, 32)).to.not.deep.equal(a);
    expect(project(x, { seed: SEED, layer: 0, stream: "key" }, 32)).to.deep.equal(a);
    const rand = mulberry32(9);
    const norm = (v: ArrayLike<number>) => Math.sqrt(Array.from(v).reduce((s, t) => s + t * t, 0));
    const ratios: number[] = [];
    for (let k = 0; k < 200; k++) {
      const e = Float32Array.from({ length: 256 }, () => gaussian(rand));
      ratios.push(norm(project(e, { seed: SEED, layer: k, stream: "key" }, 32)) / norm(e));
    }
    expect(Math.min(...ratios)).to.be.above(0.5);
    expect(Math.max(...ratios)).to.be.below(1.5);
  });

  it("rejects bad dimensions and stream names", () => {
    expect(() => project([1, 2], { seed: SEED, layer: 0, stream: "key" }, 0)).to.throw(SamplingError);
    expect(() => project([1, 2], { seed: SEED, layer: 0, stream: "with space" }, 4)).to.throw(SamplingError);
    expect(() => project([], { seed: SEED, layer: 0, stream: "key" }, 4)).to.throw(SamplingError);
  });
});

describe("sampling/kv-sampler: top samples and the evidence floor", () => {
  const tokens = Array.from({ length: 24 }, (_, i) => 40 + i);
  it("adds a top sample (layer numLayers) to every sampled position with projections", () => {
    const cfg = parseSamplerConfig({ seed: SEED, ratePpm: 250_000, layersPerToken: 2, numLayers: 6, projectionDim: 16 });
    const plan = samplePlan(cfg, tokens, 8);
    const positions = [...new Set(plan.map((s) => s.position))];
    expect(positions.length).to.be.greaterThan(0);
    for (const p of positions) expect(plan.filter((s) => s.position === p).map((s) => s.layer)).to.have.length(3).and.include(6);
    const full = samplePlan({ ...cfg, projectionDim: 0 }, tokens, 8);
    expect(full.every((s) => s.layer < 6)).to.equal(true);
    expect(full).to.have.length(plan.length - positions.length);
  });

  it("guarantees minPositions positions: the latest unpicked candidates, at the top layers", () => {
    const cfg = parseSamplerConfig({ seed: SEED, ratePpm: 1, layersPerToken: 2, numLayers: 6, projectionDim: 16, minPositions: 4 });
    const hashes = prefixHashes(tokens);
    const picked = tokens.slice(0, -1).map((_, p) => p).filter((p) => tokenSampled(cfg, p, hashes[p]!));
    expect(picked).to.deep.equal([]);
    const plan = samplePlan(cfg, tokens, 8);
    expect(plan.map((s) => s.position)).to.deep.equal([19, 19, 19, 20, 20, 20, 21, 21, 21, 22, 22, 22]);
    expect(floorLayers(cfg)).to.deep.equal([4, 5, 6]);
    expect(plan.slice(0, 3).map((s) => s.layer)).to.deep.equal([4, 5, 6]);
    // scope "generated": never before the prompt's end; a short sequence has fewer candidates
    const gen = samplePlan({ ...cfg, scope: "generated" }, tokens.slice(0, 10), 8);
    expect([...new Set(gen.map((s) => s.position))]).to.deep.equal([8]);
    // a rate-sampled position counts towards the floor
    const dense = samplePlan({ ...cfg, ratePpm: 1_000_000 }, tokens, 8);
    expect(new Set(dense.map((s) => s.position)).size).to.equal(23);
  });
});
