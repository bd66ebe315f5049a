import { expect } from "chai";
import { buildModel, loadModel } from "../../offchain/model/index.js";
import { TOKEN_ATTACKS, TOKEN_HONEST, maskedModel, runTokenAttackSuite, type TokenAttackReport } from "../../offchain/verify/attacks-tokens.js";
import { DEFAULT_TOKEN_TOLERANCE, tokenDelta } from "../../offchain/sampling/index.js";
import { tempRoot } from "./helpers.js";

/** The adaptive token-check attacks of issue 9 (findings 1, 2) and their honest counterparts, tiny preset. */
describe("token-check attacks (tiny, fp32 and fp16)", function () {
  this.timeout(120_000);
  let root: string;
  let cleanup: () => Promise<void>;
  let report: TokenAttackReport;
  before(async () => {
    ({ root, cleanup } = await tempRoot());
    const models = [];
    for (const dtype of ["fp32", "fp16"] as const) {
      const dir = `${root}/tiny-${dtype}`;
      await buildModel(dir, { preset: "tiny", dtype });
      models.push({ name: `tiny-${dtype}`, dir });
    }
    report = await runTokenAttackSuite({ models, tokens: 32, runs: 1 });
  });
  after(async () => cleanup());

  it("detects every named attack on every run, by a margin (minSeparation > 1: the worst check is beyond 2δ)", () => {
    expect(Object.keys(report.attacks).sort()).to.deep.equal([...TOKEN_ATTACKS].sort());
    for (const [name, a] of Object.entries(report.attacks)) {
      expect(a.runs, name).to.be.greaterThan(0);
      expect(a.failures, name).to.equal(0);
      expect(a.minSeparation, name).to.be.above(1);
    }
    expect(report.missed).to.equal(0);
    // every dtype and temperature of the low-temperature attacks is covered
    for (const m of ["tiny-fp32", "tiny-fp16"])
      for (const T of ["0.001", "0.01"]) expect(report.variants[`low-temperature-any-text/${m}/T=${T}`]?.runs, `${m} ${T}`).to.equal(1);
  });

  it("accepts every honest receipt: 1 → 2 threads and graph optimisation all → disabled, greedy and T 0.01–1.5 with/without top-k/top-p", () => {
    expect(Object.keys(report.honest).sort()).to.deep.equal([...TOKEN_HONEST].sort());
    for (const [name, h] of Object.entries(report.honest)) {
      expect(h.runs, name).to.equal(26); // 13 decoding configurations × 2 precisions
      expect(h.failures, name).to.equal(0);
      expect(h.minSeparation, name).to.be.above(1);
    }
    expect(report.falseAlarms).to.equal(0);
  });

  it("lets an adaptive attacker steer only as many positions as the proven bound allows, and never to its own text", () => {
    for (const [key, v] of Object.entries(report.variants)) {
      if (!v.steering || !key.startsWith("steer-at-temperature")) continue;
      const s = v.steering;
      expect(s.positions, key).to.be.greaterThan(0);
      // E[steered] ≤ bound; allow Poisson-like fluctuation on a 32-position sample
      expect(s.steered, `${key}: steered ${s.steered}, bound ${s.bound}`).to.be.at.most(s.bound + 3 * Math.sqrt(s.bound + 1) + 1);
      expect(s.targetSteered, key).to.be.at.most(2);
    }
  });

  it("masked logits leave δ at the scale of the top logits (the old whole-vocabulary rule made it ~10)", async () => {
    const dir = `${root}/tiny-fp32`;
    const m = await loadModel(dir, { threads: 1 });
    try {
      const masked = maskedModel(m, [0]);
      const out = await masked.forward({ tokens: [65, 66, 67], past: null });
      const row = out.logits!.subarray(2 * m.config.vocabSize, 3 * m.config.vocabSize);
      expect(row[0]).to.equal(-1e4);
      const old = DEFAULT_TOKEN_TOLERANCE.logitAbs + DEFAULT_TOKEN_TOLERANCE.logitRel * 1e4;
      const now = tokenDelta(row, 0);
      expect(now).to.be.below(0.05);
      expect(old / now).to.be.above(100);
    } finally {
      await m.release();
    }
  });
});
