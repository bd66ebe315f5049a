import { expect } from "chai";
import { loadModel, type LoadedModel } from "../../offchain/model/index.js";
import { generate } from "../../offchain/generate/index.js";
import { decodeReceipt, encodeReceipt } from "../../offchain/receipt/index.js";
import { verifyReceipt, type Verdict } from "../../offchain/verify/index.js";
import { buildTiny, PROMPT, SAMPLED, SAMPLER, tempRoot } from "./helpers.js";

const maxError = (v: Verdict) => Math.max(0, ...(v.samples ?? []).map((s) => Math.max(s.keyError, s.valueError)));

describe("pinned replay level (issue 9, findings 3 and 6)", function () {
  this.timeout(180_000);
  let root: string;
  let cleanup: () => Promise<void>;
  before(async () => ({ root, cleanup } = await tempRoot()));
  after(async () => cleanup());

  it("a receipt generated at graph opt basic (fp16) declares it; a verifier configured at all replays at basic, byte for byte like one at basic", async () => {
    const dir = await buildTiny(root, "fp16", { dtype: "fp16" });
    const open: LoadedModel[] = [];
    const load = async (level: "basic" | "all" | "disabled", threads = 1) => {
      const m = await loadModel(dir, { threads, graphOptimizationLevel: level });
      open.push(m);
      return m;
    };
    try {
      const gen = await load("basic");
      const g = await generate(gen, { promptTokens: PROMPT, decoding: { ...SAMPLED, maxTokens: 64 }, sampler: SAMPLER });
      expect(g.receipt.graphOptimizationLevel).to.equal("basic");
      expect(decodeReceipt(encodeReceipt(g.receipt)).graphOptimizationLevel).to.equal("basic");

      const atBasic = await verifyReceipt(await load("basic", 2), g.receipt, { earlyStop: false, collectSamples: true });
      const atAll = await load("all", 2);
      const pinned = await verifyReceipt(atAll, g.receipt, { earlyStop: false, collectSamples: true });
      expect(pinned.replayGraphOptimizationLevel).to.equal("basic");
      expect(pinned.agrees, pinned.firstMismatch?.detail).to.equal(true);
      expect(pinned.matchBitmapHex).to.equal(atBasic.matchBitmapHex);
      expect(maxError(pinned)).to.equal(maxError(atBasic));
      // the sibling session is kept: a second receipt at that level reuses it
      expect(await atAll.atGraphLevel("basic")).to.equal(await atAll.atGraphLevel("basic"));

      // without the pin (replayLevel "model") the verifier's own level adds the fusions' rounding
      const cross = await verifyReceipt(atAll, g.receipt, { earlyStop: false, collectSamples: true, replayLevel: "model" });
      expect(cross.replayGraphOptimizationLevel).to.equal("all");
      expect(maxError(cross)).to.be.above(maxError(pinned));
    } finally {
      for (const m of open) await m.release();
    }
  });

  it("an unknown replayLevel option is refused", async () => {
    const dir = await buildTiny(root, "fp32");
    const m = await loadModel(dir, { threads: 1 });
    try {
      const g = await generate(m, { promptTokens: PROMPT, decoding: { ...SAMPLED, maxTokens: 8 }, sampler: SAMPLER });
      expect(g.receipt.graphOptimizationLevel).to.equal(undefined);
      let err: unknown;
      try {
        await verifyReceipt(m, g.receipt, { replayLevel: "mine" as never });
      } catch (e) {
        err = e;
      }
      expect(String(err)).to.match(/replayLevel must be "receipt" or "model"/);
    } finally {
      await m.release();
    }
  });
});
