import { expect } from "chai";
import { readdir, readFile, writeFile, mkdir } from "node:fs/promises";
import { join } from "node:path";
import { buildModel } from "../../offchain/model/build.js";
import { canonicalJson, computeModelId, modelIdOf, resolveModelFiles, readOnnx } from "../../offchain/model/files.js";
import { ModelFileError, ModelInputError } from "../../offchain/model/errors.js";
import { byteLevelTokenizerConfig, byteLevelTokenizerJson, wrapTokenizer } from "../../offchain/model/tokenizer.js";
import { buildTiny, tempRoot } from "./helpers.js";

describe("model builder", function () {
  this.timeout(60_000);
  let root: string;
  let cleanup: () => Promise<void>;
  before(async () => ({ root, cleanup } = await tempRoot()));
  after(async () => cleanup());

  it("writes model.onnx, config.json and a byte-level tokenizer; counts parameters", async () => {
    const r = await buildTiny(root, "a", { weightSeed: 7 });
    expect((await readdir(r.dir)).sort()).to.deep.equal(["config.json", "model.onnx", "tokenizer.json", "tokenizer_config.json"]);
    expect(r.modelId).to.match(/^0x[0-9a-f]{64}$/);
    expect(r.bytes).to.be.within(1_000_000, 10_000_000);
    const cfg = JSON.parse(await readFile(join(r.dir, "config.json"), "utf8"));
    expect(cfg).to.include({
      model_type: "llama",
      num_hidden_layers: 4,
      hidden_size: 128,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      head_dim: 32,
      vocab_size: 259,
      tie_word_embeddings: false,
      torch_dtype: "float32",
      bos_token_id: 256,
      eos_token_id: 257,
    });
    // the parameter count equals the elements of the weight initializers
    const model = await readOnnx(join(r.dir, "model.onnx"));
    let n = 0;
    for (const t of model.graph!.initializer!)
      if (!t.name!.startsWith("const_")) n += (t.dims ?? []).reduce<number>((a, d) => a * Number(d), 1);
    expect(n).to.equal(r.params);
  });

  it("same seed gives the same model id, another seed another id", async () => {
    const a = await buildTiny(root, "s1", { weightSeed: 123 });
    const b = await buildTiny(root, "s2", { weightSeed: 123 });
    const c = await buildTiny(root, "s3", { weightSeed: 124 });
    expect(a.modelId).to.equal(b.modelId);
    expect(c.modelId).to.not.equal(a.modelId);
    expect(await modelIdOf(a.dir)).to.equal(a.modelId);
    // the id covers the config's behavioural fields and the tokenizer files
    const cfgPath = join(b.dir, "config.json");
    const cfg = JSON.parse(await readFile(cfgPath, "utf8"));
    await writeFile(cfgPath, JSON.stringify({ ...cfg, eos_token_id: [257, 258] }));
    expect(await modelIdOf(b.dir)).to.not.equal(a.modelId);
    const tokPath = join(c.dir, "tokenizer_config.json");
    const idC = await modelIdOf(c.dir);
    await writeFile(tokPath, (await readFile(tokPath, "utf8")) + " ");
    expect(await modelIdOf(c.dir)).to.not.equal(idC);
    // and only the model files: an unrelated file does not change it
    await writeFile(join(a.dir, "README.md"), "notes");
    expect(await modelIdOf(a.dir)).to.equal(a.modelId);
  });

  it("config whitespace, key order and provenance keys do not change the model id", async () => {
    const a = await buildTiny(root, "cfg", { weightSeed: 11 });
    const cfgPath = join(a.dir, "config.json");
    const cfg = JSON.parse(await readFile(cfgPath, "utf8")) as Record<string, unknown>;
    const reordered = Object.fromEntries(Object.entries(cfg).reverse());
    await writeFile(cfgPath, JSON.stringify({ ...reordered, _name_or_path: "someone/else", transformers_version: "4.99.0" }, null, 4));
    expect(await modelIdOf(a.dir)).to.equal(a.modelId);
  });

  it("the model id is the documented hash over roles and content, in role order", async () => {
    const r = await buildTiny(root, "doc");
    const files = await resolveModelFiles(r.dir);
    expect(files.roles).to.deep.equal([
      { role: "graph", path: "model.onnx" },
      { role: "config", path: "config.json" },
      { role: "tokenizer", path: "tokenizer.json" },
      { role: "tokenizer_config", path: "tokenizer_config.json" },
    ]);
    const { createHash } = await import("node:crypto");
    const sha = (b: string | Buffer) => createHash("sha256").update(b).digest("hex");
    const cfg = JSON.parse(await readFile(join(r.dir, "config.json"), "utf8"));
    delete cfg.poc_builder;
    let pre = "poc-model-id-v2\n";
    pre += `graph\n${sha(await readFile(join(r.dir, "model.onnx")))}\n`;
    pre += `config\n${sha(canonicalJson(cfg))}\n`;
    pre += `tokenizer\n${sha(await readFile(join(r.dir, "tokenizer.json")))}\n`;
    pre += `tokenizer_config\n${sha(await readFile(join(r.dir, "tokenizer_config.json")))}\n`;
    expect(r.modelId).to.equal(`0x${sha(pre)}`);
    expect((await computeModelId(r.dir, files)).modelId).to.equal(r.modelId);
    // canonical JSON: sorted keys, no whitespace
    expect(canonicalJson({ b: [1, { d: 1e-5, c: "x" }], a: null })).to.equal('{"a":null,"b":[1,{"c":"x","d":0.00001}]}');
  });

  it("external data: weights in model.onnx_data, covered by the id", async () => {
    const inline = await buildTiny(root, "inl", { weightSeed: 5 });
    const ext = await buildTiny(root, "ext", { weightSeed: 5, externalData: true });
    expect((await readdir(ext.dir)).sort()).to.include("model.onnx_data");
    expect(ext.files.map((f) => f.path)).to.include("model.onnx_data");
    expect(ext.modelId).to.not.equal(inline.modelId);
  });

  it("refuses a non-empty output directory unless forced, and leaves nothing half-written", async () => {
    const dir = join(root, "exists");
    await mkdir(dir);
    await writeFile(join(dir, "keep.txt"), "x");
    let err: unknown;
    try {
      await buildModel(dir, { preset: "tiny" });
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(ModelFileError);
    expect((err as Error).message).to.include(dir);
    const r = await buildModel(dir, { preset: "tiny" }, { force: true });
    expect(await readdir(r.dir)).to.not.include("keep.txt");
    // a failing build (bad shape) leaves no temp directory behind
    try {
      await buildModel(join(root, "bad"), { preset: "tiny", heads: 4, kvHeads: 3 });
      expect.fail("should have thrown");
    } catch (e) {
      expect(e).to.be.instanceOf(ModelInputError);
    }
    const left = (await readdir(root)).filter((f) => f.includes(".tmp-") || f === "bad");
    expect(left).to.deep.equal([]);
  });

  it("rejects impossible shapes", async () => {
    for (const o of [{ layers: 0 }, { heads: 3 }, { kvHeads: 3 }, { hiddenSize: 130, heads: 4, headDim: 33 }, { weightSeed: -1 }]) {
      let err: unknown;
      try {
        await buildModel(join(root, "never"), { preset: "tiny", ...o });
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(o)).to.be.instanceOf(ModelInputError);
    }
  });
});

describe("byte-level tokenizer", () => {
  const tok = wrapTokenizer(byteLevelTokenizerJson(), byteLevelTokenizerConfig(1024));
  it("round-trips text through its UTF-8 bytes", () => {
    for (const s of ["Hello, world!", "  spaces  and\ttabs\nnewlines ", "héllo — 日本語 🎉", "a .b ,c n't", ""]) {
      const ids = tok.encode(s);
      expect(ids).to.deep.equal([...Buffer.from(s, "utf8")]);
      expect(tok.decode(ids)).to.equal(s);
    }
  });
  it("adds <bos> on request and skips specials when decoding", () => {
    expect(tok.encode("hi", { addSpecialTokens: true })).to.deep.equal([256, 104, 105]);
    expect(tok.decode([256, 104, 105, 257])).to.equal("hi");
    expect(tok.decode([256, 104, 105, 257], { skipSpecialTokens: false })).to.equal("<bos>hi<eos>");
  });
});
