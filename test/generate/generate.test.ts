import { expect } from "chai";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildModel, type BuildResult } from "../../offchain/model/build.js";
import { loadModel, type ForwardInput, type LoadedModel } from "../../offchain/model/load.js";
import { kvRow } from "../../offchain/model/kv.js";
import { kvSampleVectors, topSampleVectors } from "../../offchain/receipt/index.js";
import { checkToken, drawToken, samplePlan, type DecodingConfigInput } from "../../offchain/sampling/index.js";
import { decodeReceipt, receiptRoot, roundToF16 } from "../../offchain/receipt/index.js";
import {
  ContextLengthError,
  GenerateAbortedError,
  GenerateConfigError,
  GenerateError,
  PromptError,
  defaultSamplerSeed,
  generate,
  type GenerateRequest,
} from "../../offchain/generate/index.js";

/** Max abs error between K/V captured while decoding (step by step) and one fresh prefill, tiny fp32. */
const KV_TOL_FP32 = 1e-4;
/** The same with K/V of an fp16 build (fp16 cache and arithmetic). */
const KV_TOL_FP16 = 2e-2;

const SEED32 = `0x${"5a".repeat(32)}` as const;
// <bos> + 40 bytes: longer than the prefill chunk used below, so the prefill runs in several chunks
const PROMPT = [256, ...Buffer.from("Proof of Cache samples the KV cache, ok?", "utf8")];

const greedy = (maxTokens: number): DecodingConfigInput => ({ seed: 0, temperature: 0, topK: 0, topP: 1, maxTokens });
const sampled = (maxTokens: number, seed = 11): DecodingConfigInput => ({ seed, temperature: 0.9, topK: 40, topP: 0.95, maxTokens });

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).to.equal(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe("generate: decoding with KV-cache sampling → receipt", function () {
  this.timeout(180_000);
  let root: string;
  let built: BuildResult;
  let builtFp16: BuildResult;
  let m: LoadedModel;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), "poc-generate-test-"));
    built = await buildModel(join(root, "tiny"), { preset: "tiny", weightSeed: 3 });
    builtFp16 = await buildModel(join(root, "tiny16"), { preset: "tiny", weightSeed: 3, dtype: "fp16" });
    m = await loadModel(built.dir, { threads: 1 });
  });
  after(async () => {
    await m?.release();
    await rm(root, { recursive: true, force: true });
  });

  const req = (over: Partial<GenerateRequest> = {}): GenerateRequest => ({
    promptTokens: PROMPT,
    decoding: greedy(48),
    sampler: { seed: SEED32, ratePpm: 250_000, layersPerToken: 2 },
    prefillChunkSize: 16,
    ...over,
  });

  it("gives a byte-identical receipt for the same inputs (greedy and sampled, same and fresh session)", async () => {
    const m2 = await loadModel(built.dir, { threads: 1 });
    try {
      for (const decoding of [greedy(48), sampled(48)]) {
        const a = await generate(m, req({ decoding }));
        const b = await generate(m, req({ decoding }));
        const c = await generate(m2, req({ decoding }));
        expect(Buffer.from(a.bytes).equals(Buffer.from(b.bytes))).to.equal(true);
        expect(Buffer.from(a.bytes).equals(Buffer.from(c.bytes))).to.equal(true);
        expect(a.root).to.equal(b.root).and.to.equal(receiptRoot(a.bytes));
        expect(a.receipt.outputTokens).to.have.length(48);
        expect(a.receipt.samples.length).to.be.greaterThan(0);
        expect(a.text).to.equal(m.tokenizer.decode(a.receipt.outputTokens));
      }
      const g = await generate(m, req({ decoding: greedy(48) }));
      const s = await generate(m, req({ decoding: sampled(48) }));
      const s2 = await generate(m, req({ decoding: sampled(48, 12) }));
      expect(g.root).to.not.equal(s.root);
      expect(s.receipt.outputTokens).to.not.deep.equal(s2.receipt.outputTokens); // the seed matters
    } finally {
      await m2.release();
    }
  });

  it("returns the receipt its bytes decode to, with the model id, configs and timings", async () => {
    const r = await generate(m, req({ decoding: sampled(20) }));
    expect(decodeReceipt(r.bytes)).to.deep.equal(r.receipt);
    expect(r.receipt.modelId).to.equal(built.modelId);
    expect(r.receipt.kvDtype).to.equal("float32");
    // seeded projections by default (DEFAULT_PROJECTION_DIM numbers per key and value), evidence floor 4
    expect(r.receipt.vectorLength).to.equal(32);
    expect(r.receipt.sampler).to.deep.equal({ seed: SEED32, ratePpm: 250_000, layersPerToken: 2, numLayers: 4, scope: "all", projectionDim: 32, minPositions: 4 });
    expect(r.receipt.decoding).to.deep.equal({ seed: 11n, temperature: 0.9, topK: 40, topP: 0.95, maxTokens: 20, stopAtEos: false });
    const t = r.timings;
    expect(t.prefillMs).to.be.greaterThan(0);
    expect(t.decodeMs).to.be.greaterThan(0);
    expect(t.totalMs).to.be.at.least(t.prefillMs + t.decodeMs);
    expect(t.tokensPerSecond).to.be.closeTo(20 / (t.decodeMs / 1000), 1e-6);
  });

  it("captures exactly samplePlan's (position, layer) list, for both scopes and several rates", async () => {
    for (const [ratePpm, layersPerToken, scope] of [
      [62_500, 2, "all"],
      [300_000, 1, "generated"],
      [1_000_000, 4, "all"],
      [1, 1, "all"],
    ] as const) {
      const r = await generate(m, req({ decoding: sampled(40), sampler: { seed: SEED32, ratePpm, layersPerToken, scope } }));
      const tokens = [...r.receipt.promptTokens, ...r.receipt.outputTokens];
      const plan = samplePlan(r.receipt.sampler, tokens, PROMPT.length);
      expect(r.receipt.samples.map((s) => ({ position: s.position, layer: s.layer }))).to.deep.equal(plan);
      if (scope === "generated") expect(r.receipt.samples.every((s) => s.position >= PROMPT.length)).to.equal(true);
      // the last token is never fed back, so it is never sampled
      expect(r.receipt.samples.every((s) => s.position < tokens.length - 1)).to.equal(true);
      // every candidate position: its layers plus the top sample (layer 4)
      if (ratePpm === 1_000_000) expect(r.receipt.samples).to.have.length((tokens.length - 1) * 5);
      // the evidence floor: at least 4 sampled positions even at 1 ppm, the latest ones, at the top layers
      const positions = new Set(r.receipt.samples.map((s) => s.position));
      expect(positions.size).to.be.at.least(4);
      if (ratePpm === 1) expect(r.receipt.samples.filter((s) => s.position >= tokens.length - 5).map((s) => s.layer)).to.include.members([3, 4]);
    }
  });

  it(`captures K/V equal to one fresh prefill of the same tokens (max abs error < ${KV_TOL_FP32}, fp32)`, async () => {
    const r = await generate(m, req({ decoding: sampled(64), sampler: { seed: SEED32, ratePpm: 1_000_000, layersPerToken: 4, projectionDim: 0 } }));
    const tokens = [...r.receipt.promptTokens, ...r.receipt.outputTokens];
    const fresh = await m.forward({ tokens: tokens.slice(0, -1), past: null });
    let err = 0;
    let absMax = 0;
    for (const s of r.receipt.samples) {
      const k = kvRow(fresh.present, s.layer, "key", s.position);
      const v = kvRow(fresh.present, s.layer, "value", s.position);
      err = Math.max(err, maxAbsDiff(s.key, k), maxAbsDiff(s.value, v));
      for (const x of k) absMax = Math.max(absMax, Math.abs(x));
    }
    // measured on this machine: 1.3e-5 on output positions (max |K| ≈ 8.9), 0 on prompt positions (chunked prefill)
    expect(err, `max abs error ${err} (max |K| ${absMax})`).to.be.lessThan(KV_TOL_FP32);
    expect(r.receipt.samples).to.have.length((tokens.length - 1) * 4);
  });

  it("stores seeded projections of K/V rows and of the logits (top samples) equal to those of a fresh prefill", async () => {
    const r = await generate(m, req({ decoding: sampled(40), sampler: { seed: SEED32, ratePpm: 250_000, layersPerToken: 2, minPositions: 6 } }));
    const sampler = r.receipt.sampler;
    const tokens = [...r.receipt.promptTokens, ...r.receipt.outputTokens];
    const fresh = await m.forward({ tokens: tokens.slice(0, -1), past: null });
    const V = m.config.vocabSize;
    let err = 0;
    let tops = 0;
    for (const s of r.receipt.samples) {
      expect(s.key).to.have.length(32);
      const ref =
        s.layer === 4
          ? topSampleVectors(sampler, fresh.logits!.subarray(s.position * V, (s.position + 1) * V))
          : kvSampleVectors(sampler, s.layer, kvRow(fresh.present, s.layer, "key", s.position), kvRow(fresh.present, s.layer, "value", s.position));
      if (s.layer === 4) tops++;
      err = Math.max(err, maxAbsDiff(s.key, ref.key), maxAbsDiff(s.value, ref.value));
    }
    expect(tops).to.equal(new Set(r.receipt.samples.map((s) => s.position)).size);
    expect(err).to.be.lessThan(KV_TOL_FP32);
    // a projection is not a copy: another layer's matrix gives other numbers
    const s0 = r.receipt.samples.find((s) => s.layer < 4)!;
    const other = kvSampleVectors(sampler, (s0.layer + 1) % 4, kvRow(fresh.present, s0.layer, "key", s0.position), kvRow(fresh.present, s0.layer, "value", s0.position));
    expect(maxAbsDiff(s0.key, other.key)).to.be.greaterThan(0.01);
  });

  it(`captures K/V of an fp16 model within ${KV_TOL_FP16} of a fresh prefill; kvDtype defaults to float16 there`, async () => {
    const m16 = await loadModel(builtFp16.dir, { threads: 1 });
    try {
      const r = await generate(m16, req({ decoding: greedy(32), sampler: { seed: SEED32, ratePpm: 1_000_000, layersPerToken: 4, projectionDim: 0 } }));
      expect(r.receipt.kvDtype).to.equal("float16");
      expect(decodeReceipt(r.bytes)).to.deep.equal(r.receipt);
      const tokens = [...r.receipt.promptTokens, ...r.receipt.outputTokens];
      const fresh = await m16.forward({ tokens: tokens.slice(0, -1), past: null });
      let err = 0;
      for (const s of r.receipt.samples)
        err = Math.max(err, maxAbsDiff(s.key, kvRow(fresh.present, s.layer, "key", s.position)), maxAbsDiff(s.value, kvRow(fresh.present, s.layer, "value", s.position)));
      // measured: 3.9e-3 on output positions (one binary16 ulp at |x| in [4, 8)), 0 on prompt positions
      expect(err, `max abs error ${err}`).to.be.lessThan(KV_TOL_FP16);
    } finally {
      await m16.release();
    }
  });

  it("stores K/V as float16 on request: half the sample bytes, values rounded to nearest binary16", async () => {
    const base = req({ decoding: sampled(48), sampler: { seed: SEED32, ratePpm: 250_000, layersPerToken: 2 } });
    const a = await generate(m, base);
    const h = await generate(m, { ...base, kvDtype: "float16" });
    expect(h.receipt.kvDtype).to.equal("float16");
    expect(h.receipt.outputTokens).to.deep.equal(a.receipt.outputTokens);
    expect(decodeReceipt(h.bytes)).to.deep.equal(h.receipt);
    const S = a.receipt.samples.length;
    const V = a.receipt.vectorLength;
    expect(a.bytes.length - h.bytes.length).to.equal(S * 2 * V * 2);
    let relErr = 0;
    for (let i = 0; i < S; i++) {
      const x = a.receipt.samples[i]!;
      const y = h.receipt.samples[i]!;
      for (const [u, v] of [[x.key, y.key], [x.value, y.value]] as const)
        for (let j = 0; j < V; j++) {
          expect(v[j]).to.equal(roundToF16(u[j]!));
          if (Math.abs(u[j]!) > 1e-4) relErr = Math.max(relErr, Math.abs(v[j]! - u[j]!) / Math.abs(u[j]!));
        }
    }
    expect(relErr).to.be.at.most(2 ** -11); // half an ulp of binary16 (normal range)
    const again = await generate(m, { ...base, kvDtype: "float16" });
    expect(Buffer.from(again.bytes).equals(Buffer.from(h.bytes))).to.equal(true);
  });

  it("draws output token i at position promptLen+i from the logits of position promptLen+i−1: a fresh prefill reproduces every token", async () => {
    for (const decoding of [sampled(64, 5), { seed: 99, temperature: 1.3, topK: 0, topP: 1, maxTokens: 64 }, greedy(64)]) {
      const r = await generate(m, req({ decoding }));
      const P = r.receipt.promptTokens.length;
      const tokens = [...r.receipt.promptTokens, ...r.receipt.outputTokens];
      const { logits } = await m.forward({ tokens: tokens.slice(0, -1), past: null });
      const V = m.config.vocabSize;
      r.receipt.outputTokens.forEach((t, i) => {
        const row = logits!.subarray((P + i - 1) * V, (P + i) * V);
        expect(checkToken(row, r.receipt.decoding, P + i, t).ok, `token ${i}`).to.equal(true);
        // fp32 tiny: the fresh prefill's logits draw exactly the same token
        expect(drawToken(row, r.receipt.decoding, P + i), `token ${i}`).to.equal(t);
      });
    }
  });

  it("stops right after the end-of-sequence token when stopAtEos (the EOS token is the last output token)", async () => {
    // Wrap the model: from the 6th forward on, the EOS logit wins by far.
    const eos = m.config.eosId!;
    let calls = 0;
    const forced: LoadedModel = Object.create(m, {
      forward: {
        value: async (input: ForwardInput) => {
          const out = await m.forward(input);
          if (++calls >= 6 && out.logits) out.logits[out.logits.length - m.config.vocabSize + eos] = 1e4;
          return out;
        },
      },
    });
    const stop = await generate(forced, req({ decoding: { ...greedy(40), stopAtEos: true }, prefillChunkSize: 256 }));
    expect(stop.receipt.outputTokens).to.have.length(6);
    expect(stop.receipt.outputTokens.at(-1)).to.equal(eos);
    expect(stop.receipt.outputTokens.slice(0, -1)).to.not.include(eos);
    const tokens = [...stop.receipt.promptTokens, ...stop.receipt.outputTokens];
    expect(stop.receipt.samples.map((s) => ({ position: s.position, layer: s.layer }))).to.deep.equal(samplePlan(stop.receipt.sampler, tokens, PROMPT.length));
    calls = 0;
    const cont = await generate(forced, req({ decoding: greedy(10), prefillChunkSize: 256 }));
    expect(cont.receipt.outputTokens).to.have.length(10);
  });

  it("reports progress up to promptLen + maxTokens and can be cancelled", async () => {
    const seen: [number, number][] = [];
    await generate(m, req({ decoding: greedy(8), onProgress: (d, t) => seen.push([d, t]) }));
    const total = PROMPT.length + 8;
    expect(seen.every(([, t]) => t === total)).to.equal(true);
    expect(seen.map(([d]) => d)).to.deep.equal([16, 32, 41, ...Array.from({ length: 8 }, (_, i) => 42 + i)]);
    const ac = new AbortController();
    let n = 0;
    const p = generate(m, req({ decoding: greedy(30), signal: ac.signal, onProgress: () => ++n === 5 && ac.abort() }));
    const err = await p.then(() => null, (e: unknown) => e);
    expect(err).to.be.instanceOf(GenerateAbortedError);
  });

  it("derives a default sampler seed from the prompt and the decoding configuration", () => {
    const a = defaultSamplerSeed(PROMPT, greedy(8));
    expect(a).to.match(/^0x[0-9a-f]{64}$/);
    expect(defaultSamplerSeed(PROMPT, { ...greedy(8), seed: "0" })).to.equal(a);
    expect(defaultSamplerSeed(PROMPT, greedy(9))).to.not.equal(a);
    expect(defaultSamplerSeed(PROMPT.slice(1), greedy(8))).to.not.equal(a);
    expect(defaultSamplerSeed(PROMPT, { ...greedy(8), temperature: 0.5 })).to.not.equal(a);
  });

  describe("bad input", () => {
    const bad = async (over: Partial<GenerateRequest>, cls: new (...args: never[]) => GenerateError, msg: RegExp) => {
      const err = await generate(m, req(over)).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err, "should throw").to.be.instanceOf(cls);
      expect((err as Error).message).to.match(msg);
    };

    it("rejects an empty prompt and token ids outside the vocabulary", async () => {
      await bad({ promptTokens: [] }, PromptError, /prompt is empty/);
      await bad({ promptTokens: [1, 259] }, PromptError, /prompt token 1 is 259, outside .*\[0, 259\)/);
      await bad({ promptTokens: [1, -1] }, PromptError, /prompt token 1/);
      await bad({ promptTokens: [1.5] }, PromptError, /prompt token 0/);
    });

    it("rejects prompt + maxTokens beyond the model's context", async () => {
      await bad({ decoding: greedy(1024 - PROMPT.length + 1) }, ContextLengthError, /exceeds the model's context of 1024/);
      const ok = await generate(m, req({ promptTokens: [256], decoding: greedy(1), sampler: { seed: SEED32, ratePpm: 1, layersPerToken: 1 } }));
      expect(ok.receipt.outputTokens).to.have.length(1);
    });

    it("rejects impossible sampler configurations", async () => {
      await bad({ sampler: { seed: SEED32, ratePpm: 62_500, layersPerToken: 5 } }, GenerateConfigError, /layersPerToken must not exceed numLayers[\s\S]*4 layers/);
      await bad({ sampler: { seed: SEED32, ratePpm: 0, layersPerToken: 1 } }, GenerateConfigError, /ratePpm/);
      await bad({ sampler: { seed: SEED32, ratePpm: 1_000_001, layersPerToken: 1 } }, GenerateConfigError, /ratePpm/);
      await bad({ sampler: { seed: "0x1234", ratePpm: 1, layersPerToken: 1 } }, GenerateConfigError, /seed/);
      await bad({ sampler: { seed: SEED32, ratePpm: 1, layersPerToken: 1, numLayers: 8 } }, GenerateConfigError, /numLayers is 8, the model has 4/);
      await bad({ sampler: { seed: SEED32, ratePpm: 1, layersPerToken: 1, scope: "some" as "all" } }, GenerateConfigError, /scope/);
      await bad({ kvDtype: "bfloat16" as "float16" }, GenerateConfigError, /kvDtype/);
      await bad({ prefillChunkSize: 0 }, GenerateConfigError, /prefillChunkSize/);
    });

    it("rejects impossible decoding configurations", async () => {
      await bad({ decoding: { ...greedy(8), maxTokens: 0 } }, GenerateConfigError, /maxTokens/);
      await bad({ decoding: { ...greedy(8), temperature: -1 } }, GenerateConfigError, /temperature/);
      await bad({ decoding: { ...greedy(8), topP: 0 } }, GenerateConfigError, /topP/);
      await bad({ decoding: { ...greedy(8), topK: 1.5 } }, GenerateConfigError, /topK/);
      await bad({ decoding: { ...greedy(8), seed: -1 } }, GenerateConfigError, /seed/);
    });
  });
});
