/**
 * `poc model build --add-variant` (issue 11, layouts): a transformers.js-shaped directory — one
 * config.json and tokenizer, onnx/model.onnx, model_fp16.onnx, model_q4.onnx, … — built variant by
 * variant, each loaded by --variant with its own model id and run through generate → verify; a build
 * of another model is refused.
 */
import { expect } from "chai";
import { cp, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { addModelVariant, buildModel, type BuildOptions } from "../../offchain/model/build.js";
import { modelIdsOf } from "../../offchain/model/files.js";
import { loadModel } from "../../offchain/model/load.js";
import { listVariants } from "../../offchain/model/variants.js";
import { ModelFileError, ModelInputError } from "../../offchain/model/errors.js";
import { generate } from "../../offchain/generate/index.js";
import { verifyReceipt } from "../../offchain/verify/index.js";
import { tempRoot } from "./helpers.js";
import { rejectsWith } from "../verify/helpers.js";

const PROMPT = [256, ...Buffer.from("one folder, every precision", "utf8")];
const SAMPLER = { seed: "0x" + "3c".repeat(32), ratePpm: 250_000, layersPerToken: 2 };
const GREEDY = { seed: 1, temperature: 0, topK: 0, topP: 1, maxTokens: 16 };

describe("model build --add-variant (one directory, several variants)", function () {
  this.timeout(120_000);
  let root: string;
  let cleanup: () => Promise<void>;
  let dir: string;
  const base: BuildOptions = { preset: "tiny", architecture: "qwen2", weightSeed: 5 };

  before(async () => {
    ({ root, cleanup } = await tempRoot());
    dir = (await buildModel(join(root, "repo"), { ...base, layout: "onnx" })).dir;
  });
  after(async () => cleanup());

  it("adds fp16, q4, q4f16 and int8 beside onnx/model.onnx, keeping the directory's config and tokenizer", async () => {
    const config = await readFile(join(dir, "config.json"), "utf8");
    const added = [
      await addModelVariant(dir, { ...base, dtype: "fp16" }),
      await addModelVariant(dir, { ...base, quantized: "q4" }),
      await addModelVariant(dir, { ...base, quantized: "q4", dtype: "fp16" }),
      await addModelVariant(dir, { ...base, quantized: "int8" }),
    ];
    expect(await readFile(join(dir, "config.json"), "utf8")).to.equal(config);
    const vs = await listVariants(dir);
    expect(vs.map((v) => [v.name, v.graph])).to.deep.equal([
      ["fp32", "onnx/model.onnx"],
      ["fp16", "onnx/model_fp16.onnx"],
      ["int8", "onnx/model_int8.onnx"],
      ["q4", "onnx/model_q4.onnx"],
      ["q4f16", "onnx/model_q4f16.onnx"],
    ]);
    const ids = await modelIdsOf(dir);
    expect(new Set(ids.map((x) => x.modelId)).size).to.equal(5);
    // each result names the id the directory gives that variant
    for (const r of added) expect(ids.map((x) => x.modelId)).to.include(r.modelId);
  });

  for (const variant of ["fp16", "q4", "int8"]) {
    it(`the ${variant} variant loads by --variant, generates and verifies`, async () => {
      const m = await loadModel(dir, { variant, threads: 1 });
      try {
        const g = await generate(m, { promptTokens: PROMPT, decoding: GREEDY, sampler: SAMPLER });
        const v = await verifyReceipt(m, g.receipt);
        expect(v.agrees, v.firstMismatch?.detail).to.equal(true);
        expect(g.receipt.modelId).to.equal(m.modelId);
      } finally {
        await m.release();
      }
    });
  }

  it("refuses another model's build, another tokenizer's, and an existing variant (unless force)", async () => {
    await rejectsWith(() => addModelVariant(dir, { ...base, weightSeed: 6, dtype: "fp16", variantName: "other" }), ModelInputError, /not .*'s model: config\.json differs in poc_builder/);
    await rejectsWith(() => addModelVariant(dir, { ...base, architecture: "llama", dtype: "fp16", variantName: "other" }), ModelInputError, /differs in .*model_type/);
    await rejectsWith(() => addModelVariant(dir, { ...base, dtype: "fp16" }), ModelFileError, /This variant exists already/);
    const edited = join(root, "edited");
    await cp(dir, edited, { recursive: true });
    const tc = JSON.parse(await readFile(join(edited, "tokenizer_config.json"), "utf8")) as Record<string, unknown>;
    await writeFile(join(edited, "tokenizer_config.json"), JSON.stringify({ ...tc, chat_template: "{{ messages[0].content }}" }));
    await rejectsWith(() => addModelVariant(edited, { ...base, dtype: "fp16", variantName: "other" }), ModelInputError, /tokenizer_config\.json differs/);
    await rejectsWith(() => addModelVariant(join(root, "nowhere"), { ...base, dtype: "fp16" }), ModelFileError, /No config\.json/);
    const before = (await modelIdsOf(dir)).find((x) => x.variant.name === "fp16")!.modelId;
    const again = await addModelVariant(dir, { ...base, dtype: "fp16" }, { force: true });
    expect(again.modelId).to.equal(before); // the builder is deterministic: the same bytes again
    expect((await listVariants(dir)).map((v) => v.name)).to.not.include("other");
  });
});
