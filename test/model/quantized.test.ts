/**
 * Quantised graphs as onnxruntime's tools write them (issue 11, "Precisions and quantisation"):
 * 4-bit MatMulNBits (q4, q4f16), dynamic int8 (DynamicQuantizeLinear + MatMulInteger) and static
 * QDQ, built from the seeded weights; loaded, generated, verified, and put through the attack suite.
 */
import { expect } from "chai";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { buildModel, type BuildOptions } from "../../offchain/model/build.js";
import { readOnnx } from "../../offchain/model/files.js";
import { graphPrecision } from "../../offchain/model/inspect.js";
import { loadModel, prefillChunked } from "../../offchain/model/load.js";
import { kvRow } from "../../offchain/model/kv.js";
import { GraphWriter, encodeModel } from "../../offchain/model/graph.js";
import { DT } from "../../offchain/model/onnx-proto.js";
import { passPlan, STEPWISE_PROMPT_CHUNK } from "../../offchain/model/passes.js";
import { quantizeQ4, quantizedLinear } from "../../offchain/model/quantized.js";
import { WeightRng } from "../../offchain/model/prng.js";
import { generate } from "../../offchain/generate/index.js";
import { GenerateConfigError } from "../../offchain/generate/errors.js";
import { verifyReceipt } from "../../offchain/verify/index.js";
import { kvVectorError } from "../../offchain/verify/metric.js";
import { runSuite } from "../../offchain/verify/attacks.js";
import { kvSampleVectors } from "../../offchain/receipt/index.js";
import { tempRoot } from "./helpers.js";

const PROMPT = [256, ...Buffer.from("Quantised graphs, replayed", "utf8")];
const SAMPLER = { seed: "0x" + "3c".repeat(32), ratePpm: 250_000, layersPerToken: 2 };
const DECODING = { seed: 5, temperature: 0.7, topK: 40, topP: 0.95, maxTokens: 32 };

describe("quantised graphs (q4, q4f16, int8 dynamic, QDQ)", function () {
  this.timeout(180_000);
  let root: string;
  let cleanup: () => Promise<void>;
  before(async () => ({ root, cleanup } = await tempRoot()));
  after(async () => cleanup());
  const build = (name: string, o: BuildOptions) => buildModel(join(root, name), { preset: "tiny", weightSeed: 9, ...o });

  it("MatMulNBits computes x · W with W from the q4 blocks as packed (low nibble first, zero point 8)", async () => {
    const [K, N, M] = [80, 24, 3]; // K not a multiple of 32: the last block is padded
    const w = new WeightRng(1n, "w").fillNormal(new Float32Array(K * N), 1);
    const x = new WeightRng(1n, "x").fillNormal(new Float32Array(M * K), 1);
    const g = new GraphWriter();
    const xin = g.input("x", DT.FLOAT, [M, K]);
    quantizedLinear(g, "q4", xin, "w", w, K, N, "fp32", "y");
    g.output("y", DT.FLOAT, [M, N]);
    const s = await ort.InferenceSession.create(encodeModel(g.toModel({ graphName: "t", opset: 17, producer: "test" })));
    const y = (await s.run({ x: new ort.Tensor("float32", x, [M, K]) })).y!.data as Float32Array;
    const { dequantized } = quantizeQ4(w, K, N);
    let maxErr = 0;
    let maxQ = 0;
    for (let m = 0; m < M; m++)
      for (let n = 0; n < N; n++) {
        let ref = 0;
        let exact = 0;
        for (let k = 0; k < K; k++) (ref += x[m * K + k]! * dequantized[k * N + n]!), (exact += x[m * K + k]! * w[k * N + n]!);
        maxErr = Math.max(maxErr, Math.abs(y[m * N + n]! - ref));
        maxQ = Math.max(maxQ, Math.abs(ref - exact));
      }
    await s.release();
    expect(maxErr).to.be.below(1e-4); // ORT's kernel = our dequantisation, to fp32 rounding
    expect(maxQ).to.be.above(0.05); // and 4-bit rounding is really there
  });

  const cases: [string, BuildOptions, string, string, boolean][] = [
    ["q4", { quantized: "q4" }, "model_q4.onnx", "4-bit MatMulNBits", false],
    ["q4f16", { quantized: "q4", dtype: "fp16" }, "model_q4f16.onnx", "4-bit MatMulNBits", false],
    ["int8", { quantized: "int8" }, "model_int8.onnx", "int8 dynamic (MatMulInteger)", true],
    ["qdq", { quantized: "qdq" }, "model_qdq.onnx", "int8 QDQ", true],
  ];
  for (const [name, o, file, quantization, stepwise] of cases) {
    it(`${name}: ${file} holds ${quantization}, loads (${stepwise ? "stepwise passes" : "prefill replay"}), generates and verifies`, async () => {
      const b = await build(name, o);
      const model = await readOnnx(join(b.dir, file));
      expect(graphPrecision(model).quantization).to.equal(quantization);
      if (name.startsWith("q4")) expect(model.opsetImport!.map((x) => x.domain)).to.include("com.microsoft");
      const m = await loadModel(b.dir, { threads: 1 });
      try {
        expect(m.variant.name).to.equal(name);
        expect(m.config.stepwise).to.equal(stepwise);
        if (stepwise) expect(m.notes.join(" ")).to.match(/quantises activations per forward pass/);
        const r = await generate(m, { promptTokens: PROMPT, decoding: DECODING, sampler: SAMPLER });
        const v = await verifyReceipt(m, r.receipt);
        expect(v.agrees, v.firstMismatch?.detail).to.equal(true);
        expect(v.errors.key.max).to.be.below(v.tolerances.kv / 2);
        if (stepwise) expect(v.errors.key.max).to.equal(0); // the same passes: bit-identical
      } finally {
        await m.release();
      }
    });
  }

  it("int8 dynamic: one prefill over the sequence is not what decode computed; the stepwise passes are", async () => {
    const b = await build("int8-passes", { quantized: "int8" });
    const m = await loadModel(b.dir, { threads: 1 });
    try {
      const r = await generate(m, { promptTokens: PROMPT, decoding: { ...DECODING, temperature: 0 }, sampler: SAMPLER });
      const feed = [...r.receipt.promptTokens, ...r.receipt.outputTokens].slice(0, -1);
      const P = r.receipt.promptTokens.length;
      // the plain prefill (every position a prompt position: one pass) against the stepwise plan
      const onePass = (await prefillChunked(m, feed, { keepLogits: false })).present;
      const steps = (await prefillChunked(m, feed, { keepLogits: false, promptLength: P })).present;
      let worstOne = 0;
      let worstSteps = 0;
      for (const s of r.receipt.samples.filter((x) => x.layer < m.config.layers && x.position >= P)) {
        const ref = (c: typeof onePass) => kvSampleVectors(r.receipt.sampler, s.layer, kvRow(c, s.layer, "key", s.position), kvRow(c, s.layer, "value", s.position)).key;
        worstOne = Math.max(worstOne, kvVectorError(s.key, ref(onePass), r.receipt.kvDtype));
        worstSteps = Math.max(worstSteps, kvVectorError(s.key, ref(steps), r.receipt.kvDtype));
      }
      expect(worstOne).to.be.above(1e-3); // above the fp32 threshold: a prefill replay would reject it
      expect(worstSteps).to.equal(0);
      // the generator may not read the prompt in other chunks
      let err: unknown;
      await generate(m, { promptTokens: PROMPT, decoding: DECODING, sampler: SAMPLER, prefillChunkSize: 7 }).catch((e) => (err = e));
      expect(err).to.be.instanceOf(GenerateConfigError);
      expect((err as Error).message).to.match(/chunks of 256/);
    } finally {
      await m.release();
    }
  });

  it("passPlan: prompt in chunks of 256 then one position a pass (stepwise); uniform chunks otherwise", () => {
    expect(passPlan(false, 10, 4, 4)).to.deep.equal([[0, 4], [4, 8], [8, 10]]);
    expect(passPlan(true, 300, 260, 512)).to.deep.equal([[0, STEPWISE_PROMPT_CHUNK], [256, 260], ...Array.from({ length: 40 }, (_, i) => [260 + i, 261 + i])]);
  });

  for (const [name, o] of [["q4", { quantized: "q4" }], ["int8", { quantized: "int8" }]] as const) {
    it(`${name}: the attack suite — honest runs agree, every attack is caught`, async () => {
      const b = await build(`${name}-suite`, o);
      const r = await runSuite({ modelDir: b.dir, workDir: join(root, `${name}-work`), maxTokens: 48 });
      for (const h of r.honest) expect(h.agrees, `${h.name}: ${h.firstMismatch?.detail}`).to.equal(true);
      expect(r.falseAlarms).to.equal(0);
      expect(r.honestRuns).to.equal(name === "int8" ? 6 : 8); // int8 (stepwise): no other prefill chunking, and batching is a probe
      if (name === "int8") {
        const batch = r.probes.find((p) => p.name === "batch-of-2")!;
        expect(batch.agrees, "a batched pass of a dynamically quantised graph depends on the other row").to.equal(false);
      }
      // OPEN as on float models (README "Top of the model"): the forged-top int8 head is seen by the token check only
      for (const a of r.attacks) if (a.name !== "lm-head-int8-forged-top") expect(a.agrees, a.name).to.equal(false);
      const names = r.attacks.map((a) => a.name);
      if (name === "int8") for (const n of ["lm-head-int8", "last-mlp-int8", "lm-head-int8-forged-top"]) expect(names).to.not.include(n);
      else expect(names).to.include("lm-head-int8");
      expect(r.canonical).to.equal(true);
      expect(r.maxHonestError).to.be.below(r.threshold / 2);
    });
  }
});
