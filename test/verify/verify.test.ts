import { expect } from "chai";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { loadModel, resolveBuildSpec, ModelInputError, type LoadedModel } from "../../offchain/model/index.js";
import { generate, type GenerateResult } from "../../offchain/generate/index.js";
import {
  ReceiptMismatchError,
  allMatchedBitmap,
  decodeBitmap,
  encodeBitmap,
  numChecks,
  parseReceipt,
  receiptRoot,
  roundToF16,
  type Receipt,
} from "../../offchain/receipt/index.js";
import { samplePlan } from "../../offchain/sampling/index.js";
import {
  DEFAULT_TOLERANCES,
  ModelMismatchError,
  ReceiptStructureError,
  VerifyAbortedError,
  VerifyOptionsError,
  canonicalBits,
  halfUlp16,
  kvVectorError,
  prepareVerifier,
  resolveTolerances,
  verifyReceipt,
} from "../../offchain/verify/index.js";
import { samplesFromPrefill } from "../../offchain/verify/attacks.js";
import { GREEDY, PROMPT, SAMPLED, SAMPLER, buildTiny, rejectsWith, tempRoot } from "./helpers.js";

describe("verifier", function () {
  this.timeout(60_000);
  let root: string;
  let cleanup: () => Promise<void>;
  let real1: LoadedModel;
  let real2: LoadedModel;
  let other: LoadedModel;
  let greedy: GenerateResult;
  let sampled: GenerateResult;
  let foreign: GenerateResult;

  before(async () => {
    ({ root, cleanup } = await tempRoot());
    const realDir = await buildTiny(root, "real");
    const otherDir = await buildTiny(root, "other", { weightSeed: 9 });
    real1 = await loadModel(realDir, { threads: 1 });
    real2 = await loadModel(realDir, { threads: 2 });
    other = await loadModel(otherDir, { threads: 1 });
    greedy = await generate(real1, { promptTokens: PROMPT, decoding: GREEDY, sampler: SAMPLER });
    sampled = await generate(real1, { promptTokens: PROMPT, decoding: SAMPLED, sampler: SAMPLER });
    foreign = await generate(other, { promptTokens: PROMPT, decoding: SAMPLED, sampler: SAMPLER });
    expect(greedy.receipt.samples.length).to.be.greaterThan(8);
  });
  after(async () => {
    for (const m of [real1, real2, other]) await m?.release();
    await cleanup();
  });

  const relabel = (r: Receipt, patch: Partial<Receipt> = {}) => parseReceipt({ ...r, modelId: real1.modelId, ...patch });
  const layerBits = (v: { matchBitmap: Uint8Array; checks: number }) => decodeBitmap(v.matchBitmap, v.checks);

  describe("honest receipts", () => {
    for (const [name, get] of [
      ["greedy", () => greedy],
      ["sampled", () => sampled],
    ] as const) {
      it(`agrees on a ${name} receipt: every check matched, bitmap = allMatchedBitmap`, async () => {
        const r = get().receipt;
        const v = await verifyReceipt(real2, r);
        expect(v.agrees, v.firstMismatch?.detail).to.equal(true);
        expect(v.checks).to.equal(numChecks(r));
        expect(v.matched).to.equal(v.checks);
        expect(v.matchBitmapHex).to.equal("0x" + Buffer.from(allMatchedBitmap(v.checks)).toString("hex"));
        expect(v.root).to.equal(get().root);
        expect(v.kvChecks).to.deep.equal({ total: r.samples.length, matched: r.samples.length });
        expect(v.tokenChecks).to.deep.equal({ total: r.outputTokens.length, matched: r.outputTokens.length });
        expect(v.errors.key.max).to.be.below(DEFAULT_TOLERANCES.fp32.kv / 10);
        expect(v.errors.tokens.failed).to.equal(0);
        expect(v.firstMismatch).to.equal(undefined);
        expect(v.replayedTokens).to.equal(r.promptTokens.length + r.outputTokens.length - 1);
      });
    }

    it("agrees on float16-stored samples, and the metric forgives exactly the storage rounding", async () => {
      const g = await generate(real1, { promptTokens: PROMPT, decoding: SAMPLED, sampler: SAMPLER, kvDtype: "float16" });
      const v = await verifyReceipt(real1, g.receipt);
      expect(v.agrees).to.equal(true);
      // the same vectors rounded to float16 but labelled float32 carry the rounding as error
      const asF32 = parseReceipt({ ...g.receipt, kvDtype: "float32" });
      const w = await verifyReceipt(real1, asF32, { collectSamples: true });
      expect(Math.max(w.errors.key.max, w.errors.value.max)).to.be.greaterThan(10 * Math.max(v.errors.key.max, v.errors.value.max));
    });

    it("gives identical bytes with 1 or 2 threads, chunked or single replay, early stop on or off", async () => {
      const r = sampled.receipt;
      const hexes = new Set<string>();
      for (const [m, o] of [
        [real1, {}],
        [real2, {}],
        [real1, { chunkSize: 5 }],
        [real2, { chunkSize: 17, earlyStop: false }],
      ] as const)
        hexes.add((await verifyReceipt(m, r, o)).matchBitmapHex);
      expect(hexes.size).to.equal(1);
    });
  });

  describe("refusals", () => {
    it("refuses a receipt for another model id, with both ids in the message", async () => {
      const err = await rejectsWith(() => verifyReceipt(real1, foreign.receipt), ModelMismatchError, /receipt is for model/);
      expect(err.message).to.include(other.modelId).and.to.include(real1.modelId);
    });

    it("refuses a receipt whose root is not the committed one (the fetch layer's check)", async () => {
      await rejectsWith(() => verifyReceipt(real1, greedy.receipt, { expectedRoot: sampled.root }), ReceiptMismatchError, /not the committed root/);
      const v = await verifyReceipt(real1, greedy.receipt, { expectedRoot: greedy.root.toUpperCase().replace("0X", "0x") });
      expect(v.agrees).to.equal(true);
      // a single changed bit changes the root
      const r = greedy.receipt;
      const s0 = r.samples[0]!;
      const value = s0.value.slice();
      value[0] = value[0]! + 1e-3;
      expect(receiptRoot(relabel(r, { samples: [{ ...s0, value }, ...r.samples.slice(1)] }))).to.not.equal(greedy.root);
    });

    it("rejects bad options", async () => {
      await rejectsWith(() => verifyReceipt(real1, greedy.receipt, { chunkSize: 0 }), VerifyOptionsError, /chunkSize/);
      await rejectsWith(() => verifyReceipt(real1, greedy.receipt, { tolerances: { kv: -1 } }), VerifyOptionsError, /KV threshold/);
      expect(() => resolveTolerances("fp32", { token: { logitAbs: Number.NaN } })).to.throw(VerifyOptionsError);
    });

    it("stops when cancelled and reports progress by phase", async () => {
      const ac = new AbortController();
      ac.abort();
      await rejectsWith(() => verifyReceipt(real1, greedy.receipt, { signal: ac.signal }), VerifyAbortedError, /cancelled/);
      const phases = new Set<string>();
      let last = 0;
      await verifyReceipt(real1, greedy.receipt, { chunkSize: 8, onProgress: (p, d, t) => (phases.add(p), p === "replay" && (last = d / t)) });
      expect([...phases].sort()).to.deep.equal(["probe", "replay"]);
      expect(last).to.equal(1);
    });
  });

  describe("mismatches and the canonical bitmap", () => {
    it("stops at the probe for other weights, with the bytes of a full replay", async () => {
      await prepareVerifier(real1);
      const r = relabel(foreign.receipt);
      const early = await verifyReceipt(real1, r);
      const full = await verifyReceipt(real1, r, { earlyStop: false });
      expect(early.agrees).to.equal(false);
      expect(early.earlyStopped).to.equal(true);
      expect(early.stoppedAtLayer).to.equal(0);
      expect(early.layersComputed).to.equal(1);
      expect(early.replayedTokens).to.equal(0);
      expect(full.earlyStopped).to.equal(false);
      expect(full.layersComputed).to.equal(4);
      expect(early.matchBitmapHex).to.equal(full.matchBitmapHex);
      expect((await verifyReceipt(real2, r, { chunkSize: 3 })).matchBitmapHex).to.equal(full.matchBitmapHex);
      expect(early.firstMismatch!.layer).to.equal(0);
      expect(early.firstMismatch!.error).to.be.greaterThan(100 * early.firstMismatch!.threshold);
      expect(["key", "value"]).to.include(early.firstMismatch!.kind);
    });

    for (const where of ["the lowest sampled layer", "a higher layer"] as const)
      it(`applies the canonical rule to a sample edited at ${where}`, async () => {
        const r = sampled.receipt;
        const layers = [...new Set(r.samples.map((s) => s.layer))].sort((a, b) => a - b);
        const L = where === "a higher layer" ? layers[layers.length - 1]! : layers[0]!;
        const k = r.samples.findIndex((s) => s.layer === L);
        const samples = r.samples.map((s, i) => (i === k ? { ...s, key: s.key.map((x) => x * 1.05) } : s));
        const bad = relabel(r, { samples });
        const early = await verifyReceipt(real1, bad);
        const full = await verifyReceipt(real2, bad, { earlyStop: false, chunkSize: 9 });
        expect(early.matchBitmapHex).to.equal(full.matchBitmapHex);
        expect(early.earlyStopped).to.equal(L === layers[0]);
        expect(early.stoppedAtLayer).to.equal(L);
        // the highest sampled layer is the top sample (layer = numLayers: projections of the logits)
        const kind = L === r.sampler.numLayers ? "top" : "key";
        expect(early.firstMismatch).to.include({ index: k, kind, layer: L, position: r.samples[k]!.position });
        const want = [...r.samples.map((s, i) => i !== k && s.layer <= L), ...r.outputTokens.map(() => false)];
        expect(layerBits(early)).to.deep.equal(want);
        expect(early.matched).to.equal(want.filter(Boolean).length);
      });

    it("catches an edited token with recomputed samples by its token check (KV all matched)", async () => {
      const r = greedy.receipt;
      const j = 10;
      const out = r.outputTokens.slice();
      out[j] = (out[j]! + 1) % 256;
      const tokens = [...r.promptTokens, ...out];
      const samples = await samplesFromPrefill(real1, tokens, samplePlan(r.sampler, tokens, r.promptTokens.length), "float32", r.sampler);
      const v = await verifyReceipt(real1, relabel(r, { outputTokens: out, samples }));
      expect(v.agrees).to.equal(false);
      expect(v.kvChecks.matched).to.equal(samples.length);
      expect(v.firstMismatch).to.include({ kind: "token", outputIndex: j, index: samples.length + j, position: r.promptTokens.length + j });
      expect(layerBits(v)[samples.length + j]).to.equal(false);
      expect(v.stoppedAtLayer).to.equal(undefined);
    });

    it("catches tokens decoded by another model with KV fabricated by a real prefill", async () => {
      const r = foreign.receipt;
      const tokens = [...r.promptTokens, ...r.outputTokens];
      const samples = await samplesFromPrefill(real1, tokens, samplePlan(r.sampler, tokens, r.promptTokens.length), "float32", r.sampler);
      const v = await verifyReceipt(real1, relabel(r, { samples }));
      expect(v.agrees).to.equal(false);
      expect(v.kvChecks.matched).to.equal(samples.length);
      expect(v.errors.tokens.failed).to.be.greaterThan(r.outputTokens.length / 2);
    });
  });

  describe("malformed receipts: all checks unmatched, nothing replayed", () => {
    const cases: [string, () => Receipt, string][] = [
      ["a planned sample missing", () => relabel(greedy.receipt, { samples: greedy.receipt.samples.slice(1) }), "plan"],
      [
        "an extra sample",
        () => {
          const r = greedy.receipt;
          const s = r.samples[r.samples.length - 1]!;
          const extra = { ...s, position: r.promptTokens.length + r.outputTokens.length - 1 };
          return relabel(r, { samples: [...r.samples, extra] });
        },
        "plan",
      ],
      [
        "a vector length unlike the model's",
        () =>
          relabel(greedy.receipt, {
            sampler: { ...greedy.receipt.sampler, projectionDim: 0 },
            vectorLength: 8,
            samples: greedy.receipt.samples.filter((s) => s.layer < 4).map((s) => ({ ...s, key: s.key.slice(0, 8), value: s.value.slice(0, 8) })),
          }),
        "vectorLength",
      ],
      ["another layer count", () => relabel(greedy.receipt, { sampler: { ...greedy.receipt.sampler, numLayers: 6 } }), "numLayers"],
      ["a token outside the vocabulary", () => relabel(greedy.receipt, { outputTokens: [...greedy.receipt.outputTokens.slice(0, -1), 300] }), "token"],
      ["an output cut short", () => relabel(greedy.receipt, { outputTokens: greedy.receipt.outputTokens.slice(0, -1) }), "stop"],
      [
        "tokens after end-of-sequence with stopAtEos",
        () => {
          const out = greedy.receipt.outputTokens.slice();
          out[3] = real1.config.eosIds[0]!;
          return relabel(greedy.receipt, { outputTokens: out, decoding: { ...greedy.receipt.decoding, stopAtEos: true } });
        },
        "stop",
      ],
    ];
    for (const [name, make, kind] of cases)
      it(`${name} → ${kind}`, async () => {
        const r = make();
        const v = await verifyReceipt(real1, r);
        expect(v.agrees).to.equal(false);
        expect(v.malformed?.kind).to.equal(kind);
        expect(v.matched).to.equal(0);
        expect(v.matchBitmapHex).to.equal("0x" + Buffer.from(encodeBitmap(new Array(numChecks(r)).fill(false))).toString("hex"));
        expect(v.replayMs).to.equal(0);
        const err = await rejectsWith(() => verifyReceipt(real1, r, { strict: true }), ReceiptStructureError, /does not fit the model/);
        expect((err as ReceiptStructureError).problem.kind).to.equal(kind);
      });
  });

  describe("metric and canonical rule (units)", () => {
    it("halfUlp16 bounds the float16 rounding of any float32", () => {
      for (const x of [1e-9, 3e-6, 6.1e-5, 1e-3, 0.3333, 1, 1.9999, 9.87, 1000.3, 65000]) {
        const r = roundToF16(x);
        expect(Math.abs(r - x)).to.be.at.most(halfUlp16(r) * (1 + 1e-12), `x=${x}`);
      }
    });

    it("kvVectorError: relative L2, storage rounding forgiven, length mismatch infinite", () => {
      const b = Float32Array.from({ length: 64 }, (_, i) => Math.sin(i) * 3);
      expect(kvVectorError(b, b, "float32")).to.equal(0);
      const a = b.map((x) => x * 1.01);
      expect(kvVectorError(a, b, "float32")).to.be.closeTo(0.01, 1e-6);
      const r16 = b.map((x) => roundToF16(x));
      expect(kvVectorError(r16, b, "float32")).to.be.greaterThan(1e-5);
      expect(kvVectorError(r16, b, "float16")).to.equal(0);
      expect(kvVectorError(a.map((x) => roundToF16(x)), b, "float16")).to.be.closeTo(0.01, 1e-3);
      expect(kvVectorError(b.slice(1), b, "float32")).to.equal(Infinity);
      expect(kvVectorError(new Float32Array(4).fill(1e-9), new Float32Array(4), "float32")).to.be.closeTo(1e-3, 1e-9);
    });

    it("canonicalBits: real results up to the lowest mismatching layer, zeros above and for tokens", () => {
      const layers = [0, 2, 1, 3, 0, 2];
      expect(canonicalBits(layers, [true, true, true, true, true, true], [true, false])).to.deep.equal([true, true, true, true, true, true, true, false]);
      expect(canonicalBits(layers, [true, null, false, null, true, null], [null, null])).to.deep.equal([true, false, false, false, true, false, false, false]);
      expect(() => canonicalBits(layers, [true, null, true, true, true, true], [true])).to.throw(/not compared/);
    });
  });

  describe("model builder variants for the attack suite", () => {
    it("int8 and perturbed builds differ from the plain one and record the variant; plain config unchanged", async () => {
      const plain = JSON.parse(await readFile(join(real1.dir, "config.json"), "utf8"));
      expect(plain.poc_builder).to.not.have.property("weight_perturbation");
      expect(plain.poc_builder).to.not.have.property("weight_quantization");
      const q = await buildTiny(root, "q", { weightQuantization: "int8" });
      const p = await buildTiny(root, "p", { weightPerturbation: 0.01 });
      const mq = await loadModel(q);
      const mp = await loadModel(p);
      try {
        expect(new Set([real1.modelId, mq.modelId, mp.modelId]).size).to.equal(3);
        expect((mq.rawConfig as Record<string, Record<string, unknown>>).poc_builder!.weight_quantization).to.equal("int8");
        expect((mp.rawConfig as Record<string, Record<string, unknown>>).poc_builder!.weight_perturbation).to.equal(0.01);
      } finally {
        await mq.release();
        await mp.release();
      }
      expect(() => resolveBuildSpec({ weightPerturbation: 1.5 })).to.throw(ModelInputError, /weightPerturbation/);
    });
  });
});
