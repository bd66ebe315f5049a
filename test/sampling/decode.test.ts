import { expect } from "chai";
import {
  type DecodingConfig,
  SamplingError,
  canonicalOrder,
  checkToken,
  drawToken,
  parseDecodingConfig,
  tokenDelta,
  topKCanonical,
} from "../../offchain/sampling/index.js";
import { gumbelKey, gumbelNoise } from "../../offchain/sampling/gumbel.js";
import { mulberry32, randomLogits, softmax } from "./prng.js";

const cfg = (over: Partial<Record<keyof DecodingConfig, unknown>> = {}): DecodingConfig =>
  parseDecodingConfig({ seed: "1234", temperature: 1, topK: 0, topP: 1, maxTokens: 64, ...over });

const ZERO = { logitAbs: 0, logitRel: 0, cdfAbs: 0 };

function frequencies(logits: Float32Array, c: DecodingConfig, n: number): number[] {
  const counts = new Array(logits.length).fill(0);
  for (let p = 0; p < n; p++) counts[drawToken(logits, c, p)]++;
  return counts.map((x) => x / n);
}

describe("sampling/decode: decoding config", function () {
  this.timeout(60_000);
  it("parses seeds as bigint, defaults stopAtEos, normalises −0", () => {
    const c = parseDecodingConfig({ seed: "18446744073709551615", temperature: -0, topK: 0, topP: 1, maxTokens: 1 });
    expect(c.seed).to.equal(2n ** 64n - 1n);
    expect(c.stopAtEos).to.equal(false);
    expect(Object.is(c.temperature, 0)).to.equal(true);
    expect(parseDecodingConfig({ seed: 5, temperature: 0.7, topK: 40, topP: 0.9, maxTokens: 3, stopAtEos: true }).seed).to.equal(5n);
  });

  it("rejects impossible configurations with a clear SamplingError", () => {
    const bad: Record<string, unknown>[] = [
      { temperature: -1 },
      { temperature: Infinity },
      { topP: 0 },
      { topP: 1.5 },
      { topK: -1 },
      { topK: 1.5 },
      { maxTokens: 0 },
      { seed: "-3" },
      { seed: "18446744073709551616" },
      { top_k: 3 },
    ];
    for (const b of bad) {
      expect(() => cfg(b), JSON.stringify(b)).to.throw(SamplingError, /invalid decoding configuration/);
    }
    try {
      cfg({ topP: 0 });
    } catch (e) {
      expect((e as SamplingError).details).to.match(/topP/);
    }
  });
});

describe("sampling/decode: canonical order", function () {
  this.timeout(60_000);
  it("orders by logit descending then id ascending; the fast path equals the comparator sort", () => {
    const rand = mulberry32(8);
    for (let trial = 0; trial < 50; trial++) {
      const V = 1 + Math.floor(rand() * 300);
      const pool = [0, -0, 1.5, -2, -Infinity, 3.25, 1e-40, -1e-40];
      const l = Float32Array.from({ length: V }, () => (rand() < 0.5 ? pool[Math.floor(rand() * pool.length)]! : (rand() - 0.5) * 20));
      const slow = canonicalOrder(Array.from(l));
      expect(Array.from(canonicalOrder(l))).to.deep.equal(Array.from(slow));
      for (let i = 1; i < V; i++) {
        const a = l[slow[i - 1]!]!;
        const b = l[slow[i]!]!;
        expect(a > b || (a === b && slow[i - 1]! < slow[i]!)).to.equal(true);
      }
      const k = 1 + Math.floor(rand() * V);
      expect(Array.from(topKCanonical(l, k))).to.deep.equal(Array.from(slow.slice(0, k)));
      const subset = Array.from({ length: V }, (_, i) => i).filter(() => rand() < 0.5);
      expect(Array.from(canonicalOrder(l, subset))).to.deep.equal(Array.from(slow).filter((i) => subset.includes(i)));
    }
  });
});

describe("sampling/decode: drawToken", function () {
  this.timeout(60_000);
  it("greedy is the argmax with ties to the lowest id, whatever the position", () => {
    const g = cfg({ temperature: 0 });
    expect(drawToken(Float32Array.from([0.1, 3, -2, 3, 1]), g, 0)).to.equal(1);
    expect(drawToken(Float32Array.from([-Infinity, -5, -Infinity]), g, 9)).to.equal(1);
    expect(drawToken(Float32Array.from([7]), g, 3)).to.equal(0);
  });

  it("rejects NaN / +Infinity / all −Infinity / empty logits", () => {
    for (const l of [[1, NaN], [Infinity, 0], [-Infinity, -Infinity], []]) {
      expect(() => drawToken(Float32Array.from(l), cfg(), 0)).to.throw(SamplingError);
      expect(() => drawToken(Float32Array.from(l), cfg({ temperature: 0 }), 0)).to.throw(SamplingError);
    }
  });

  it("is a pure function of (logits, config, position)", () => {
    const logits = randomLogits(mulberry32(1), 300, 2);
    const c = cfg({ temperature: 0.8, topK: 50, topP: 0.9 });
    const a = Array.from({ length: 100 }, (_, p) => drawToken(logits, c, p));
    const b = Array.from({ length: 100 }, (_, i) => 99 - i).map((p) => drawToken(logits, c, p)).reverse();
    expect(a).to.deep.equal(b);
    expect(new Set(a).size).to.be.greaterThan(5);
    const other = Array.from({ length: 100 }, (_, p) => drawToken(logits, cfg({ seed: "1235", temperature: 0.8, topK: 50, topP: 0.9 }), p));
    expect(other).to.not.deep.equal(a);
  });

  it("draws with frequencies close to softmax(logits / T)", () => {
    const logits = Float32Array.from([1, 0.5, 0, -1, 2]);
    for (const T of [1, 0.5, 2]) {
      const f = frequencies(logits, cfg({ temperature: T }), 20000);
      const p = softmax(logits, T);
      for (let i = 0; i < p.length; i++) expect(Math.abs(f[i]! - p[i]!), `T=${T} token ${i}`).to.be.below(0.015);
    }
  });

  it("respects top-k: only the k most likely tokens, renormalised", () => {
    const logits = Float32Array.from([1, 0.5, 0, -1, 2, 0.5]);
    const f = frequencies(logits, cfg({ topK: 3 }), 20000);
    // top-3 in canonical order: 4 (2), 0 (1), 1 (0.5; ties with 5, lower id first)
    const p = softmax([2, 1, 0.5], 1);
    expect(f[2]).to.equal(0);
    expect(f[3]).to.equal(0);
    expect(f[5]).to.equal(0);
    expect(Math.abs(f[4]! - p[0]!)).to.be.below(0.015);
    expect(Math.abs(f[0]! - p[1]!)).to.be.below(0.015);
    expect(Math.abs(f[1]! - p[2]!)).to.be.below(0.015);
    expect(frequencies(logits, cfg({ topK: 1 }), 200)[4]).to.equal(1);
  });

  it("respects top-p: the smallest canonical prefix whose mass reaches p", () => {
    const probs = [0.15, 0.5, 0.05, 0.3];
    const logits = Float32Array.from(probs.map(Math.log));
    // canonical order 1 (0.5), 3 (0.3), 0 (0.15), 2 (0.05)
    const f75 = frequencies(logits, cfg({ topP: 0.75 }), 20000); // {1, 3}
    expect(f75[0]).to.equal(0);
    expect(f75[2]).to.equal(0);
    expect(Math.abs(f75[1]! - 0.5 / 0.8)).to.be.below(0.015);
    const f85 = frequencies(logits, cfg({ topP: 0.85 }), 20000); // {1, 3, 0}
    expect(f85[2]).to.equal(0);
    expect(Math.abs(f85[0]! - 0.15 / 0.95)).to.be.below(0.015);
    expect(frequencies(logits, cfg({ topP: 0.1 }), 300)[1]).to.equal(1);
    // top-k then top-p: top-2 = {1, 3} renormalised to {0.625, 0.375}; top-p 0.6 keeps only token 1
    expect(frequencies(logits, cfg({ topK: 2, topP: 0.6 }), 300)[1]).to.equal(1);
  });
});

describe("sampling/decode: checkToken", function () {
  this.timeout(60_000);
  it("accepts the exact draw at every position (greedy and sampling)", () => {
    const rand = mulberry32(2);
    for (const c of [cfg({ temperature: 0 }), cfg({ temperature: 0.7, topK: 40, topP: 0.9 }), cfg({ temperature: 1.3 })]) {
      for (let p = 0; p < 50; p++) {
        const logits = randomLogits(rand, 500, 3);
        const t = drawToken(logits, c, p);
        const r = checkToken(logits, c, p, t, ZERO);
        expect(r.ok && r.exact, r.reason).to.equal(true);
        expect(r.drawn).to.equal(t);
        expect(r.margin).to.be.at.least(0);
      }
    }
  });

  it("accepts greedy near-ties within 2δ and rejects clear losers", () => {
    const g = cfg({ temperature: 0 });
    const logits = Float32Array.from([5, 5.0005, -1, 4.9]);
    const near = checkToken(logits, g, 3, 0);
    expect(near.ok).to.equal(true);
    expect(near.exact).to.equal(false);
    expect(near.margin).to.be.closeTo(-0.0005, 1e-6);
    expect(checkToken(logits, g, 3, 0, ZERO).ok).to.equal(false);
    expect(checkToken(logits, g, 3, 3).ok).to.equal(false);
    expect(checkToken(logits, g, 3, 4).ok).to.equal(false); // out of vocabulary
    expect(checkToken(logits, g, 3, -1).reason).to.match(/outside the vocabulary/);
  });

  it("accepts a sampled token whose score s = l + T·g is within 2δ of the draw's, not beyond", () => {
    const c = cfg({ temperature: 1 });
    const pos = 11;
    const key = gumbelKey(c.seed, pos);
    const g = [gumbelNoise(key, 0), gumbelNoise(key, 1)];
    const tol = { logitAbs: 1e-3, logitRel: 0, cdfAbs: 0 };
    const delta = tokenDelta(Float32Array.from([0, 0]), 1, tol);
    expect(delta).to.equal(1e-3);
    for (const [gap, ok] of [[0.5, true], [1.5, true], [2.5, false], [10, false]] as const) {
      // s_0 = s_1 − gap·δ: the exact draw is token 1
      const l1 = 0;
      const l0 = l1 + g[1]! - g[0]! - gap * delta;
      const logits = Float32Array.from([l0, l1]);
      expect(drawToken(logits, c, pos)).to.equal(1);
      const r = checkToken(logits, c, pos, 0, tol);
      expect(r.ok, `${gap}δ: ${r.reason}`).to.equal(ok);
      expect(r.exact).to.equal(false);
      expect(r.deficit).to.be.closeTo(gap * delta, 1e-6); // float32 rounding of l0
      expect(r.margin).to.be.below(0);
      expect(checkToken(logits, c, pos, 0, ZERO).ok).to.equal(false);
      expect(checkToken(logits, c, pos, 1, ZERO).ok).to.equal(true);
    }
  });

  it("accepts a token just outside the nucleus or the top-k when its score wins, not without slack", () => {
    // top-p boundary: probs 0.6, 0.3, 0.1; topP = 0.9 − 1e-6 keeps two, but 2 is possibly kept under noise
    const logits = Float32Array.from([0.6, 0.3, 0.1].map(Math.log));
    const c = cfg({ topP: 0.9 - 1e-6, seed: "5" });
    const s = (l: Float32Array, key: ReturnType<typeof gumbelKey>, i: number) => l[i]! + gumbelNoise(key, i);
    let p = 0;
    while (!(s(logits, gumbelKey(c.seed, p), 2) > Math.max(s(logits, gumbelKey(c.seed, p), 0), s(logits, gumbelKey(c.seed, p), 1)))) p++;
    expect(drawToken(logits, c, p)).to.not.equal(2);
    const r = checkToken(logits, c, p, 2);
    expect(r.ok, r.reason).to.equal(true);
    expect(checkToken(logits, c, p, 2, ZERO).ok).to.equal(false);
    expect(checkToken(logits, cfg({ topP: 0.5, seed: "5" }), p, 2).ok).to.equal(false);
    expect(checkToken(logits, cfg({ topP: 0.5, seed: "5" }), p, 2).reason).to.match(/outside the top-k\/top-p set/);
    // top-k boundary: tokens 1 and 2 tie within 1e-5; k = 2
    const tk = Float32Array.from([2, 1, 1 - 1e-5, -3]);
    const ck = cfg({ topK: 2, seed: "5" });
    let q = 0;
    while (!(s(tk, gumbelKey(ck.seed, q), 2) > Math.max(s(tk, gumbelKey(ck.seed, q), 0), s(tk, gumbelKey(ck.seed, q), 1)))) q++;
    expect(drawToken(tk, ck, q)).to.not.equal(2);
    expect(checkToken(tk, ck, q, 2).ok).to.equal(true);
    expect(checkToken(tk, ck, q, 2, ZERO).ok).to.equal(false);
    expect(checkToken(tk, ck, q, 3).ok).to.equal(false);
  });

  it("accepts every draw made from honestly perturbed logits (noise below δ)", () => {
    const rand = mulberry32(3);
    let cases = 0;
    for (let trial = 0; trial < 400; trial++) {
      const V = 20 + Math.floor(rand() * 60);
      const logits = randomLogits(rand, V, 1 + rand() * 4);
      // plant near-ties
      for (let j = 0; j < 5; j++) logits[Math.floor(rand() * V)] = logits[Math.floor(rand() * V)]! + (rand() - 0.5) * 1e-4;
      const temperature = [0, 0.1, 0.7, 1, 1.5][trial % 5]!;
      const c = cfg({ temperature, topK: rand() < 0.5 ? 1 + Math.floor(rand() * 10) : 0, topP: rand() < 0.5 ? 0.5 + rand() * 0.5 : 1, seed: String(trial) });
      const absMax = Math.max(...Array.from(logits, Math.abs));
      const noise = 0.9 * (1e-3 + 1e-3 * absMax);
      const gen = Float32Array.from(logits, (l) => l + (rand() * 2 - 1) * noise * 0.98);
      for (let p = 0; p < 5; p++) {
        const t = drawToken(gen, c, trial * 10 + p);
        const r = checkToken(logits, c, trial * 10 + p, t);
        expect(r.ok, `trial ${trial}: ${r.reason}`).to.equal(true);
        cases++;
      }
    }
    expect(cases).to.equal(2000);
  });

  it("rejects most tokens drawn from a different model's logits", () => {
    const rand = mulberry32(4);
    for (const c of [cfg({ temperature: 0 }), cfg({ temperature: 1, topP: 0.95 }), cfg({ temperature: 0.7, topK: 50 }), cfg({ temperature: 1 })]) {
      let accepted = 0;
      const n = 300;
      for (let p = 0; p < n; p++) {
        const mine = randomLogits(rand, 1000, 3);
        const theirs = randomLogits(rand, 1000, 3);
        if (checkToken(mine, c, p, drawToken(theirs, c, p)).ok) accepted++;
      }
      // greedy: ~1/V; sampling: ≈ p_mine(token)·e^{2δ/T} (≈ Σ p_mine·p_theirs, ~1/V-ish here)
      expect(accepted / n, `T=${c.temperature} k=${c.topK} p=${c.topP}`).to.be.below(c.temperature === 0 ? 0.01 : 0.08);
    }
  });
});
