import { expect } from "chai";
import { loadModel, kvRow, prefillChunked, type LoadedModel } from "../../offchain/model/index.js";
import { generate, type GenerateResult } from "../../offchain/generate/index.js";
import { parseReceipt, type Receipt } from "../../offchain/receipt/index.js";
import { ModelMismatchError, VerifyOptionsError, verifyReceipt } from "../../offchain/verify/index.js";
import {
  FINGERPRINT_TOLERANCE,
  FingerprintError,
  fingerprintDistance,
  fingerprintFromCache,
  fingerprintFromRows,
  replayFingerprints,
} from "../../offchain/fingerprint/index.js";
import { GREEDY, PROMPT, SAMPLED, SAMPLER, buildTiny, rejectsWith, tempRoot } from "../verify/helpers.js";
import { independentFingerprint } from "./reference.js";

const SEEDS = Array.from({ length: 20 }, (_, i) => BigInt(i) * 0x9e3779b97f4a7c15n % (1n << 64n));

describe("replay fingerprints", function () {
  this.timeout(120_000);
  let cleanup: () => Promise<void>;
  const m: Record<string, LoadedModel> = {};
  let gen: GenerateResult;
  let gen16: GenerateResult;

  before(async () => {
    const t = await tempRoot();
    cleanup = t.cleanup;
    const real = await buildTiny(t.root, "real");
    const real16 = await buildTiny(t.root, "real16", { dtype: "fp16" });
    m.gen = await loadModel(real, { threads: 1 });
    m.threads2 = await loadModel(real, { threads: 2 });
    m.noOpt = await loadModel(real, { threads: 1, graphOptimizationLevel: "disabled" });
    m.gen16 = await loadModel(real16, { threads: 1 });
    m.ver16 = await loadModel(real16, { threads: 2, graphOptimizationLevel: "disabled" });
    m.otherWeights = await loadModel(await buildTiny(t.root, "other", { weightSeed: 9 }), { threads: 1 });
    m.fewerLayers = await loadModel(await buildTiny(t.root, "fewer", { layers: 2 }), { threads: 1 });
    gen = await generate(m.gen, { promptTokens: PROMPT, decoding: SAMPLED, sampler: SAMPLER });
    gen16 = await generate(m.gen16, { promptTokens: PROMPT, decoding: GREEDY, sampler: SAMPLER });
  });
  after(async () => {
    for (const x of Object.values(m)) await x.release();
    await cleanup();
  });

  const maxDistance = (a: readonly string[], b: readonly string[]) => Math.max(...a.map((x, i) => fingerprintDistance(x, b[i]!)));
  /** A lazy verifier's fingerprint from a prefill of another model over the receipt's tokens (layers clamped to what it has). */
  const cheapFingerprints = async (cheap: LoadedModel, r: Receipt, numLayers: number) => {
    const P = r.promptTokens.length;
    const O = r.outputTokens.length;
    const out = await prefillChunked(cheap, [...r.promptTokens, ...r.outputTokens].slice(0, P + O - 1), { keepLogits: false });
    const top = out.present.layers.length - 1;
    return SEEDS.map((s) => fingerprintFromRows((l, k, p) => kvRow(out.present, Math.min(l, top), k, p), s, P + O - 1, numLayers));
  };

  it("is the spec over the replay's cache (independent implementation)", async () => {
    const r = gen.receipt;
    const P = r.promptTokens.length;
    const O = r.outputTokens.length;
    const out = await prefillChunked(m.gen!, [...r.promptTokens, ...r.outputTokens].slice(0, P + O - 1), { keepLogits: false });
    const seed = SEEDS[3]!;
    const fp = fingerprintFromCache(out.present, seed, P, O);
    expect(fp).to.equal(independentFingerprint((l, k, p) => kvRow(out.present, l, k, p), seed, P + O - 1, m.gen!.config.layers));
    expect((await replayFingerprints(m.gen!, r, [seed]))[0]).to.equal(fp);
  });

  it("an honest verifier with the generator's settings reproduces its fingerprint exactly (distance 0)", async () => {
    const a = await replayFingerprints(m.gen!, gen.receipt, SEEDS);
    const b = await replayFingerprints(m.gen!, gen.receipt, SEEDS, { chunkSize: 512 });
    expect(maxDistance(a, b)).to.equal(0);
    expect(new Set(a).size).to.equal(SEEDS.length);
  });

  for (const [name, ver] of [
    ["2 threads", "threads2"],
    ["graph optimisation disabled", "noOpt"],
  ] as const) {
    it(`an honest verifier with ${name} matches the generator's fingerprint for every seed`, async () => {
      const a = await replayFingerprints(m.gen!, gen.receipt, SEEDS);
      const b = await replayFingerprints(m[ver]!, gen.receipt, SEEDS, { chunkSize: 7 });
      expect(maxDistance(a, b)).to.be.at.most(FINGERPRINT_TOLERANCE);
    });
  }

  it("an honest fp16 verifier (2 threads, no graph optimisation, chunked) matches the fp16 generator's fingerprint", async () => {
    const a = await replayFingerprints(m.gen16!, gen16.receipt, SEEDS);
    const b = await replayFingerprints(m.ver16!, gen16.receipt, SEEDS, { chunkSize: 5 });
    expect(maxDistance(a, b)).to.be.at.most(FINGERPRINT_TOLERANCE);
  });

  for (const [name, cheap] of [
    ["other weights", "otherWeights"],
    ["2 of 4 layers", "fewerLayers"],
  ] as const) {
    it(`a verifier that did not replay (ran ${name} instead) cannot match the generator's fingerprint`, async () => {
      const honest = await replayFingerprints(m.gen!, gen.receipt, SEEDS);
      const lazy = await cheapFingerprints(m[cheap]!, gen.receipt, m.gen!.config.layers);
      const min = Math.min(...honest.map((x, i) => fingerprintDistance(x, lazy[i]!)));
      expect(min).to.be.greaterThan(FINGERPRINT_TOLERANCE);
    });
  }

  it("random bytes32 never match the honest fingerprint (1000 draws)", async () => {
    const [honest] = await replayFingerprints(m.gen!, gen.receipt, [SEEDS[0]!]);
    let min = 256;
    for (let i = 0; i < 1000; i++) min = Math.min(min, fingerprintDistance(honest!, "0x" + Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("hex")));
    expect(min).to.be.greaterThan(FINGERPRINT_TOLERANCE);
  });

  describe("verifyReceipt({ fingerprintSeed })", () => {
    it("returns the fingerprint of its own full replay, equal to replayFingerprints", async () => {
      const seed = SEEDS[5]!;
      const v = await verifyReceipt(m.threads2!, gen.receipt, { fingerprintSeed: seed });
      expect(v.agrees).to.equal(true);
      expect(v.earlyStopped).to.equal(false);
      expect(v.fingerprint).to.equal((await replayFingerprints(m.threads2!, gen.receipt, [seed]))[0]);
      expect((await verifyReceipt(m.threads2!, gen.receipt)).fingerprint).to.equal(undefined);
    });

    it("still returns the full replay's fingerprint after an early stop", async () => {
      const foreign = await generate(m.otherWeights!, { promptTokens: PROMPT, decoding: SAMPLED, sampler: SAMPLER });
      const r = parseReceipt({ ...foreign.receipt, modelId: m.gen!.modelId });
      const seed = SEEDS[6]!;
      const v = await verifyReceipt(m.gen!, r, { fingerprintSeed: seed });
      expect(v.earlyStopped).to.equal(true);
      expect(v.fingerprint).to.equal((await replayFingerprints(m.gen!, r, [seed]))[0]);
      const full = await verifyReceipt(m.gen!, r, { fingerprintSeed: seed, earlyStop: false });
      expect(full.fingerprint).to.equal(v.fingerprint);
    });

    it("refuses a fingerprintSeed outside uint64 with VerifyOptionsError", async () => {
      await rejectsWith(() => verifyReceipt(m.gen!, gen.receipt, { fingerprintSeed: 1n << 64n }), VerifyOptionsError, /fingerprintSeed/);
    });
  });

  it("refuses another model's receipt, a bad seed and a malformed receipt", async () => {
    await rejectsWith(() => replayFingerprints(m.otherWeights!, gen.receipt, [1n]), ModelMismatchError, /.+/);
    await rejectsWith(() => replayFingerprints(m.gen!, gen.receipt, [-1n]), FingerprintError, /uint64/);
    const out = [...gen.receipt.outputTokens];
    out[3] = m.gen!.config.vocabSize + 1;
    const bad = parseReceipt({ ...gen.receipt, outputTokens: out });
    await rejectsWith(() => replayFingerprints(m.gen!, bad, [1n]), FingerprintError, /malformed/);
  });
});
