import { expect } from "chai";
import { join } from "node:path";
import { runSuite, type SuiteReport } from "../../offchain/verify/attacks.js";
import { buildTiny, tempRoot } from "./helpers.js";

/** The attack and honesty suite of issue 4 on the tiny preset, fp32 and fp16. */
describe("attack and honesty suite (tiny)", function () {
  this.timeout(120_000);
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
    "lm-head-int8": "top",
    "lm-head-bf16": "top",
    "last-mlp-int8": "top",
    "skip-last-layer": "top",
    "bf16-weights": "kv",
    "fp16-weights": "kv",
    "fp16-activations": "kv",
    "short-receipt-fp16-weights": "kv",
    "kv-cache-fp16": "kv",
    "kv-cache-int8": "kv",
    "kv-cache-fp8": "kv",
    "plan-aware-skip": "token",
    "fp16-decode-fp32-prefill": "kv",
    "lm-head-int8-forged-top": "token",
  };
  const ORIGINAL = Object.keys(EXPECTED).slice(0, 13);
  // at fp16 these are the model itself (not attacks)
  const FP32_ONLY = ["fp16-weights", "fp16-activations", "short-receipt-fp16-weights", "kv-cache-fp16", "fp16-decode-fp32-prefill"];

  const checkReport = (r: SuiteReport, minSeparation: number) => {
    for (const h of r.honest) expect(h.agrees, `${h.name}: ${h.firstMismatch?.detail}`).to.equal(true);
    expect(r.falseAlarms).to.equal(0);
    expect(r.honestRuns).to.equal(8);
    const names = Object.keys(EXPECTED).filter((n) => r.dtype === "fp32" || !FP32_ONLY.includes(n));
    expect(r.attacks.map((a) => a.name).sort()).to.deep.equal(names.sort());
    // OPEN (issue 9): a bf16 LM head on an fp16 model stays within the fp16 top threshold (5e-3; honest
    // top noise ~1e-3 on tiny fp16), so it is not caught there yet; it runs and is reported, and
    // r.missed counts it. Every other attack must be caught.
    // OPEN too: an int8 LM head with the top samples reported from the true hidden state (R·W·h) is seen
    // by the token check only, which catches it on some receipts (tiny fp32, 128 tokens: 1 token of 128)
    // and not on others (tiny fp16): README "Top of the model". Its top samples must pass (the forgery works).
    const knownMisses = r.dtype === "fp16" ? ["lm-head-bf16", "lm-head-int8-forged-top"] : ["lm-head-int8-forged-top"];
    const forged = r.attacks.find((a) => a.name === "lm-head-int8-forged-top")!;
    expect(["token", "none"]).to.include(forged.caughtBy);
    const forgedTop = forged.keyErrors.flatMap((k, i) => (forged.sampleTop[i] ? [Math.max(k, forged.valueErrors[i]!)] : []));
    expect(forgedTop.length).to.be.greaterThan(0);
    expect(Math.max(...forgedTop)).to.be.below(r.topThreshold);
    for (const a of r.attacks) {
      if (knownMisses.includes(a.name)) continue;
      expect(a.agrees, a.name).to.equal(false);
      expect(a.caughtBy, a.name).to.equal(EXPECTED[a.name]);
    }
    expect(r.missed).to.equal(r.attacks.filter((a) => knownMisses.includes(a.name) && a.agrees).length);
    expect(r.canonical, "bitmaps identical with early stop on/off, chunked, 2 threads").to.equal(true);
    // the 13 attacks of issue 4 keep their margin; at fp16 the issue-9 top-of-model attacks have less (OPEN,
    // reported in r.minSeparation: last-mlp-int8 13.4, lm-head-int8 13.6 on tiny fp16 at 48 tokens, 2.1 / 4.5
    // on small fp16; lm-head-bf16 4.4 and missed: offchain/verify/README.md), at fp32 every attack has it
    const original = r.attacks.filter((a) => ORIGINAL.includes(a.name) && (a.caughtBy === "kv" || a.caughtBy === "top"));
    expect(Math.min(...original.map((a) => a.separation))).to.be.at.least(minSeparation);
    if (r.dtype === "fp32") expect(r.minSeparation).to.be.at.least(minSeparation);
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

  it("fp32: 8 honest runs agree, 13 attacks are caught by the expected check, margins ≥ 100×", async () => {
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
