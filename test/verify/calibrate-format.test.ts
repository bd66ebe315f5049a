import { expect } from "chai";
import { formatCalibration, type CalibrationReport } from "../../offchain/verify/calibrate.js";
import { resolveTolerances } from "../../offchain/verify/metric.js";

describe("poc calibrate report text", () => {
  const report = (dtype: "fp32" | "fp16"): CalibrationReport => {
    const t = resolveTolerances(dtype);
    return {
      modelId: "0x" + "00".repeat(32),
      dtype,
      threshold: t.kv,
      topThreshold: t.top,
      spread: t.spread,
      positionScale: t.positionScale,
      tokenTolerance: t.token,
      honest: [],
      attacks: [],
      probes: [],
      margins: {
        maxHonest: 1e-5,
        minAttackSample: 1e-2,
        minAttackReceipt: 1e-1,
        honestHeadroom: 100,
        attackHeadroom: 10,
        sampleSeparation: 1000,
        receiptSeparation: 1e4,
        maxAbsOverRmsSeparation: 900,
        suggestedThreshold: 3e-4,
      },
      suite: { honestRuns: 0, falseAlarms: 0, attackRuns: 0, missed: 0, canonical: true, minSeparation: 1, minSampleSeparation: 1 },
    };
  };

  it("states the Gumbel-max token rule, the top threshold and the seeded spread of the model's precision", () => {
    const text = formatCalibration(report("fp16")).join("\n");
    expect(text).to.include("Gumbel-max");
    expect(text).to.include("s_c ≥ R − 2δ");
    expect(text).to.include("δ = 0.02 + 0.01·max{|l_j| : l_j ≥ l_max − T·40.34 − max(1, 4δ)}");
    expect(text).to.include("top sample (logits projections) ≤ 5.00e-3");
    expect(text).to.include("[÷1.5, ×1.5]");
    // the id-order CDF rule (δ over max|logit| of the whole vocabulary, a cdf window) is gone
    expect(text).not.to.include("max|logit| (cdf slack");
  });
});
