/**
 * Real export layouts (issue 11): content model ids, the hash cache, variants, the split and merged
 * Optimum graphs, external data, the onnxruntime #32416 graph fix, the load-time check run and the
 * context bound — each built here by the builder in that layout, loaded, and (for the layouts) run
 * through generate → verify.
 */
import { expect } from "chai";
import { copyFile, cp, mkdir, readFile, rename, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { buildModel, type BuildOptions, type BuildResult } from "../../offchain/model/build.js";
import { modelIdOf, modelIdsOf, readOnnx } from "../../offchain/model/files.js";
import { HASH_CACHE_FILE } from "../../offchain/model/hash-cache.js";
import { loadModel, type LoadedModel } from "../../offchain/model/load.js";
import { encodeModel } from "../../offchain/model/graph.js";
import { listVariants } from "../../offchain/model/variants.js";
import { ModelConfigError, ModelFileError } from "../../offchain/model/errors.js";
import { generate } from "../../offchain/generate/index.js";
import { verifyReceipt } from "../../offchain/verify/index.js";
import { ModelDirectory } from "../../offchain/worker/models.js";
import { maxAbsDiff, tempRoot } from "./helpers.js";
import { rejectsWith } from "../verify/helpers.js";

const PROMPT = [256, ...Buffer.from("Layouts that people download", "utf8")];
const SAMPLER = { seed: "0x" + "5a".repeat(32), ratePpm: 250_000, layersPerToken: 2 };
const GREEDY = { seed: 1, temperature: 0, topK: 0, topP: 1, maxTokens: 24 };

describe("model export layouts", function () {
  this.timeout(120_000);
  let root: string;
  let cleanup: () => Promise<void>;
  const build = (name: string, o: BuildOptions = {}): Promise<BuildResult> => buildModel(join(root, name), { preset: "tiny", weightSeed: 21, ...o });
  let plain: BuildResult;
  let plainModel: LoadedModel;
  let plainLogits: Float32Array;

  before(async () => {
    ({ root, cleanup } = await tempRoot());
    plain = await build("plain");
    plainModel = await loadModel(plain.dir, { threads: 1 });
    plainLogits = (await plainModel.forward({ tokens: PROMPT, past: null })).logits!;
  });
  after(async () => {
    await plainModel?.release();
    await cleanup();
  });

  describe("model id by content", () => {
    it("identical bytes in model.onnx and onnx/model.onnx get the same model id", async () => {
      const nested = await build("nested", { layout: "onnx" });
      expect(nested.files.map((f) => f.path)).to.include("onnx/model.onnx");
      expect(nested.modelId).to.equal(plain.modelId);
      // moved by hand into another directory name and layout: still the same id
      const moved = join(root, "moved-by-hand");
      await cp(plain.dir, moved, { recursive: true });
      await mkdir(join(moved, "onnx"));
      await rename(join(moved, "model.onnx"), join(moved, "onnx", "model.onnx"));
      expect(await modelIdOf(moved)).to.equal(plain.modelId);
      // and the loaded models agree, so a receipt of one verifies against the other
      const m = await loadModel(moved, { threads: 1 });
      try {
        expect(m.modelId).to.equal(plainModel.modelId);
        const r = await generate(plainModel, { promptTokens: PROMPT, decoding: GREEDY, sampler: SAMPLER });
        const v = await verifyReceipt(m, r.receipt);
        expect(v.agrees, v.firstMismatch?.detail).to.equal(true);
      } finally {
        await m.release();
      }
    });

    it("different weights in the same layout get different ids", async () => {
      const other = await build("other-seed", { weightSeed: 22 });
      expect(other.modelId).to.not.equal(plain.modelId);
    });

    it("the hash cache next to the model is used while size and mtime match, and refreshed when they change", async () => {
      const dir = join(root, "cached");
      await cp(plain.dir, dir, { recursive: true });
      const progress: number[] = [];
      const id = await modelIdOf(dir, { onProgress: (p) => progress.push(p.doneBytes / p.totalBytes) });
      expect(id).to.equal(plain.modelId);
      expect(progress.at(-1)).to.equal(1); // every uncached byte was hashed
      const cachePath = join(dir, HASH_CACHE_FILE);
      const cache = JSON.parse(await readFile(cachePath, "utf8"));
      expect(Object.keys(cache.files)).to.include.members(["model.onnx", "tokenizer.json"]);
      // second run: nothing to hash, no progress
      const second: number[] = [];
      expect(await modelIdOf(dir, { onProgress: (p) => second.push(p.doneBytes) })).to.equal(id);
      expect(second).to.deep.equal([]);
      // the cache is what is read: a forged entry with the same size and mtime changes the id...
      cache.files["model.onnx"].sha256 = "0".repeat(64);
      await writeFile(cachePath, JSON.stringify(cache));
      expect(await modelIdOf(dir)).to.not.equal(id);
      // ...unless the cache is off, and a new mtime makes it hash the file again
      expect(await modelIdOf(dir, { cache: false })).to.equal(id);
      const t = new Date(Date.now() + 5_000);
      await utimes(join(dir, "model.onnx"), t, t);
      expect(await modelIdOf(dir)).to.equal(id);
      // a corrupt cache is ignored
      await writeFile(cachePath, "{ not json");
      expect(await modelIdOf(dir)).to.equal(id);
    });
  });

  describe("variants", () => {
    let multi: string;
    before(async () => {
      const fp16 = await build("v-fp16", { layout: "onnx", dtype: "fp16", variantName: "fp16" });
      const q = await build("v-q", { layout: "onnx", weightQuantization: "int8", variantName: "quantized" });
      multi = (await build("multi", { layout: "onnx" })).dir;
      await copyFile(join(fp16.dir, "onnx", "model_fp16.onnx"), join(multi, "onnx", "model_fp16.onnx"));
      await copyFile(join(q.dir, "onnx", "model_quantized.onnx"), join(multi, "onnx", "model_quantized.onnx"));
    });

    it("lists every variant of onnx/model*.onnx", async () => {
      const vs = await listVariants(multi);
      expect(vs.map((v) => [v.name, v.graph])).to.deep.equal([
        ["fp32", "onnx/model.onnx"],
        ["fp16", "onnx/model_fp16.onnx"],
        ["quantized", "onnx/model_quantized.onnx"],
      ]);
    });

    it("several variants and none chosen: the error lists them", async () => {
      const e = (await rejectsWith(() => loadModel(multi), ModelFileError, /Several ONNX variants.*--variant/)) as ModelFileError;
      expect(e.details).to.include("fp16 (onnx/model_fp16.onnx)").and.include("fp32 (onnx/model.onnx)");
      await rejectsWith(() => loadModel(multi, { variant: "q4" }), ModelFileError, /No ONNX variant "q4"/);
    });

    it("--variant picks the file; int8 finds model_quantized.onnx; each variant has its own id", async () => {
      const fp16 = await loadModel(multi, { variant: "fp16", threads: 1 });
      const int8 = await loadModel(multi, { variant: "int8", threads: 1 });
      const fp32 = await loadModel(multi, { variant: "fp32", threads: 1 });
      try {
        expect(fp16.onnxFile).to.equal("onnx/model_fp16.onnx");
        expect(fp16.config.dtype).to.equal("fp16");
        expect(int8.onnxFile).to.equal("onnx/model_quantized.onnx");
        expect(fp32.modelId).to.equal(plain.modelId);
        expect(new Set([fp16.modelId, int8.modelId, fp32.modelId]).size).to.equal(3);
        const ids = await modelIdsOf(multi);
        expect(ids.map((x) => x.modelId)).to.deep.equal([fp32.modelId, fp16.modelId, int8.modelId]);
      } finally {
        for (const m of [fp16, int8, fp32]) await m.release();
      }
    });

    it("the workers' model directory finds every variant by its id", async () => {
      const md = new ModelDirectory(root);
      try {
        const fp16Id = (await modelIdsOf(multi)).find((x) => x.variant.name === "fp16")!.modelId;
        const m = await md.get(fp16Id);
        expect(m.modelId).to.equal(fp16Id);
        expect(m.variant.name).to.equal("fp16");
      } finally {
        await md.close();
      }
    });
  });

  describe("Optimum graphs", () => {
    for (const [name, o] of [
      ["split decoder_model.onnx + decoder_with_past_model.onnx", { layout: "split" }],
      ["split pair with external data", { layout: "split", externalData: true }],
      ["decoder_model_merged.onnx with use_cache_branch", { layout: "merged" }],
      ["onnx/model.onnx with external data (model.onnx_data)", { layout: "onnx", externalData: true }],
    ] as const) {
      it(`${name}: loads, computes what model.onnx computes, generates and verifies`, async () => {
        const b = await build(name.replace(/\W+/g, "-"), o);
        const m = await loadModel(b.dir, { threads: 1 });
        try {
          expect(m.modelId).to.equal(b.modelId);
          if (o.layout === "split") {
            expect(m.variant).to.include({ layout: "split", graph: "decoder_with_past_model.onnx", firstPassGraph: "decoder_model.onnx" });
            expect(m.files.map((f) => f.role)).to.include.members(["graph", "first_pass_graph"]);
          }
          if (o.layout === "merged") expect(m.inputNames).to.include("use_cache_branch");
          if ("externalData" in o) expect(m.files.some((f) => f.path.endsWith(".onnx_data"))).to.equal(true);
          const out = await m.forward({ tokens: PROMPT, past: null });
          expect(maxAbsDiff(out.logits!, plainLogits)).to.be.below(1e-5);
          // a step with the past (the with-past graph of the split pair)
          const head = await m.forward({ tokens: PROMPT.slice(0, -1), past: null });
          const step = await m.forward({ tokens: PROMPT.slice(-1), past: head.present });
          const V = m.config.vocabSize;
          expect(maxAbsDiff(step.logits!, plainLogits.subarray((PROMPT.length - 1) * V))).to.be.below(1e-4);
          // fetchLayers (pruned first-pass graph) equals the full pass
          const pr = await m.forward({ tokens: PROMPT, past: null, fetchLayers: 2 });
          expect(maxAbsDiff(pr.present.layers[1]!.key.data as Float32Array, out.present.layers[1]!.key.data as Float32Array)).to.be.below(1e-5);
          const r = await generate(m, { promptTokens: PROMPT, decoding: GREEDY, sampler: SAMPLER });
          const v = await verifyReceipt(m, r.receipt);
          expect(v.agrees, v.firstMismatch?.detail).to.equal(true);
        } finally {
          await m.release();
        }
      });
    }
  });

  describe("graph fixes at load", () => {
    it("same-dtype Casts (onnxruntime #32416) are removed so the graph runs at 'all', with the same numbers", async () => {
      const b = await build("upcast", { hfUpcast: true });
      // onnxruntime itself refuses the graph above "disabled"
      let raw: unknown;
      try {
        await ort.InferenceSession.create(join(b.dir, "model.onnx"), { graphOptimizationLevel: "basic", logSeverityLevel: 3 });
      } catch (e) {
        raw = e;
      }
      expect(String((raw as Error)?.message)).to.match(/is not a graph input/);
      const m = await loadModel(b.dir, { threads: 1 });
      try {
        expect(m.graphOptimizationLevel).to.equal("all");
        expect(m.notes.join("\n")).to.match(/removed 26 same-dtype Cast node\(s\).*#32416/);
        const out = await m.forward({ tokens: PROMPT, past: null });
        expect(maxAbsDiff(out.logits!, plainLogits)).to.be.below(1e-5);
        const r = await generate(m, { promptTokens: PROMPT, decoding: GREEDY, sampler: SAMPLER });
        const v = await verifyReceipt(plainModel, { ...r.receipt, modelId: plainModel.modelId });
        expect(v.agrees, v.firstMismatch?.detail).to.equal(true);
      } finally {
        await m.release();
      }
    });

    it("when the Casts cannot be proven same-dtype, the optimisation level is lowered and the loader says so", async () => {
      const b = await build("upcast-opaque", { hfUpcast: true });
      // hide the Cast inputs' type behind a one-input Sum (the identity; not in the type rules)
      const model = await readOnnx(join(b.dir, "model.onnx"));
      const nodes = model.graph!.node!;
      for (const n of [...nodes].filter((x) => x.opType === "Cast" && x.input![0]!.startsWith("MatMul"))) {
        const hidden = `${n.input![0]}_opaque`;
        nodes.splice(nodes.indexOf(n), 0, { opType: "Sum", input: [n.input![0]!], output: [hidden], name: `${hidden}_node` });
        n.input = [hidden];
      }
      await writeFile(join(b.dir, "model.onnx"), encodeModel(model));
      const m = await loadModel(b.dir, { threads: 1 });
      try {
        expect(m.graphOptimizationLevel).to.equal("disabled");
        expect(m.notes.some((n) => /lowered from "all" to "extended"/.test(n))).to.equal(true);
        expect(m.notes.some((n) => /lowered from "basic" to "disabled"/.test(n))).to.equal(true);
        const out = await m.forward({ tokens: PROMPT, past: null });
        expect(maxAbsDiff(out.logits!, plainLogits)).to.be.below(1e-4);
      } finally {
        await m.release();
      }
      // asked for "disabled" from the start: no notes
      const d = await loadModel(b.dir, { threads: 1, graphOptimizationLevel: "disabled" });
      expect(d.notes).to.deep.equal([]);
      await d.release();
    });

    it("the load-time check run finds a graph that fails at another sequence length", async () => {
      const b = await build("fixed-len");
      const model = await readOnnx(join(b.dir, "model.onnx"));
      const ids = model.graph!.input!.find((i) => i.name === "input_ids")!;
      ids.type!.tensorType!.shape!.dim![1] = { dimValue: 1 }; // only one token per call
      await writeFile(join(b.dir, "model.onnx"), encodeModel(model));
      await rejectsWith(() => loadModel(b.dir, { threads: 1 }), ModelFileError, /fails its load-time check run \(prefill of 3 tokens\)/);
      // without the check it loads, and fails only at first use
      const m = await loadModel(b.dir, { threads: 1, smokeTest: false });
      try {
        await m.forward({ tokens: [256], past: null });
        let err: unknown;
        await m.forward({ tokens: [256, 1, 2], past: null }).catch((e: unknown) => (err = e));
        expect(err).to.be.instanceOf(Error);
      } finally {
        await m.release();
      }
    });

    it("a config without max_position_embeddings is refused unless a context length is given", async () => {
      const b = await build("no-context");
      const cfgPath = join(b.dir, "config.json");
      const cfg = JSON.parse(await readFile(cfgPath, "utf8"));
      delete cfg.max_position_embeddings;
      await writeFile(cfgPath, JSON.stringify(cfg, null, 2));
      const e = (await rejectsWith(() => loadModel(b.dir), ModelConfigError, /no max_position_embeddings/)) as ModelConfigError;
      expect(e.details).to.include("--context-length");
      const m = await loadModel(b.dir, { threads: 1, contextLength: 64 });
      try {
        expect(m.config.maxPositions).to.equal(64);
        await rejectsWith(() => m.forward({ tokens: new Array<number>(65).fill(1), past: null }), Error, /exceeds the model's context of 64/);
      } finally {
        await m.release();
      }
      // a context length above the config's is refused
      await rejectsWith(() => loadModel(plain.dir, { contextLength: 4096 }), ModelConfigError, /above the model's max_position_embeddings 1024/);
    });
  });
});
