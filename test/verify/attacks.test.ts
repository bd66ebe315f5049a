import { expect } from "chai";
import { join } from "node:path";
import { runSuite, type SuiteReport } from "../../offchain/verify/attacks.js";
import { buildTiny, tempRoot } from "./helpers.js";

/** The attack and honesty suite of issue 4 on the tiny preset, fp32 and fp16. */
describe("attack and honesty suite (tiny)", function () {
  this.timeout(60_000);
  let root: string;
  let cleanup: () => Promise<void>;
  before(async () => ({ root, cleanup } = await tempRoot()));
  after(async () => cleanup());

  const EXPECTED: Record<string, string> = {
    "other-weights": "kv",
    "int8-weights": "kv",
    "perturbed-1pct": "kv",
    "fewer-layers": "kv",
    "cheap-decode": "token",
    "tokens-edited": "plan",
    "tokens-edited-resampled": "token",
    "sample-value-noise": "kv",
    "sample-key-swapped": "kv",
    "prompt-changed": "kv",
    "unplanned-sample": "plan",
    "extra-sample": "plan",
    "root-mismatch": "root",
  };

  const checkReport = (r: SuiteReport, minSeparation: number) => {
    for (const h of r.honest) expect(h.agrees, `${h.name}: ${h.firstMismatch?.detail}`).to.equal(true);
    expect(r.falseAlarms).to.equal(0);
    expect(r.honestRuns).to.equal(7);
    expect(r.attacks.map((a) => a.name).sort()).to.deep.equal(Object.keys(EXPECTED).sort());
    for (const a of r.attacks) {
      expect(a.agrees, a.name).to.equal(false);
      expect(a.caughtBy, a.name).to.equal(EXPECTED[a.name]);
    }
    expect(r.missed).to.equal(0);
    expect(r.canonical, "bitmaps identical with early stop on/off, chunked, 2 threads").to.equal(true);
    expect(r.minSeparation).to.be.at.least(minSeparation);
    // the whole-model attacks stop at the probe when layer 0 already differs
    expect(r.attacks.find((a) => a.name === "other-weights")!.earlyStopped).to.equal(true);
    // honest noise far below the threshold, whole-model attacks above it on every sample
    expect(r.maxHonestError).to.be.below(r.threshold / 2);
    expect(r.maxHonestTopError).to.be.greaterThan(0);
    expect(r.maxHonestTopError).to.be.below(r.topThreshold / 2);
    for (const name of ["other-weights", "int8-weights", "perturbed-1pct"]) {
      const a = r.attacks.find((x) => x.name === name)!;
      expect(Math.min(...a.keyErrors.map((k, i) => Math.max(k, a.valueErrors[i]!))), name).to.be.above(r.threshold);
    }
  };

  it("fp32: 7 honest runs agree, 13 attacks are caught by the expected check, margins ≥ 100×", async () => {
    const dir = await buildTiny(root, "fp32");
    const r = await runSuite({ modelDir: dir, workDir: join(root, "work32"), maxTokens: 48 });
    checkReport(r, 100);
    expect(r.threshold / r.maxHonestError, "honest headroom").to.be.above(20);
    expect(r.minSampleSeparation).to.be.above(100);
  });

  it("fp16: the same suite with the fp16 thresholds", async () => {
    const dir = await buildTiny(root, "fp16", { dtype: "fp16" });
    const r = await runSuite({ modelDir: dir, workDir: join(root, "work16"), maxTokens: 48 });
    expect(r.dtype).to.equal("fp16");
    checkReport(r, 10);
    expect(r.threshold / r.maxHonestError, "honest headroom").to.be.above(2);
  });
});
