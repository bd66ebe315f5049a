/**
 * Architectures by config.json (issue 11): each built small and seeded in its shape, loaded from its
 * config, run through generate → verify, and checked to really compute its trait (it differs from the
 * Llama build of the same seed, and the trait's own property holds).
 */
import { expect } from "chai";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { buildModel, resolveBuildSpec, type Architecture, type BuildOptions } from "../../offchain/model/build.js";
import { readOnnx } from "../../offchain/model/files.js";
import { loadModel, type LoadedModel } from "../../offchain/model/load.js";
import { ropeInverseFrequencies } from "../../offchain/model/llama.js";
import { kvRow } from "../../offchain/model/kv.js";
import { generate } from "../../offchain/generate/index.js";
import { verifyReceipt } from "../../offchain/verify/index.js";
import { maxAbsDiff, tempRoot } from "./helpers.js";

const PROMPT = [256, ...Buffer.from("Architectures by config", "utf8")];
const SAMPLER = { seed: "0x" + "7e".repeat(32), ratePpm: 250_000, layersPerToken: 2 };
const DECODING = { seed: 3, temperature: 0.7, topK: 40, topP: 0.95, maxTokens: 24 };

describe("model architectures", function () {
  this.timeout(120_000);
  let root: string;
  let cleanup: () => Promise<void>;
  let llama: LoadedModel;
  let llamaLogits: Float32Array;
  const build = (name: string, o: BuildOptions) => buildModel(join(root, name), { preset: "tiny", weightSeed: 31, ...o });

  before(async () => {
    ({ root, cleanup } = await tempRoot());
    // the Llama build with the same traits the others share where they have them (tied, theta)
    llama = await loadModel((await build("llama", {})).dir, { threads: 1 });
    llamaLogits = (await llama.forward({ tokens: PROMPT, past: null })).logits!;
  });
  after(async () => {
    await llama?.release();
    await cleanup();
  });

  // [architecture, config.json fields, the llama build with the same non-trait settings, own options]
  const cases: [Architecture, Record<string, unknown>, BuildOptions, BuildOptions?][] = [
    ["qwen2", { model_type: "qwen2", tie_word_embeddings: true, rope_theta: 1e6, use_sliding_window: false }, { tied: true, ropeTheta: 1e6 }],
    ["qwen3", { model_type: "qwen3", tie_word_embeddings: true, rope_theta: 1e6 }, { tied: true, ropeTheta: 1e6 }],
    ["llama3", { model_type: "llama", rope_theta: 500000 }, { ropeTheta: 500000 }],
    ["gemma2", { model_type: "gemma2", tie_word_embeddings: true, attn_logit_softcapping: 50, final_logit_softcapping: 30, sliding_window: 8 }, { tied: true }, { slidingWindow: 8 }],
    // a window of 8 under the 24-token prompt (and the 48 tokens decode reaches), so it masks
    ["mistral", { model_type: "mistral", sliding_window: 8 }, {}, { slidingWindow: 8 }],
    // fused weights seed differently from the twin's q/k/v, so the window stays out of reach here
    ["phi3", { model_type: "phi3", sliding_window: 511 }, {}],
  ];
  for (const [arch, cfgExpect, twin, own] of cases) {
    it(`${arch}: config.json of that shape loads, computes its trait (differs from its llama twin), generates and verifies (fp32 and fp16)`, async () => {
      const twinModel = await loadModel((await build(`${arch}-twin`, twin)).dir, { threads: 1 });
      const twinLogits = (await twinModel.forward({ tokens: PROMPT, past: null })).logits!;
      await twinModel.release();
      for (const dtype of ["fp32", "fp16"] as const) {
        const b = await build(`${arch}-${dtype}`, { architecture: arch, dtype, ...own });
        if (arch === "llama3") expect(JSON.parse(await readFile(join(b.dir, "config.json"), "utf8")).rope_scaling).to.include({ rope_type: "llama3", factor: 8 });
        const cfg = JSON.parse(await readFile(join(b.dir, "config.json"), "utf8"));
        expect(cfg).to.include(cfgExpect);
        const m = await loadModel(b.dir, { threads: 1 });
        try {
          expect(m.config.modelType).to.equal(cfgExpect.model_type);
          expect(m.modelId).to.equal(b.modelId);
          if (dtype === "fp32") {
            const logits = (await m.forward({ tokens: PROMPT, past: null })).logits!;
            expect(maxAbsDiff(logits, twinLogits)).to.be.above(0.1);
            expect(maxAbsDiff(logits, llamaLogits)).to.be.above(0.1);
          }
          const r = await generate(m, { promptTokens: PROMPT, decoding: DECODING, sampler: SAMPLER });
          const v = await verifyReceipt(m, r.receipt);
          expect(v.agrees, `${dtype}: ${v.firstMismatch?.detail}`).to.equal(true);
          // a receipt of this architecture does not verify against the llama build of the same seed
          if (dtype === "fp32") expect((await verifyReceipt(llama, { ...r.receipt, modelId: llama.modelId })).agrees).to.equal(false);
        } finally {
          await m.release();
        }
      }
    });
  }

  it("qwen2 writes q/k/v biases and qwen3 q/k norms into the graph; counts them as parameters", async () => {
    for (const [arch, re] of [
      ["qwen2", /^model\.layers\.0\.self_attn\.[qkv]_proj\.bias$/],
      ["qwen3", /^model\.layers\.0\.self_attn\.[qk]_norm\.weight$/],
    ] as const) {
      const b = await build(`${arch}-params`, { architecture: arch });
      const g = await readOnnx(join(b.dir, "model.onnx"));
      const names = g.graph!.initializer!.map((t) => t.name!);
      expect(names.filter((n) => re.test(n)).length).to.equal(arch === "qwen2" ? 3 : 2);
      let n = 0;
      for (const t of g.graph!.initializer!) if (!t.name!.startsWith("const_")) n += (t.dims ?? []).reduce<number>((a, d) => a * Number(d), 1);
      expect(n).to.equal(b.params);
    }
  });

  it("phi3 fuses q/k/v into qkv_proj and gate/up into gate_up_proj, split as HF Phi3 splits them", async () => {
    const b = await build("phi3-params", { architecture: "phi3" });
    const g = await readOnnx(join(b.dir, "model.onnx"));
    const dims = new Map(g.graph!.initializer!.map((t) => [t.name!, (t.dims ?? []).map(Number)]));
    const cfg = JSON.parse(await readFile(join(b.dir, "config.json"), "utf8"));
    const [H, NH, NKV, I] = [cfg.hidden_size, cfg.num_attention_heads, cfg.num_key_value_heads, cfg.intermediate_size];
    const D = H / NH;
    expect(dims.get("model.layers.0.self_attn.qkv_proj.weight")).to.deep.equal([H, (NH + 2 * NKV) * D]);
    expect(dims.get("model.layers.0.mlp.gate_up_proj.weight")).to.deep.equal([H, 2 * I]);
    expect([...dims.keys()].filter((n) => /\.(q|k|v|gate|up)_proj\./.test(n))).to.deep.equal([]);
    let n = 0;
    for (const [name, d] of dims) if (!name.startsWith("const_")) n += d.reduce((a, x) => a * x, 1);
    expect(n).to.equal(b.params);
    expect(() => resolveBuildSpec({ preset: "tiny", architecture: "llama", slidingWindow: 8 })).to.throw(/trait of --arch mistral, phi3 or gemma2/);
  });

  it("llama3 rope scaling: high frequencies kept, low ones divided by the factor, the middle in between", () => {
    const theta = 500000;
    const D = 128;
    const scaling = { factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192 };
    const plain = ropeInverseFrequencies(theta, D);
    const scaled = ropeInverseFrequencies(theta, D, scaling);
    let kept = 0;
    let divided = 0;
    let between = 0;
    for (let j = 0; j < D / 2; j++) {
      const wavelen = (2 * Math.PI) / plain[j]!;
      if (wavelen < 8192 / 4) (expect(scaled[j]).to.equal(plain[j]), kept++);
      else if (wavelen > 8192) (expect(scaled[j]).to.be.closeTo(plain[j]! / 8, 1e-18), divided++);
      else (expect(scaled[j]).to.be.within(plain[j]! / 8, plain[j]!), between++);
    }
    expect(kept).to.be.above(0);
    expect(divided).to.be.above(0);
    expect(between).to.be.above(0);
  });

  it("mistral's sliding window: the last position does not see tokens beyond layers × (W − 1); the llama twin does", async () => {
    // 4 layers × (4 − 1) + 1 = 13 positions reach the last of 24, so token 0 is out of its reach
    const windowed = await loadModel((await build("mistral-w4", { architecture: "mistral", slidingWindow: 4 })).dir, { threads: 1 });
    try {
      expect(windowed.config.modelType).to.equal("mistral");
      const edited = [...PROMPT];
      edited[1] = edited[1]! + 1;
      const last = async (m: LoadedModel, toks: number[]) => {
        const l = (await m.forward({ tokens: toks, past: null })).logits!;
        return l.subarray(l.length - m.config.vocabSize);
      };
      expect(maxAbsDiff(await last(windowed, PROMPT), await last(windowed, edited))).to.be.at.most(1e-6);
      expect(maxAbsDiff(await last(llama, PROMPT), await last(llama, edited))).to.be.above(1e-3);
      // an edit inside the reach does change it
      const near = [...PROMPT];
      near[PROMPT.length - 2] = near[PROMPT.length - 2]! + 1;
      expect(maxAbsDiff(await last(windowed, PROMPT), await last(windowed, near))).to.be.above(1e-3);
    } finally {
      await windowed.release();
    }
  });

  it("gemma2's sliding window is on even layers only: layer 1's keys do not see beyond W, layer 2's (after a global layer) do", async () => {
    const m = await loadModel((await build("gemma2-w4", { architecture: "gemma2", slidingWindow: 4 })).dir, { threads: 1 });
    try {
      const edited = [...PROMPT];
      edited[1] = edited[1]! + 1;
      const a = (await m.forward({ tokens: PROMPT, past: null })).present;
      const b = (await m.forward({ tokens: edited, past: null })).present;
      const last = PROMPT.length - 1;
      // layer 1's keys come from layer 0's output, whose (windowed) attention cannot reach position 1
      expect(maxAbsDiff(kvRow(a, 1, "key", last), kvRow(b, 1, "key", last))).to.be.at.most(1e-6);
      // layer 2's come through layer 1, which attends globally
      expect(maxAbsDiff(kvRow(a, 2, "key", last), kvRow(b, 2, "key", last))).to.be.above(1e-3);
    } finally {
      await m.release();
    }
  });

  it("gemma2 soft-capping bounds every logit by final_logit_softcapping", async () => {
    // a large head scale makes the uncapped logits exceed the cap
    const capped = await loadModel((await build("gemma2-cap", { architecture: "gemma2", lmScale: 400, tied: false })).dir, { threads: 1 });
    const uncapped = await loadModel((await build("llama-big", { lmScale: 400 })).dir, { threads: 1 });
    try {
      const a = (await capped.forward({ tokens: PROMPT, past: null })).logits!;
      const b = (await uncapped.forward({ tokens: PROMPT, past: null })).logits!;
      const maxAbs = (x: Float32Array) => x.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      expect(maxAbs(b)).to.be.above(30);
      expect(maxAbs(a)).to.be.at.most(30 * (1 + 1e-6)); // 30·tanh(·), up to fp32 rounding
    } finally {
      await capped.release();
      await uncapped.release();
    }
  });
});
