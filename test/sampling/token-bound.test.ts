import { expect } from "chai";
import { getBytes, keccak256, solidityPacked } from "ethers";
import {
  type DecodingConfig,
  GUMBEL_MAX,
  GUMBEL_MIN,
  GUMBEL_SPAN,
  acceptanceBound,
  acceptedTokens,
  analyseToken,
  checkToken,
  drawToken,
  gumbelKey,
  gumbelNoise,
  gumbelUniform,
  lowbias32,
  parseDecodingConfig,
  tokenDelta,
} from "../../offchain/sampling/index.js";
import { mulberry32, randomLogits } from "./prng.js";

const cfg = (over: Partial<Record<keyof DecodingConfig, unknown>> = {}): DecodingConfig =>
  parseDecodingConfig({ seed: "99", temperature: 1, topK: 0, topP: 1, maxTokens: 64, ...over });

describe("sampling/gumbel: counter Gumbel noise", function () {
  this.timeout(60_000);
  it("matches the documented construction (keccak key per position, three lowbias32 per token, 52-bit u)", () => {
    const seed = 123456789n;
    const p = 77;
    const d = getBytes(keccak256(solidityPacked(["string", "uint64", "uint64"], ["poc.gumbel.v1", seed, p])));
    const k = Array.from({ length: 3 }, (_, j) => new DataView(d.buffer).getUint32(4 * j, false));
    expect(Array.from(gumbelKey(seed, p))).to.deep.equal(k);
    const h = (x: number) => lowbias32(x);
    for (const i of [0, 1, 258, 151_935, 2 ** 32 - 1]) {
      const a = h(h((i ^ k[0]!) >>> 0) ^ k[1]!);
      const b = h((a ^ k[2]!) >>> 0);
      const u = (a * 2 ** 20 + Math.floor(b / 4096) + 0.5) / 2 ** 52;
      expect(gumbelUniform(gumbelKey(seed, p), i)).to.equal(u);
      expect(gumbelNoise(gumbelKey(seed, p), i)).to.equal(-Math.log(-Math.log(u)));
    }
    // lowbias32 reference values (x ^= x>>>16; x *= 0x7feb352d; x ^= x>>>15; x *= 0x846ca68b; x ^= x>>>16)
    const ref = (x: bigint) => {
      const M = 0xffff_ffffn;
      x ^= x >> 16n;
      x = (x * 0x7feb352dn) & M;
      x ^= x >> 15n;
      x = (x * 0x846ca68bn) & M;
      x ^= x >> 16n;
      return Number(x);
    };
    for (const x of [0, 1, 0xdeadbeef, 0xffff_ffff]) expect(lowbias32(x)).to.equal(ref(BigInt(x)));
  });

  it("is standard Gumbel: mean ≈ 0.5772, variance ≈ π²/6, within [G_MIN, G_MAX], independent of the position", () => {
    const key = gumbelKey(5n, 3);
    const n = 200_000;
    let s = 0;
    let s2 = 0;
    for (let i = 0; i < n; i++) {
      const g = gumbelNoise(key, i);
      expect(g >= GUMBEL_MIN && g <= GUMBEL_MAX).to.equal(true);
      s += g;
      s2 += g * g;
    }
    const mean = s / n;
    expect(mean).to.be.closeTo(0.5772, 0.01);
    expect(s2 / n - mean * mean).to.be.closeTo(Math.PI ** 2 / 6, 0.03);
    expect(GUMBEL_MAX).to.be.closeTo(36.737, 1e-3);
    expect(GUMBEL_MIN).to.be.closeTo(-3.6037, 1e-3);
    // same token, other positions/seeds: different numbers
    expect(gumbelNoise(gumbelKey(5n, 4), 7)).to.not.equal(gumbelNoise(key, 7));
    expect(gumbelNoise(gumbelKey(6n, 3), 7)).to.not.equal(gumbelNoise(key, 7));
  });
});

describe("sampling/decode: the token-check bound (property tests)", function () {
  this.timeout(60_000);

  it("checkToken accepts exactly acceptedTokens, and that set lies in the deterministic window {l ≥ l_max − 4δ − T·G_SPAN}", () => {
    const rand = mulberry32(11);
    for (let trial = 0; trial < 150; trial++) {
      const V = 20 + Math.floor(rand() * 80);
      const logits = randomLogits(rand, V, 0.5 + rand() * 3);
      for (let j = 0; j < 4; j++) logits[Math.floor(rand() * V)] = logits[Math.floor(rand() * V)]! + (rand() - 0.5) * 1e-3;
      const T = [0, 0.001, 0.01, 0.1, 0.3, 1, 1.5][trial % 7]!;
      const c = cfg({ temperature: T, topK: rand() < 0.4 ? 1 + Math.floor(rand() * 20) : 0, topP: rand() < 0.4 ? 0.3 + rand() * 0.7 : 1, seed: String(trial) });
      const pos = trial * 3;
      const tol = { logitAbs: 10 ** (-4 + 3 * rand()), logitRel: 1e-3 };
      const acc = acceptedTokens(logits, c, pos, tol);
      const a = analyseToken(logits, c, pos, tol);
      const direct = Array.from({ length: V }, (_, i) => i).filter((i) => checkToken(logits, c, pos, i, tol).ok);
      expect(acc, `trial ${trial}`).to.deep.equal(direct);
      expect(acc).to.include(drawToken(logits, c, pos));
      const floor = a.maxLogit - 4 * a.delta - T * GUMBEL_SPAN;
      for (const i of acc) expect(logits[i]!, `trial ${trial} token ${i}`).to.be.at.least(floor);
      if (T === 0) {
        // greedy: exactly the near-tie set
        const ties = Array.from({ length: V }, (_, i) => i).filter((i) => logits[i]! >= a.maxLogit - 2 * a.delta);
        expect(acc).to.deep.equal(ties);
      }
    }
  });

  it("E|accepted| stays below the proven bound e^{2δ/T}·… at every temperature (averaged over positions)", () => {
    const rand = mulberry32(12);
    for (const T of [0.01, 0.1, 0.3, 1]) {
      for (const over of [{}, { topK: 10 }, { topP: 0.9 }]) {
        const c = cfg({ temperature: T, ...over });
        const tol = { logitAbs: 2e-3, logitRel: 0 };
        let measured = 0;
        let bound = 0;
        const n = 400;
        for (let p = 0; p < n; p++) {
          const logits = randomLogits(rand, 64, 2);
          const a = analyseToken(logits, c, p, tol);
          measured += acceptedTokens(logits, c, p, tol, a).length;
          bound += acceptanceBound(logits, a);
        }
        // the bound holds in expectation; 400 positions: allow 3 standard errors of a count ≤ 1 + Bernoulli
        const slack = 3 * Math.sqrt(Math.max(bound - n, 1));
        expect(measured, `T=${T} ${JSON.stringify(over)}: measured ${measured}, bound ${bound.toFixed(1)}`).to.be.at.most(bound + slack);
        // and the bound itself is close to one token per position when δ ≪ T
        if (T >= 0.1) expect(bound / n, `T=${T}`).to.be.below(Math.exp((2 * 2e-3) / T) * 1.05 + 0.02);
      }
    }
  });

  it("never grants probability to a token the model gives ~none: P(accept) ≤ e^{2δ/T}·p at low and high T", () => {
    // token 1 has probability e^{−Δ/T}; count how often it is accepted over many positions
    for (const [T, dl] of [[0.01, 0.1], [0.001, 0.02], [1, 8]] as const) {
      const logits = Float32Array.from([0, -dl, -1e4]);
      const c = cfg({ temperature: T });
      const tol = { logitAbs: 1e-3, logitRel: 0 };
      const delta = tokenDelta(logits, T, tol);
      let acc = 0;
      const n = 4000;
      for (let p = 0; p < n; p++) if (checkToken(logits, c, p, 1, tol).ok) acc++;
      const bound = Math.exp((2 * delta) / T) * Math.exp(-dl / T) * n;
      expect(acc, `T=${T}`).to.be.at.most(bound + 3 * Math.sqrt(bound) + 1);
      for (let p = 0; p < 200; p++) expect(checkToken(logits, c, p, 2, tol).ok).to.equal(false);
    }
  });

  it("low temperature tends to the greedy near-tie check instead of accepting anything", () => {
    const rand = mulberry32(13);
    for (let trial = 0; trial < 50; trial++) {
      const logits = randomLogits(rand, 259, 3);
      const g = acceptedTokens(logits, cfg({ temperature: 0 }), trial);
      for (const T of [1e-3, 1e-4]) {
        const acc = acceptedTokens(logits, cfg({ temperature: T }), trial);
        const a = analyseToken(logits, cfg({ temperature: T }), trial);
        expect(acc.length).to.be.at.most(g.length + 1);
        for (const i of acc) expect(logits[i]!).to.be.at.least(a.maxLogit - 2 * a.delta - T * GUMBEL_SPAN);
      }
    }
  });

  it("δ ignores masked and padded logits: one −1e4 entry does not change δ or the accepted set", () => {
    const rand = mulberry32(14);
    for (const T of [0, 0.01, 1]) {
      for (let trial = 0; trial < 30; trial++) {
        const logits = randomLogits(rand, 259, 3);
        const masked = logits.slice();
        masked[17] = -1e4;
        masked[258] = -1e4;
        const c = cfg({ temperature: T });
        const a = acceptedTokens(logits, c, trial).filter((i) => i !== 17 && i !== 258);
        expect(tokenDelta(masked, T)).to.be.at.most(tokenDelta(logits, T) + 1e-12);
        expect(tokenDelta(masked, T)).to.be.below(0.1);
        const m = acceptedTokens(masked, c, trial);
        expect(m).to.not.include(17);
        expect(m.length).to.be.at.most(a.length + 1);
      }
    }
  });

  it("the pruned draw is the exact argmax of l + T·g over the kept set", () => {
    const rand = mulberry32(15);
    for (let trial = 0; trial < 200; trial++) {
      const V = 2 + Math.floor(rand() * 300);
      const logits = randomLogits(rand, V, 0.1 + rand() * 10);
      if (trial % 5 === 0) logits[Math.floor(rand() * V)] = -Infinity;
      const T = [0.001, 0.05, 0.7, 2, 30][trial % 5]!;
      const c = cfg({ temperature: T, seed: String(trial) });
      const key = gumbelKey(c.seed, trial);
      let best = -1;
      let bs = -Infinity;
      for (let i = 0; i < V; i++) {
        const s = logits[i]! === -Infinity ? -Infinity : logits[i]! + T * gumbelNoise(key, i);
        if (s > bs) (bs = s), (best = i);
      }
      expect(drawToken(logits, c, trial)).to.equal(best);
    }
  });
});
