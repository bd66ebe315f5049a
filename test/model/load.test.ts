import { expect } from "chai";
import { cp, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { loadModel, prefillChunked, type LoadedModel } from "../../offchain/model/load.js";
import { kvRow, type KvCache } from "../../offchain/model/kv.js";
import { ExecutionProviderError, ModelConfigError, ModelError, ModelFileError, ModelInputError } from "../../offchain/model/errors.js";
import type { BuildResult } from "../../offchain/model/build.js";
import { buildTiny, maxAbsDiff, tempRoot } from "./helpers.js";

/** Tolerances stated by these tests (max abs error, decode step by step vs one prefill). */
const TOL = { fp32: 1e-4, fp16: 2e-2 };

// 1 bos + 23 byte tokens
const TOKENS = [256, ...Buffer.from("The cache proves it all", "utf8")];

async function stepwise(m: LoadedModel, tokens: number[], prefix: number) {
  let r = await m.forward({ tokens: tokens.slice(0, prefix), past: null });
  const logits: Float32Array[] = [r.logits!];
  for (let i = prefix; i < tokens.length; i++) {
    r = await m.forward({ tokens: [tokens[i]!], past: r.present });
    logits.push(r.logits!);
  }
  const all = new Float32Array(tokens.length * m.config.vocabSize);
  let off = 0;
  for (const l of logits) (all.set(l, off), (off += l.length));
  return { logits: all, present: r.present };
}

function kvMaxDiff(a: KvCache, b: KvCache, layers = a.layers.length): number {
  let m = 0;
  expect(a.length).to.equal(b.length);
  for (let l = 0; l < layers; l++)
    for (const k of ["key", "value"] as const)
      for (let p = 0; p < a.length; p++) m = Math.max(m, maxAbsDiff(kvRow(a, l, k, p), kvRow(b, l, k, p)));
  return m;
}

describe("model loader and forward", function () {
  this.timeout(120_000);
  let root: string;
  let cleanup: () => Promise<void>;
  let built: BuildResult;
  let m: LoadedModel;
  before(async () => {
    ({ root, cleanup } = await tempRoot());
    built = await buildTiny(root, "fp32", { weightSeed: 42 });
    m = await loadModel(built.dir, { threads: 1 });
  });
  after(async () => {
    await m?.release();
    await cleanup();
  });

  it("loads the built model with its id, shape and tokenizer", () => {
    expect(m.modelId).to.equal(built.modelId);
    expect(m.config).to.deep.include({ layers: 4, hiddenSize: 128, heads: 4, kvHeads: 2, headDim: 32, vocabSize: 259, dtype: "fp32", bosId: 256, eosId: 257 });
    expect(m.inputNames).to.include.members(["input_ids", "attention_mask", "position_ids", "past_key_values.3.value"]);
    expect(m.outputNames).to.include.members(["logits", "present.0.key", "present.3.value"]);
    expect(m.tokenizer.decode(m.tokenizer.encode("round trip ✓"))).to.equal("round trip ✓");
  });

  it("produces finite, non-degenerate logits and KV of the Optimum shapes", async () => {
    const r = await m.forward({ tokens: TOKENS, past: null });
    expect(r.logits!.length).to.equal(TOKENS.length * 259);
    expect(r.logits!.every(Number.isFinite)).to.equal(true);
    const last = r.logits!.subarray(r.logits!.length - 259);
    expect(Math.max(...last) - Math.min(...last)).to.be.greaterThan(1);
    expect(r.present.length).to.equal(TOKENS.length);
    expect(r.present.layers.length).to.equal(4);
    expect(r.present.layers[2]!.key.dims).to.deep.equal([1, 2, TOKENS.length, 32]);
    const row = kvRow(r.present, 1, "value", 5);
    expect(row.length).to.equal(64);
    // kvRow concatenates the kv heads: head 1 of position 5 starts at index 32
    const data = r.present.layers[1]!.value.data as Float32Array;
    expect(row[32]).to.equal(data[(1 * TOKENS.length + 5) * 32]);
  });

  it(`KV and logits from step-by-step decoding equal one prefill (fp32, max abs err < ${TOL.fp32})`, async () => {
    const full = await m.forward({ tokens: TOKENS, past: null });
    const step = await stepwise(m, TOKENS, 6);
    const kvErr = kvMaxDiff(full.present, step.present);
    const logitErr = maxAbsDiff(full.logits!, step.logits);
    console.log(`      fp32 decode-vs-prefill: KV max abs err ${kvErr.toExponential(2)}, logits ${logitErr.toExponential(2)}`);
    expect(kvErr).to.be.lessThan(TOL.fp32);
    expect(logitErr).to.be.lessThan(TOL.fp32 * 10);
  });

  it("chunked prefill equals one prefill", async () => {
    const full = await m.forward({ tokens: TOKENS, past: null });
    const chunked = await prefillChunked(m, TOKENS, { chunkSize: 5 });
    const err = Math.max(kvMaxDiff(full.present, chunked.present), maxAbsDiff(full.logits!, chunked.logits!));
    console.log(`      chunked (5) vs single prefill: max abs err ${err.toExponential(2)}`);
    expect(err).to.be.lessThan(TOL.fp32);
  });

  it("fetchLayers returns only the first layers' KV (pruned graph), equal to the full pass", async () => {
    const full = await m.forward({ tokens: TOKENS, past: null });
    const part = await m.forward({ tokens: TOKENS, past: null, fetchLayers: 2 });
    expect(part.logits).to.equal(null);
    expect(part.present.layers.length).to.equal(2);
    expect(kvMaxDiff(full.present, part.present, 2)).to.be.lessThan(1e-5);
    // chunked with fetchLayers: the past needs only those layers
    const chunked = await prefillChunked(m, TOKENS, { chunkSize: 7, fetchLayers: 2 });
    expect(chunked.logits).to.equal(null);
    expect(kvMaxDiff(full.present, chunked.present, 2)).to.be.lessThan(TOL.fp32);
    // a partial cache cannot feed a full forward
    let err: unknown;
    try {
      await m.forward({ tokens: [1], past: part.present });
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(ModelInputError);
  });

  it("rejects bad forward inputs with clear errors", async () => {
    const bad = [
      { tokens: [], past: null },
      { tokens: [259], past: null },
      { tokens: [1.5], past: null },
      { tokens: [1], past: null, fetchLayers: 0 },
      { tokens: [1], past: null, fetchLayers: 5 },
      { tokens: new Array<number>(1025).fill(1), past: null }, // beyond max_position_embeddings (1024)
    ];
    for (const input of bad) {
      let err: unknown;
      try {
        await m.forward(input);
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(input)).to.be.instanceOf(ModelInputError);
    }
    expect(() => kvRow({ length: 0, layers: [] }, 0, "key", 0)).to.throw(ModelInputError);
  });

  it(`fp16 variant: loads as fp16, decode-vs-prefill within ${TOL.fp16}, close to fp32`, async () => {
    const b = await buildTiny(root, "fp16", { weightSeed: 42, dtype: "fp16" });
    const h = await loadModel(b.dir, { threads: 1 });
    try {
      expect(h.config.dtype).to.equal("fp16");
      expect(b.bytes).to.be.lessThan(built.bytes * 0.6);
      const full = await h.forward({ tokens: TOKENS, past: null });
      expect(full.present.layers[0]!.key.type).to.equal("float16");
      expect(full.logits!.every(Number.isFinite)).to.equal(true);
      const step = await stepwise(h, TOKENS, 6);
      const kvErr = kvMaxDiff(full.present, step.present);
      const ref = await m.forward({ tokens: TOKENS, past: null });
      const vsFp32 = kvMaxDiff(full.present, ref.present);
      console.log(
        `      fp16 decode-vs-prefill: KV max abs err ${kvErr.toExponential(2)}, logits ${maxAbsDiff(full.logits!, step.logits).toExponential(2)}; fp16 vs fp32 KV ${vsFp32.toExponential(2)}, logits ${maxAbsDiff(full.logits!, ref.logits!).toExponential(2)}`,
      );
      expect(kvErr).to.be.lessThan(TOL.fp16);
      const chunked = await prefillChunked(h, TOKENS, { chunkSize: 4 });
      expect(kvMaxDiff(full.present, chunked.present)).to.be.lessThan(TOL.fp16);
      const part = await h.forward({ tokens: TOKENS, past: null, fetchLayers: 1 });
      expect(kvMaxDiff(full.present, part.present, 1)).to.equal(0);
    } finally {
      await h.release();
    }
  });

  it("handles both layouts: without position_ids, with use_cache_branch, with external data", async () => {
    const ref = await m.forward({ tokens: TOKENS, past: null });
    const refStep = await stepwise(m, TOKENS, 10);
    for (const [name, opts, expectInputs, lacks] of [
      ["nopos", { positionIds: false }, [], ["position_ids"]],
      ["ucb", { useCacheBranch: true }, ["use_cache_branch", "position_ids"], []],
      ["ext", { externalData: true }, ["position_ids"], []],
    ] as const) {
      const b = await buildTiny(root, name, { weightSeed: 42, ...opts });
      const v = await loadModel(b.dir, { threads: 1 });
      try {
        expect(v.inputNames, name).to.include.members([...expectInputs]);
        for (const n of lacks) expect(v.inputNames, name).to.not.include(n);
        const full = await v.forward({ tokens: TOKENS, past: null });
        expect(kvMaxDiff(full.present, ref.present), name).to.be.lessThan(1e-5);
        expect(maxAbsDiff(full.logits!, ref.logits!), name).to.be.lessThan(1e-4);
        const step = await stepwise(v, TOKENS, 10);
        expect(kvMaxDiff(step.present, refStep.present), name).to.be.lessThan(1e-5);
        const part = await v.forward({ tokens: TOKENS.slice(0, 9), past: null, fetchLayers: 3 });
        const rest = await v.forward({ tokens: TOKENS.slice(9), past: part.present, fetchLayers: 3 });
        expect(kvMaxDiff(rest.present, ref.present, 3), name).to.be.lessThan(TOL.fp32);
      } finally {
        await v.release();
      }
    }
  });

  it("execution providers: unknown, cuda and webgpu give a clear error where unavailable", async () => {
    for (const provider of ["cuda", "webgpu"] as const) {
      try {
        const g = await loadModel(built.dir, { provider });
        // a machine with the provider: it must compute the same thing (within fp noise)
        const r = await g.forward({ tokens: TOKENS, past: null });
        const ref = await m.forward({ tokens: TOKENS, past: null });
        expect(kvMaxDiff(r.present, ref.present)).to.be.lessThan(1e-2);
        await g.release();
      } catch (e) {
        expect(e, provider).to.be.instanceOf(ExecutionProviderError);
        expect((e as Error).message).to.include(provider);
      }
    }
    let err: unknown;
    try {
      await loadModel(built.dir, { provider: "tpu" as never });
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(ExecutionProviderError);
  });

  describe("bad model directories", () => {
    async function expectLoadError(dir: string, cls: new (...a: never[]) => ModelError, mention: string) {
      let err: unknown;
      try {
        await loadModel(dir);
      } catch (e) {
        err = e;
      }
      expect(err, mention).to.be.instanceOf(cls);
      expect((err as Error).message, mention).to.include(mention);
    }
    async function copyModel(name: string): Promise<string> {
      const d = join(root, name);
      await cp(built.dir, d, { recursive: true });
      return d;
    }

    it("missing directory / not a model directory", async () => {
      await expectLoadError(join(root, "nope"), ModelFileError, join(root, "nope"));
      const empty = join(root, "empty");
      await mkdir(empty);
      await expectLoadError(empty, ModelFileError, "No ONNX model");
    });
    it("missing or corrupt files name the file", async () => {
      const d1 = await copyModel("nocfg");
      await rm(join(d1, "config.json"));
      await expectLoadError(d1, ModelFileError, join(d1, "config.json"));
      const d2 = await copyModel("notok");
      await rm(join(d2, "tokenizer.json"));
      await expectLoadError(d2, ModelFileError, join(d2, "tokenizer.json"));
      const d3 = await copyModel("corrupt");
      const bytes = await readFile(join(d3, "model.onnx"));
      await writeFile(join(d3, "model.onnx"), bytes.subarray(0, bytes.length >> 1));
      await expectLoadError(d3, ModelFileError, join(d3, "model.onnx"));
      const d4 = await copyModel("garbage");
      await writeFile(join(d4, "model.onnx"), "this is not a model");
      await expectLoadError(d4, ModelFileError, join(d4, "model.onnx"));
      const d5 = await copyModel("badjson");
      await writeFile(join(d5, "config.json"), "{ not json");
      await expectLoadError(d5, ModelFileError, join(d5, "config.json"));
    });
    it("invalid or inconsistent config.json", async () => {
      const d1 = await copyModel("cfg1");
      const cfg = JSON.parse(await readFile(join(d1, "config.json"), "utf8"));
      await writeFile(join(d1, "config.json"), JSON.stringify({ ...cfg, num_hidden_layers: undefined }));
      await expectLoadError(d1, ModelConfigError, "num_hidden_layers");
      const d2 = await copyModel("cfg2");
      await writeFile(join(d2, "config.json"), JSON.stringify({ ...cfg, num_hidden_layers: 6 }));
      await expectLoadError(d2, ModelConfigError, "num_hidden_layers");
      const d3 = await copyModel("cfg3");
      await writeFile(join(d3, "config.json"), JSON.stringify({ ...cfg, vocab_size: 300 }));
      await expectLoadError(d3, ModelConfigError, "vocab_size");
      const d4 = await copyModel("cfg4");
      await writeFile(join(d4, "config.json"), JSON.stringify({ ...cfg, hidden_size: "128" }));
      await expectLoadError(d4, ModelConfigError, join(d4, "config.json"));
    });
    it("accepts the merged Optimum file name", async () => {
      const d = join(root, "merged");
      await mkdir(d);
      for (const f of ["config.json", "tokenizer.json", "tokenizer_config.json"]) await cp(join(built.dir, f), join(d, f));
      await cp(join(built.dir, "model.onnx"), join(d, "decoder_model_merged.onnx"));
      const v = await loadModel(d);
      expect(v.onnxFile).to.equal("decoder_model_merged.onnx");
      expect(v.modelId).to.equal(built.modelId); // the id is of the content, not of file names
      await v.release();
    });
  });
});
