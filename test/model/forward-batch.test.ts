/**
 * LoadedModel.forwardBatch: several sequences in one pass, as a batching generator runs them. Row i is
 * forward(inputs[i]) up to the kernels' rounding; rows must match in past and new lengths.
 */
import { expect } from "chai";
import { loadModel, type LoadedModel } from "../../offchain/model/load.js";
import { kvRow } from "../../offchain/model/kv.js";
import { ModelInputError } from "../../offchain/model/errors.js";
import { buildTiny, maxAbsDiff, tempRoot } from "./helpers.js";
import { rejectsWith } from "../verify/helpers.js";

describe("forwardBatch (a batch of sequences in one pass)", function () {
  this.timeout(60_000);
  let root: string;
  let cleanup: () => Promise<void>;
  let m: LoadedModel;
  before(async () => {
    ({ root, cleanup } = await tempRoot());
    m = await loadModel((await buildTiny(root, "tiny", { weightSeed: 9 })).dir, { threads: 1 });
  });
  after(async () => {
    await m.release();
    await cleanup();
  });

  const a = [256, 72, 101, 108, 108, 111];
  const b = [256, 87, 111, 114, 108, 100];

  it("row i of a prefill and of a decode step is what forward computes for that row alone", async () => {
    const [ra, rb] = await m.forwardBatch([{ tokens: a, past: null }, { tokens: b, past: null }]);
    const sa = await m.forward({ tokens: a, past: null });
    const sb = await m.forward({ tokens: b, past: null });
    expect(ra!.logits!.length).to.equal(a.length * m.config.vocabSize);
    expect(maxAbsDiff(ra!.logits!, sa.logits!)).to.be.below(1e-4);
    expect(maxAbsDiff(rb!.logits!, sb.logits!)).to.be.below(1e-4);
    // the two rows are different texts: their logits differ by far more than the batch's rounding
    expect(maxAbsDiff(ra!.logits!, rb!.logits!)).to.be.above(1e-2);
    for (const layer of [0, m.config.layers - 1])
      expect(maxAbsDiff(kvRow(ra!.present, layer, "key", 3), kvRow(sa.present, layer, "key", 3))).to.be.below(1e-4);
    // a decode step over the rows' own caches
    const [da, db] = await m.forwardBatch([{ tokens: [33], past: ra!.present }, { tokens: [44], past: rb!.present }]);
    const ea = await m.forward({ tokens: [33], past: sa.present });
    const eb = await m.forward({ tokens: [44], past: sb.present });
    expect(da!.present.length).to.equal(a.length + 1);
    expect(maxAbsDiff(da!.logits!, ea.logits!)).to.be.below(1e-4);
    expect(maxAbsDiff(db!.logits!, eb.logits!)).to.be.below(1e-4);
    expect(maxAbsDiff(kvRow(db!.present, 1, "value", a.length), kvRow(eb.present, 1, "value", a.length))).to.be.below(1e-4);
  });

  it("one row is forward itself, byte for byte", async () => {
    const [r] = await m.forwardBatch([{ tokens: a, past: null }]);
    const s = await m.forward({ tokens: a, past: null });
    expect(Buffer.from(r!.logits!.buffer).equals(Buffer.from(s.logits!.buffer))).to.equal(true);
  });

  it("refuses rows of different lengths and an empty batch", async () => {
    await rejectsWith(() => m.forwardBatch([{ tokens: a, past: null }, { tokens: b.slice(1), past: null }]), ModelInputError, /rows of a batch must match/);
    await rejectsWith(() => m.forwardBatch([]), ModelInputError, /at least one row/);
  });
});
