/**
 * Differential test: the fast decoding draw / token check (offchain/sampling/decode.ts) against the
 * frozen reference implementation (decode-reference.ts, the code before the speed-ups). Every draw,
 * every checkToken verdict (ok, exact, drawn, reason, margin, deficit, delta), the analysis (δ, draw,
 * scores, threshold, kept / F_min / F_max flags) and the accepted sets must be identical, bit for bit.
 */
import { expect } from "chai";
import {
  type DecodingConfig,
  type TokenAnalysis,
  type TokenTolerance,
  acceptedTokens,
  analyseToken,
  canonicalOrder,
  checkToken,
  drawToken,
  parseDecodingConfig,
} from "../../offchain/sampling/index.js";
import { shifted, shiftedBelow } from "../../offchain/sampling/fraction.js";
import {
  GUMBEL_BUCKETS,
  GUMBEL_BUCKET_LOWER,
  GUMBEL_BUCKET_SHIFT,
  GUMBEL_BUCKET_UPPER,
  gumbelHash,
  gumbelKey,
  gumbelNoise,
  gumbelNoiseOfHash,
} from "../../offchain/sampling/gumbel.js";
import * as ref from "./decode-reference.js";
import { gaussian, mulberry32 } from "./prng.js";

type Gen = (rand: () => number, V: number) => Float32Array | number[];

/** Logit families: scales, ties, masks (−1e4, −∞), near-uniform, ±0, a single live token. */
const GENERATORS: Record<string, Gen> = {
  gauss3: (r, V) => Float32Array.from({ length: V }, () => 3 * gaussian(r)),
  gauss10: (r, V) => Float32Array.from({ length: V }, () => 10 * gaussian(r)),
  gauss0_05: (r, V) => Float32Array.from({ length: V }, () => 0.05 * gaussian(r)),
  nearUniform: (r, V) => Float32Array.from({ length: V }, () => 2.5 + 1e-6 * gaussian(r)),
  flat: (_r, V) => new Float32Array(V).fill(1.25),
  ties: (r, V) => Float32Array.from({ length: V }, () => Math.round(4 * gaussian(r)) / 2),
  masked: (r, V) => Float32Array.from({ length: V }, () => (r() < 0.3 ? (r() < 0.5 ? -1e4 : -Infinity) : 3 * gaussian(r))),
  mostlyMasked: (r, V) => {
    const l = new Float32Array(V).fill(-Infinity);
    for (let i = 0; i < V; i++) if (r() < 0.02) l[i] = r() < 0.5 ? -1e4 : 2 * gaussian(r);
    l[Math.floor(r() * V)] = 1;
    return l;
  },
  signedZeros: (r, V) => Float32Array.from({ length: V }, () => [0, -0, 0.5, -0.5][Math.floor(r() * 4)]!),
  zipf: (r, V) => Float32Array.from({ length: V }, (_, i) => -1.1 * Math.log(i + 1) + 0.3 * gaussian(r)),
  large: (r, V) => Float32Array.from({ length: V }, () => 2000 * gaussian(r)),
  plainArray: (r, V) => Array.from({ length: V }, () => Math.round(8 * gaussian(r)) / 4),
};

const cfg = (temperature: number, topK: number, topP: number, seed = 77): DecodingConfig =>
  parseDecodingConfig({ seed, temperature, topK, topP, maxTokens: 1 });

const TOLERANCES: Partial<TokenTolerance>[] = [{}, { logitAbs: 0, logitRel: 0, cdfAbs: 0 }, { logitAbs: 0.3, logitRel: 0.01, cdfAbs: 0.05 }];

function same(a: Uint8Array | null, b: Uint8Array | null, what: string): void {
  if (a === null || b === null) {
    expect(a, what).to.equal(b);
    return;
  }
  expect(a.length, what).to.equal(b.length);
  expect(Buffer.compare(a, b), what).to.equal(0);
}

function analysisFields(a: TokenAnalysis | ref.TokenAnalysis) {
  const { delta, temperature, drawn, drawnScore, runnerUp, threshold, maxLogit } = a;
  return { delta, temperature, drawn, drawnScore, runnerUp, threshold, maxLogit };
}

/** Claimed tokens worth checking: both draws, the argmax, the canonical ranks around the kept boundary, random ids, out of range. */
function claims(logits: Float32Array | number[], kept: Uint8Array | null, drawn: number, rand: () => number, few: boolean): number[] {
  const V = logits.length;
  const ord = canonicalOrder(logits);
  if (few) return [drawn, ord[1] ?? drawn, Math.floor(rand() * V)];
  const out = new Set<number>([drawn, -1, V, 0, V - 1, Math.floor(rand() * V)]);
  out.add(ord[0]!);
  let m = V;
  if (kept) {
    m = 0;
    while (m < V && kept[ord[m]!]) m++;
  }
  for (const d of [-2, -1, 0, 1, 2, 5]) if (m + d >= 0 && m + d < V) out.add(ord[m + d]!);
  return [...out];
}

let compared = 0;
function compare(logits: Float32Array | number[], c: DecodingConfig, pos: number, tol: Partial<TokenTolerance>, rand: () => number, full: boolean): void {
  const what = `V=${logits.length} T=${c.temperature} k=${c.topK} p=${c.topP} pos=${pos} tol=${JSON.stringify(tol)}`;
  const d = drawToken(logits, c, pos);
  expect(d, `draw ${what}`).to.equal(ref.drawToken(logits, c, pos));
  const a = analyseToken(logits, c, pos, tol);
  const r = ref.analyseToken(logits, c, pos, tol);
  expect(analysisFields(a), `analysis ${what}`).to.deep.equal(analysisFields(r));
  same(a.kept, r.kept, `kept ${what}`);
  same(a.fMin, r.fMin, `fMin ${what}`);
  same(a.fMax, r.fMax, `fMax ${what}`);
  for (const t of claims(logits, a.kept, d, rand, logits.length > 50_000)) {
    expect(checkToken(logits, c, pos, t, tol), `check ${t} ${what}`).to.deep.equal(ref.checkToken(logits, c, pos, t, tol));
    compared++;
  }
  if (full) expect(acceptedTokens(logits, c, pos, tol, a), `accepted ${what}`).to.deep.equal(ref.acceptedTokens(logits, c, pos, tol, r));
}

describe("sampling/decode: fast implementation = reference (differential)", function () {
  this.timeout(120_000);

  it("small and medium vocabularies: every logit family × T 0/0.01/0.8/2 × top-k 0/1/40 × top-p 0.5/0.9/0.95/1 × tolerances", () => {
    const rand = mulberry32(2024);
    const temps = [0, 0.01, 0.8, 2];
    compared = 0;
    let vectors = 0;
    for (const V of [1, 2, 7, 41, 259, 1000]) {
      for (const [, gen] of Object.entries(GENERATORS)) {
        const logits = gen(rand, V);
        if (!Array.from(logits).some((x) => x > -Infinity)) continue;
        vectors++;
        for (const T of temps) {
          for (const topK of [0, 1, 40]) {
            for (const topP of [0.5, 0.9, 0.95, 1]) {
              const tol = TOLERANCES[Math.floor(rand() * TOLERANCES.length)]!;
              compare(logits, cfg(T, topK, topP), 100 + Math.floor(rand() * 1000), tol, rand, V <= 259);
            }
          }
        }
      }
    }
    expect(vectors).to.be.greaterThan(60);
    expect(compared).to.be.greaterThan(5_000);
  });

  it("random configurations on random vectors (V up to 20,000)", () => {
    const rand = mulberry32(99);
    const names = Object.keys(GENERATORS);
    for (let trial = 0; trial < 60; trial++) {
      const V = 1 + Math.floor(rand() ** 2 * 20_000);
      const logits = GENERATORS[names[trial % names.length]!]!(rand, V);
      const T = rand() < 0.1 ? 0 : 0.01 + rand() * 1.99;
      const topK = [0, 0, 1, 40, Math.floor(rand() * V)][Math.floor(rand() * 5)]!;
      const topP = [1, 0.5, 0.9, 0.95, rand()][Math.floor(rand() * 5)]! || 0.5;
      compare(logits, cfg(T, topK, topP, trial), Math.floor(rand() * 5000), TOLERANCES[trial % 3]!, rand, false);
    }
  });

  it("Qwen-sized vocabulary (151,936): N(0, 3²), near-uniform and masked logits, top-p / top-k / plain", () => {
    const rand = mulberry32(151936);
    const V = 151_936;
    const rows = [GENERATORS.gauss3!(rand, V), GENERATORS.nearUniform!(rand, V), GENERATORS.masked!(rand, V)];
    const configs = [cfg(1, 0, 0.9), cfg(0.8, 0, 0.95), cfg(2, 0, 0.5), cfg(0.01, 0, 0.95), cfg(1, 40, 0.9), cfg(1, 0, 1), cfg(0, 0, 1)];
    for (const [i, row] of rows.entries()) {
      for (const [j, c] of configs.entries()) {
        if ((i + j) % 2 === 1 && j < 4) continue; // keep the test to a few seconds: half of the top-p pairs
        compare(row, c, 300 + i * 7 + j, {}, rand, false);
      }
    }
  });
});

describe("sampling: the exactness lemmas of the fast paths", function () {
  this.timeout(60_000);

  it("shiftedBelow(A, B, lf, e^lf, target) === (shifted(A, B, lf) < target), also within 1e-16 of the target", () => {
    const rand = mulberry32(5);
    let exactPath = 0;
    for (let trial = 0; trial < 20_000; trial++) {
      const A = rand() < 0.05 ? 0 : Math.exp((rand() - 0.5) * 80);
      const B = rand() < 0.05 ? 0 : Math.exp((rand() - 0.5) * 80);
      const lf = rand() < 0.1 ? 0 : (rand() - 0.5) * (rand() < 0.9 ? 2 : 600);
      const v = shifted(A, B, lf);
      const offsets = [0, 1e-16, -1e-16, 1e-13, -1e-13, 1e-10, -1e-10, 2e-9, -2e-9, 1e-3, -0.3];
      const target = v + offsets[trial % offsets.length]!;
      const got = shiftedBelow(A, B, lf, Math.exp(lf), target);
      expect(got, `A=${A} B=${B} lf=${lf} target=${target}`).to.equal(v < target);
      if (Math.abs(target - v) < 1e-9) exactPath++;
    }
    expect(exactPath).to.be.greaterThan(5_000);
  });

  it("gumbelNoiseOfHash(key, gumbelHash(key, i)) === gumbelNoise(key, i), inside the bucket bounds", () => {
    for (const [seed, pos] of [[1n, 0], [2n ** 64n - 1n, 123_456], [42n, 7]] as const) {
      const key = gumbelKey(seed, pos);
      for (let i = 0; i < 50_000; i++) {
        const a = gumbelHash(key, i);
        const g = gumbelNoiseOfHash(key, a);
        if (g !== gumbelNoise(key, i)) expect(g).to.equal(gumbelNoise(key, i));
        const j = a >>> GUMBEL_BUCKET_SHIFT;
        if (!(GUMBEL_BUCKET_LOWER[j]! <= g && g <= GUMBEL_BUCKET_UPPER[j]!)) expect.fail(`g=${g} outside bucket ${j}`);
      }
    }
  });

  it("the bucket bounds hold at both ends of every bucket (the extreme u values)", () => {
    const g = (a: number, b20: number) => -Math.log(-Math.log((a * 2 ** 20 + b20 + 0.5) / 2 ** 52));
    for (let j = 0; j < GUMBEL_BUCKETS; j++) {
      const lo = j * 2 ** GUMBEL_BUCKET_SHIFT;
      const hi = (j + 1) * 2 ** GUMBEL_BUCKET_SHIFT - 1;
      for (const x of [g(lo, 0), g(lo, 1), g(hi, 2 ** 20 - 1), g(hi, 2 ** 20 - 2), g(Math.floor((lo + hi) / 2), 12345)]) {
        if (!(GUMBEL_BUCKET_LOWER[j]! <= x && x <= GUMBEL_BUCKET_UPPER[j]!)) expect.fail(`bucket ${j}: ${x}`);
      }
      if (j > 0 && !(GUMBEL_BUCKET_UPPER[j]! > GUMBEL_BUCKET_UPPER[j - 1]!)) expect.fail(`UPPER not increasing at ${j}`);
    }
  });
});
