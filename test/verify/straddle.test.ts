import { expect } from "chai";
import { loadModel } from "../../offchain/model/index.js";
import { generate } from "../../offchain/generate/index.js";
import { verifyReceipt } from "../../offchain/verify/index.js";
import { analyticSplitBound, craftStraddle, runStraddleSuite, type StraddleSuiteReport } from "../../offchain/verify/straddle.js";
import { buildTiny, GREEDY, PROMPT, SAMPLER, tempRoot } from "./helpers.js";

/** Two-sided binomial slack: 4 standard deviations of a rate p over n trials. */
const slack = (p: number, n: number) => 4 * Math.sqrt(Math.max(p, 1 / n) * (1 - p) / n);

describe("straddle-threshold (issue 9, finding 3)", function () {
  this.timeout(180_000);
  let root: string;
  let cleanup: () => Promise<void>;
  before(async () => ({ root, cleanup } = await tempRoot()));
  after(async () => cleanup());

  it("a sample placed at the fixed threshold against graph opt all is matched there and not at opt disabled", async () => {
    const dir = await buildTiny(root, "fp32-craft");
    const all = await loadModel(dir, { threads: 1 });
    const dis = await loadModel(dir, { threads: 1, graphOptimizationLevel: "disabled" });
    try {
      const g = await generate(all, { promptTokens: PROMPT, decoding: { ...GREEDY, maxTokens: 48 }, sampler: SAMPLER });
      const { receipt, straddled } = await craftStraddle(g.receipt, { target: all, other: dis, placement: { kind: "single", level: "threshold" } });
      expect(straddled).to.have.length(1);
      const s = straddled[0]!;
      expect(s.errorTarget).to.be.at.most(s.level);
      expect(s.errorTarget).to.be.above(s.level * 0.9999);
      expect(s.errorOther).to.be.above(s.level);
      const va = await verifyReceipt(all, receipt);
      // finding 3: a verifier replaying at its own level ("disabled") disagrees with one at "all"
      const vd = await verifyReceipt(dis, receipt, { replayLevel: "model" });
      expect(va.agrees, va.firstMismatch?.detail).to.equal(true);
      expect(vd.agrees).to.equal(false);
      expect(vd.firstMismatch!.index).to.equal(s.index);
      // the pinned replay level: the receipt declares "all" (absent), so the verifier configured at
      // "disabled" replays at "all" too and gives the same bytes
      const pinned = await verifyReceipt(dis, receipt);
      expect(pinned.replayGraphOptimizationLevel).to.equal("all");
      expect(pinned.matchBitmapHex).to.equal(va.matchBitmapHex);
    } finally {
      await all.release();
      await dis.release();
    }
  });

  it("analyticSplitBound is the measure of u between two verifiers' boundaries, per stage", () => {
    // one KV sample: stats e and e·spread^(0.2) at scale e·spread^(-1)... boundaries u = 0 and 0.1
    const spread = 3;
    const e = 1e-3;
    expect(analyticSplitBound([[e / spread], [(e / spread) * spread ** 0.2]], [e], [false], spread)).to.be.closeTo(0.1, 1e-12);
    // identical stats never split; a second stage combines independently
    expect(analyticSplitBound([[e], [e]], [e], [false], spread)).to.equal(0);
    const both = analyticSplitBound([[e / spread, e / spread], [(e / spread) * spread ** 0.2, (e / spread) * spread ** 0.4]], [e, e], [false, true], spread);
    expect(both).to.be.closeTo(1 - 0.9 * 0.8, 1e-12);
  });

  const run = async (dtype: "fp32" | "fp16"): Promise<StraddleSuiteReport> => {
    const dir = await buildTiny(root, `suite-${dtype}`, { dtype });
    return runStraddleSuite({ modelDir: dir, receipts: 3, seeds: 30 });
  };

  it("straddle-threshold cannot split honest verifiers when the pool seeds thresholds (tiny fp32)", async () => {
    const r = await run("fp32");
    const n = r.runs * r.seedsPerReceipt;
    // without a seed the attack splits every receipt, and one side agrees with the generator
    expect(r.withoutSeed).to.equal(1);
    expect(r.harmfulWithoutSeed).to.equal(1);
    // ... unless the verifiers follow the receipt's declared level, as honest ones do: no split at all
    expect(r.pinnedWithoutSeed).to.equal(0);
    // with seeds drawn after the commit (30 per receipt, independent): measured 1 of 90 splits for the
    // attacker's best placement, analytic expectation 0.8 % (the two replays' errors of the crafted
    // sample are 1.5–2 % apart, against a ×9 range of τ); bound 5 %, and within 4σ of the expectation
    expect(r.analyticWithSeed).to.be.below(0.02);
    expect(r.withSeed).to.be.at.most(r.analyticWithSeed + slack(r.analyticWithSeed, n));
    expect(r.withSeed).to.be.below(0.05);
    expect(r.withSeedAtThreshold).to.be.below(0.05);
    // many samples over the range: a split there is one where both sides reject the generator
    expect(r.tiledHarmfulWithSeed).to.be.below(0.05);
  });

  it("fp16: the seed lowers the split rate but does not remove it (recorded; PROTOCOL.md)", async () => {
    const r = await run("fp16");
    const n = r.runs * r.seedsPerReceipt;
    expect(r.withoutSeed).to.equal(1);
    // following the receipt's level removes the split on fp16 too (one machine: same instruction set)
    expect(r.pinnedWithoutSeed).to.equal(0);
    // OPEN: fp16 all-vs-disabled noise is ~10–30 % of the threshold, the seeded range only ×2.25:
    // measured 24 % of 90 (analytic 20 %) on tiny fp16. The rate must stay what the errors predict.
    expect(r.analyticWithSeed).to.be.below(0.5);
    expect(Math.abs(r.withSeed - r.analyticWithSeed)).to.be.at.most(slack(r.analyticWithSeed, n));
    expect(r.withSeed).to.be.below(r.withoutSeed);
  });
});
