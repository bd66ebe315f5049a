/**
 * The attack and honesty suite (issue 4), shared by the tests, `poc calibrate` and the benchmark.
 *
 * Given a model built by this project's builder (config.json carries `poc_builder`), it rebuilds the
 * same model (checking the id), builds the variants an attacker could run instead, generates real
 * receipts, and verifies them:
 *
 * Honest runs (must agree): the generator and the verifier differ in thread count (1 ↔ 2), graph
 * optimisation (all ↔ disabled), replay chunking, the generator's prefill chunking, greedy vs sampled
 * decoding and float32 vs float16 storage of the samples; the generator always decodes with the KV
 * cache while the verifier prefills (decode-vs-prefill noise is in every run).
 *
 * Attacks (must not agree), with what should catch them:
 * - `other-weights`   decode with another weight seed, receipt relabelled with the real id (kv)
 * - `fewer-layers`    decode with the first L−2 layers; samples of the missing layers copied from the
 *                     top one it has (kv)
 * - `int8-weights`    decode with int8 per-channel quantised weights (kv)
 * - `perturbed-1pct`  decode with every weight × (1 + N(0, 1 %)) (kv)
 * - `cheap-decode`    tokens decoded by the L−2-layer model, KV samples fabricated by one prefill of
 *                     the real model over those tokens (token checks)
 * - `tokens-edited`   an output token changed after generation, receipt otherwise unchanged (plan:
 *                     the prefix hashes move the samples)
 * - `tokens-edited-resampled`  the same, with the plan and samples recomputed by a real prefill (tokens)
 * - `sample-value-noise`  one sample's value vector + 1 % relative noise (kv)
 * - `sample-key-swapped`  two samples at the same layer exchange their keys (kv)
 * - `prompt-changed`  the receipt claims another prompt (one token changed) over the output and KV the
 *                     generator computed for its own prompt, plan recomputed (kv)
 * - `unplanned-sample`  one sample moved to a position the samplers did not choose, with true KV (plan)
 * - `extra-sample`    one true sample added at an unplanned (position, layer) (plan)
 * - `root-mismatch`   one byte of a sample changed in the fetched bytes, presented with the committed
 *                     root (root: receiptRoot differs, the fetch layer refuses it)
 * - issue 9: `lm-head-int8|bf16`, `last-mlp-int8`, `skip-last-layer` (top), `plan-aware-skip` (token),
 *   precision downgrades (kv), and `lm-head-int8-forged-top`: an int8 LM head decodes while the top
 *   samples are reported from the true hidden state (R·W·h can be precomputed, since R is known when the
 *   generator runs), so only the token check can see the head (token, or missed: README "Top of the model")
 *
 * Every attack is verified with and without early stop (the bitmaps must be identical) and, for the
 * separation figures, with a full replay collecting every sample's error.
 */
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import {
  ARCHITECTURES,
  QUANTIZED_FORMATS,
  buildModel,
  loadModel,
  kvRow,
  resolveBuildSpec,
  type Architecture,
  type BuildOptions,
  type LoadedModel,
  type LoadOptions,
  type QuantizedFormat,
} from "../model/index.js";
import { llamaConfigJson } from "../model/build.js";
import { generate, type GenerateResult } from "../generate/index.js";
import { type DecodingConfigInput, samplePlan, tokenSampled, type PlannedSample, type SamplerConfig } from "../sampling/index.js";
import {
  type KvDtype,
  type Receipt,
  ReceiptMismatchError,
  decodeReceipt,
  encodeReceipt,
  kvSampleVectors,
  parseReceipt,
  receiptRoot,
  roundToF16,
  topSampleVectors,
} from "../receipt/index.js";
import { verifyReceipt, type Mismatch, type Verdict, type VerifyOptions } from "./verify.js";
import { VerifyError } from "./errors.js";
import { prefillDecodeModel, routedModel, withNarrowCache } from "./cheats.js";
import { batchedModel } from "./batched.js";
import { resolveTolerances } from "./metric.js";

export type CaughtBy = "kv" | "top" | "token" | "plan" | "root" | "none";

export interface RunRecord {
  name: string;
  /** probe: informational (e.g. a GPU-noise proxy, a perturbation sweep), counted neither way. */
  kind: "honest" | "attack" | "probe";
  description: string;
  /** Attacks: what is expected to catch it. */
  expected?: CaughtBy;
  /** What did: the first mismatch's kind (kv for key/value), plan for a malformed receipt, root for a refused root. */
  caughtBy: CaughtBy;
  agrees: boolean;
  /** Honest: agrees; attack: does not agree. */
  ok: boolean;
  checks: number;
  matched: number;
  bitmapHex: string;
  firstMismatch?: Mismatch;
  /** Per-sample errors of the full replay (key and value); empty when nothing was replayed. */
  keyErrors: number[];
  valueErrors: number[];
  /** The layer of each sample (same order). */
  sampleLayers: number[];
  /** Whether each sample is a top sample (projections of the logits). */
  sampleTop: boolean[];
  /**
   * Per-receipt separation (attacks caught by kv/top): the largest ratio of a sample's error to the
   * largest honest error of its stage (KV or top) in this suite; NaN for other runs.
   */
  separation: number;
  /** Per-sample max-abs/RMS of key and value, for comparing metrics (metric.ts). */
  keyMaxAbsOverRms: number[];
  valueMaxAbsOverRms: number[];
  /** max(keyErrors ∪ valueErrors), 0 when none. */
  maxKvError: number;
  /** Bitmaps identical with early stop on and off (and across the other verifier configurations tried). */
  canonical: boolean;
  /** Replay with early stop (the default), full replay. */
  replayMs: number;
  fullReplayMs: number;
  earlyStopped: boolean;
  generateMs?: number;
  tokenStats?: Verdict["errors"]["tokens"];
  /**
   * Attacks generated with the same prompt and decoding as an honest run: whether the output tokens
   * equal that honest run's. An attack that agrees with the same output delivered the real model's
   * text by a cheaper path; with its samples also identical (`sameReceiptAsHonest`) no check of the
   * receipt can tell it from honest work.
   */
  sameOutputAsHonest?: boolean;
  /** Whether the tokens and every sample's numbers equal the honest run's (see `sameOutputAsHonest`). */
  sameReceiptAsHonest?: boolean;
}

export interface SuiteOptions {
  /** A model directory built by this project (config.json has poc_builder). */
  modelDir: string;
  /** Where the variants are built (one subdirectory each; reused when present). */
  workDir: string;
  /** Prompt tokens (default 32 deterministic byte tokens). */
  promptLen?: number;
  /** Generated tokens per receipt (default 64). */
  maxTokens?: number;
  /** Sampler rate in ppm (default 125 000 = 1/8) and layers per sampled token (default 2). */
  ratePpm?: number;
  layersPerToken?: number;
  /** Replay chunk of the chunked honest run (default 16). */
  smallChunk?: number;
  /** Which runs (default all). */
  only?: string[];
  /**
   * Informational runs: decode with a variant of the real model (builder options on top of its own),
   * relabel, verify; reported with their errors, counted neither as honest nor as attacks.
   */
  probes?: { name: string; description: string; build: Partial<BuildOptions>; decoding?: "greedy" | "sampled" }[];
  /** Verification options passed to every verification (e.g. tolerances). */
  verify?: Pick<VerifyOptions, "tolerances">;
  log?: (line: string) => void;
}

export interface SuiteReport {
  modelId: string;
  dtype: string;
  honest: RunRecord[];
  attacks: RunRecord[];
  probes: RunRecord[];
  honestRuns: number;
  falseAlarms: number;
  attackRuns: number;
  missed: number;
  /** Largest per-sample KV error of any honest run (K/V samples). */
  maxHonestError: number;
  /** Largest per-sample error of a top sample in any honest run. */
  maxHonestTopError: number;
  /** Smallest, over the attacks caught by KV, of the attack receipt's largest KV error. */
  minAttackError: number;
  /** The smallest per-receipt separation (RunRecord.separation) of the attacks caught by kv or top. */
  minSeparation: number;
  /**
   * Per sample: the smallest error (max of key and value) of any sample of the whole-model attacks
   * (other weights, int8, 1 % noise: every one of their samples is wrong) over the largest honest
   * error of its stage.
   */
  minSampleSeparation: number;
  /** Every run's bitmap is identical with early stop on and off (and chunked / 2 threads where tried). */
  canonical: boolean;
  threshold: number;
  topThreshold: number;
}

const DEFAULT_SAMPLER_SEED = "0x" + "5a".repeat(32);
const GREEDY: DecodingConfigInput = { seed: 7, temperature: 0, topK: 0, topP: 1, maxTokens: 64 };
const SAMPLED: DecodingConfigInput = { seed: 11, temperature: 0.8, topK: 40, topP: 0.95, maxTokens: 64 };

/** BuildOptions that rebuild a model from its config.json (only for models of this project's builder). */
export function buildOptionsFromConfig(raw: Record<string, unknown>): BuildOptions {
  const pb = raw.poc_builder as Record<string, unknown> | undefined;
  if (!pb || typeof pb !== "object")
    throw new VerifyError("the attack suite needs a model built by this project (config.json has no poc_builder)", {
      details: "model variants (other seed, int8, 1 % noise, fewer layers) are built with offchain/model's builder",
    });
  const num = (k: string) => (typeof raw[k] === "number" ? (raw[k] as number) : undefined);
  return {
    ...(typeof pb.preset === "string" && (pb.preset === "tiny" || pb.preset === "small") ? { preset: pb.preset } : {}),
    layers: num("num_hidden_layers"),
    hiddenSize: num("hidden_size"),
    heads: num("num_attention_heads"),
    kvHeads: num("num_key_value_heads"),
    headDim: num("head_dim"),
    intermediateSize: num("intermediate_size"),
    maxPositions: num("max_position_embeddings"),
    ropeTheta: num("rope_theta"),
    rmsNormEps: num("rms_norm_eps"),
    dtype: raw.torch_dtype === "float16" ? "fp16" : "fp32",
    tied: raw.tie_word_embeddings === true,
    weightSeed: String(pb.weight_seed ?? "0"),
    positionIds: pb.position_ids_input !== false,
    useCacheBranch: pb.use_cache_branch_input === true,
    ...(typeof pb.init_scale === "number" ? { initScale: pb.init_scale } : {}),
    ...(typeof pb.lm_scale === "number" ? { lmScale: pb.lm_scale } : {}),
    ...(typeof pb.weight_perturbation === "number" ? { weightPerturbation: pb.weight_perturbation } : {}),
    ...(pb.weight_quantization === "int8" || pb.weight_quantization === "bf16" || pb.weight_quantization === "fp16"
      ? { weightQuantization: pb.weight_quantization }
      : {}),
    ...(pb.variant_scope === "lm-head" || pb.variant_scope === "last-mlp" ? { variantScope: pb.variant_scope } : {}),
    ...(pb.skip_last_layer_output === true ? { skipLastLayerOutput: true } : {}),
    ...(typeof pb.quantized_graph === "string" && (QUANTIZED_FORMATS as readonly string[]).includes(pb.quantized_graph)
      ? { quantized: pb.quantized_graph as QuantizedFormat }
      : {}),
    ...(typeof pb.architecture === "string" && (ARCHITECTURES as readonly string[]).includes(pb.architecture) && pb.architecture !== "llama"
      ? { architecture: pb.architecture as Architecture }
      : {}),
    ...((pb.architecture === "mistral" || pb.architecture === "phi3" || pb.architecture === "gemma2") && typeof raw.sliding_window === "number"
      ? { slidingWindow: raw.sliding_window }
      : {}),
  };
}

/**
 * The fp16-activation downgrade of a model: its own graph at fp16 (q4 → q4f16), or for int8 and QDQ
 * graphs, which take fp32 activations only, the same int8 weights in a float fp16 graph.
 */
function fp16ActivationsOf(q: QuantizedFormat | undefined): Partial<BuildOptions> {
  return q === "int8" || q === "qdq" ? { dtype: "fp16", quantized: undefined, weightQuantization: "int8" } : { dtype: "fp16" };
}

/** The variants the attacks decode with, built under workDir (rebuilt only when missing). */
export async function buildVariants(
  modelDir: string,
  workDir: string,
  raw: Record<string, unknown>,
  extra: Record<string, Partial<BuildOptions>> = {},
) {
  const base = buildOptionsFromConfig(raw);
  const L = base.layers!;
  const fewer = Math.max(1, L - 2);
  const seed = BigInt(base.weightSeed ?? 0);
  await mkdir(workDir, { recursive: true });
  const variants: Record<string, BuildOptions> = {
    "other-weights": { ...base, weightSeed: ((seed + 1n) % (1n << 64n)).toString() },
    "fewer-layers": { ...base, layers: fewer },
    "int8-weights": { ...base, weightQuantization: "int8" },
    "perturbed-1pct": { ...base, weightPerturbation: 0.01 },
  };
  for (const [name, o] of Object.entries(extra)) variants[name] = { ...base, ...o };
  const dirs: Record<string, string> = {};
  for (const [name, o] of Object.entries(variants)) {
    const dir = join(workDir, name);
    dirs[name] = dir;
    // reuse a variant built earlier only when its config says it is the same build
    let same = false;
    try {
      const m = await loadModel(dir, { threads: 1 });
      same = JSON.stringify(buildOptionsFromConfig(m.rawConfig as Record<string, unknown>)) === JSON.stringify(buildOptionsFromConfig(llamaConfig(o)));
      await m.release();
    } catch {
      same = false;
    }
    if (!same) await buildModel(dir, o, { force: true });
  }
  return { dirs, base, fewerLayers: fewer, modelDir };
}

const llamaConfig = (o: BuildOptions) => llamaConfigJson(resolveBuildSpec(o), o.preset ?? "tiny") as Record<string, unknown>;

/**
 * One prefill of `model` over tokens[0..n−2]; the planned samples read from it as the generator would
 * store them (projections, top samples from the logits), K/V layers mapped by `layerOf`.
 */
export async function samplesFromPrefill(
  model: LoadedModel,
  tokens: readonly number[],
  plan: readonly PlannedSample[],
  kvDtype: KvDtype,
  sampler: SamplerConfig,
  layerOf: (layer: number) => number = (l) => l,
): Promise<Receipt["samples"]> {
  if (plan.length === 0) return [];
  const out = await model.forward({ tokens: tokens.slice(0, tokens.length - 1), past: null });
  const V = model.config.vocabSize;
  const round = (v: Float32Array) => (kvDtype === "float16" ? v.map((x) => roundToF16(x)) : v);
  return plan.map(({ position, layer }) => {
    const v =
      layer === sampler.numLayers
        ? topSampleVectors(sampler, out.logits!.subarray(position * V, (position + 1) * V))
        : kvSampleVectors(sampler, layer, kvRow(out.present, layerOf(layer), "key", position), kvRow(out.present, layerOf(layer), "value", position));
    return { position, layer, key: round(v.key), value: round(v.value) };
  });
}

/** A receipt with new tokens/configs/samples (validated). */
function remake(r: Receipt, patch: Partial<Receipt>): Receipt {
  return parseReceipt({ ...r, ...patch });
}

/** Whether an attack's receipt has the honest run's output tokens, and also its samples' numbers. */
function sameAs(r: Receipt, honest: Receipt): { sameOutputAsHonest: boolean; sameReceiptAsHonest: boolean } {
  const sameOutput = r.outputTokens.length === honest.outputTokens.length && r.outputTokens.every((t, i) => t === honest.outputTokens[i]);
  const eq = (a: Float32Array, b: Float32Array) => a.length === b.length && a.every((x, i) => x === b[i]);
  const sameSamples =
    r.samples.length === honest.samples.length &&
    r.samples.every((s, i) => {
      const h = honest.samples[i]!;
      return s.position === h.position && s.layer === h.layer && eq(s.key, h.key) && eq(s.value, h.value);
    });
  return { sameOutputAsHonest: sameOutput, sameReceiptAsHonest: sameOutput && sameSamples };
}

/** Per sample, the statistic that decides it: max(key error, value error). */
export function sampleErrors(r: RunRecord): number[] {
  return r.keyErrors.map((k, i) => Math.max(k, r.valueErrors[i]!));
}

function caughtBy(v: Verdict): CaughtBy {
  if (v.agrees) return "none";
  if (v.malformed) return "plan";
  const k = v.firstMismatch?.kind;
  return k === "key" || k === "value" ? "kv" : k === "top" ? "top" : k === "token" ? "token" : k === "plan" ? "plan" : "none";
}

function prompt(n: number): number[] {
  // printable bytes, deterministic
  return Array.from({ length: n }, (_, i) => 32 + ((i * 37 + 11) % 95));
}

/** Run the suite (module comment). */
export async function runSuite(o: SuiteOptions): Promise<SuiteReport> {
  const log = o.log ?? (() => undefined);
  // runs that are the model itself for this model (n/a), set once it is loaded
  const notApplicable = new Set<string>();
  const want = (name: string) => !notApplicable.has(name) && (!o.only || o.only.includes(name));
  const maxTokens = o.maxTokens ?? 64;
  const P = o.promptLen ?? 32;
  const promptTokens = prompt(P);
  const samplerIn = { seed: DEFAULT_SAMPLER_SEED, ratePpm: o.ratePpm ?? 125_000, layersPerToken: o.layersPerToken ?? 2 };
  const greedy = { ...GREEDY, maxTokens };
  const sampled = { ...SAMPLED, maxTokens };

  const open: LoadedModel[] = [];
  const load = async (dir: string, lo: LoadOptions) => {
    const m = await loadModel(dir, lo);
    open.push(m);
    return m;
  };
  try {
    const real1 = await load(o.modelDir, { threads: 1 });
    const real2 = await load(o.modelDir, { threads: 2 });
    const realNoOpt = await load(o.modelDir, { threads: 1, graphOptimizationLevel: "disabled" });
    const layersPerToken = Math.min(samplerIn.layersPerToken, real1.config.layers);
    const sampler = { ...samplerIn, layersPerToken };
    const vopts = o.verify ?? {};
    const fp16Model = real1.config.dtype === "fp16";
    const baseQuantized = buildOptionsFromConfig(real1.rawConfig as Record<string, unknown>).quantized;
    // int8 and QDQ graphs already hold int8 per-channel weights (the same rounding): an int8 LM head
    // or last MLP is the model itself there
    if (baseQuantized === "int8" || baseQuantized === "qdq") for (const n of ["lm-head-int8", "last-mlp-int8", "lm-head-int8-forged-top"]) notApplicable.add(n);
    // a tied head is the embedding: the builder's head-only variants would change nothing there (n/a;
    // a cheater's separate int8 copy of a tied head is not expressible as a build)
    if (real1.rawConfig.tie_word_embeddings === true) for (const n of ["lm-head-int8", "lm-head-bf16", "lm-head-int8-forged-top"]) notApplicable.add(n);
    // a stepwise model's prompt is read in fixed passes (model/passes.ts): other prefill chunks are not honest there
    if (real1.config.stepwise) notApplicable.add("chunked-prefill");
    // precision variants that are the model itself at fp16 are not attacks there (n/a)
    const precisionVariants: Record<string, Partial<BuildOptions>> = {
      ...(notApplicable.has("lm-head-int8") ? {} : { "lm-head-int8": { weightQuantization: "int8" as const, variantScope: "lm-head" as const } }),
      ...(notApplicable.has("lm-head-bf16") ? {} : { "lm-head-bf16": { weightQuantization: "bf16" as const, variantScope: "lm-head" as const } }),
      ...(notApplicable.has("last-mlp-int8") ? {} : { "last-mlp-int8": { weightQuantization: "int8" as const, variantScope: "last-mlp" as const } }),
      "skip-last-layer": { skipLastLayerOutput: true },
      "bf16-weights": { weightQuantization: "bf16" },
      ...(fp16Model ? {} : { "fp16-weights": { weightQuantization: "fp16" as const }, "fp16-activations": fp16ActivationsOf(baseQuantized) }),
    };
    const needed = (name: string) =>
      want(name) ||
      (name === "skip-last-layer" && want("plan-aware-skip")) ||
      (name === "lm-head-int8" && want("lm-head-int8-forged-top")) ||
      (name === "fp16-weights" && want("short-receipt-fp16-weights")) ||
      (name === "fp16-activations" && want("fp16-decode-fp32-prefill"));
    const { dirs, fewerLayers } = await buildVariants(o.modelDir, o.workDir, real1.rawConfig as Record<string, unknown>, {
      ...Object.fromEntries(Object.entries(precisionVariants).filter(([n]) => needed(n))),
      ...Object.fromEntries((o.probes ?? []).map((p) => [p.name, p.build])),
    });

    const honest: RunRecord[] = [];
    const attacks: RunRecord[] = [];
    const probes: RunRecord[] = [];

    /** Verify with early stop (real1, 1 thread), then full replay with the sample errors, plus extra configurations; compare bytes. */
    const check = async (
      name: string,
      kind: RunRecord["kind"],
      description: string,
      receipt: Receipt,
      verifier: LoadedModel,
      extra: { chunkSize?: number; also?: { model: LoadedModel; chunkSize?: number }[]; expected?: CaughtBy; generateMs?: number; honest?: Receipt } = {},
    ) => {
      const base = { ...vopts, ...(extra.chunkSize ? { chunkSize: extra.chunkSize } : {}) };
      const v = await verifyReceipt(verifier, receipt, base);
      const full = await verifyReceipt(verifier, receipt, { ...base, earlyStop: false, collectSamples: true });
      let canonical = full.matchBitmapHex === v.matchBitmapHex;
      for (const a of extra.also ?? []) {
        const w = await verifyReceipt(a.model, receipt, { ...vopts, ...(a.chunkSize ? { chunkSize: a.chunkSize } : {}) });
        canonical &&= w.matchBitmapHex === v.matchBitmapHex;
      }
      const fs = full.samples ?? [];
      const keyErrors = fs.map((s) => s.keyError);
      const valueErrors = fs.map((s) => s.valueError);
      const rec: RunRecord = {
        name,
        kind,
        description,
        ...(extra.expected ? { expected: extra.expected } : {}),
        caughtBy: caughtBy(v),
        agrees: v.agrees,
        ok: kind === "honest" ? v.agrees : kind === "attack" ? !v.agrees : true,
        checks: v.checks,
        matched: v.matched,
        bitmapHex: v.matchBitmapHex,
        ...(v.firstMismatch ? { firstMismatch: v.firstMismatch } : {}),
        keyErrors,
        valueErrors,
        sampleLayers: fs.map((s) => s.layer),
        sampleTop: fs.map((s) => s.top),
        separation: NaN,
        keyMaxAbsOverRms: fs.map((s) => s.keyMaxAbsOverRms),
        valueMaxAbsOverRms: fs.map((s) => s.valueMaxAbsOverRms),
        maxKvError: Math.max(0, ...keyErrors, ...valueErrors),
        canonical,
        replayMs: v.replayMs,
        fullReplayMs: full.replayMs,
        earlyStopped: v.earlyStopped,
        ...(extra.generateMs !== undefined ? { generateMs: extra.generateMs } : {}),
        tokenStats: full.errors.tokens,
        ...(extra.honest ? sameAs(receipt, extra.honest) : {}),
      };
      (kind === "honest" ? honest : kind === "attack" ? attacks : probes).push(rec);
      log(
        `${kind} ${name}: ${v.agrees ? "agrees" : "disagrees"} ` +
          `(${v.matched}/${v.checks} matched${rec.caughtBy !== "none" ? `, caught by ${rec.caughtBy}` : ""}; max KV error ${rec.maxKvError.toExponential(2)}` +
          `${canonical ? "" : "; BITMAPS DIFFER"})${rec.ok ? "" : "  <-- UNEXPECTED"}`,
      );
      return rec;
    };
    const gen = (m: LoadedModel, decoding: DecodingConfigInput, extra: { kvDtype?: KvDtype; prefillChunkSize?: number; promptTokens?: number[] } = {}) =>
      generate(m, { promptTokens: extra.promptTokens ?? promptTokens, decoding, sampler, ...extra });

    // ---- honest runs
    const hGreedy = await gen(real1, greedy);
    if (want("threads-1-to-2")) await check("threads-1-to-2", "honest", "greedy, generated with 1 thread, verified with 2", hGreedy.receipt, real2, { generateMs: hGreedy.timings.totalMs });
    const hSampled2 = await gen(real2, sampled);
    if (want("threads-2-to-1")) await check("threads-2-to-1", "honest", "sampled, generated with 2 threads, verified with 1", hSampled2.receipt, real1, { generateMs: hSampled2.timings.totalMs });
    const hSampled1 = await gen(real1, sampled);
    if (want("opt-all-to-disabled"))
      await check("opt-all-to-disabled", "honest", "sampled, generated with graph optimisation all, verified with it disabled", hSampled1.receipt, realNoOpt);
    if (want("opt-disabled-to-all")) {
      const g = await gen(realNoOpt, greedy);
      await check("opt-disabled-to-all", "honest", "greedy, generated with graph optimisation disabled, verified with all", g.receipt, real1);
    }
    if (want("chunked-replay"))
      await check("chunked-replay", "honest", `greedy, verified in chunks of ${o.smallChunk ?? 16} tokens`, hGreedy.receipt, real1, { chunkSize: o.smallChunk ?? 16 });
    if (want("chunked-prefill")) {
      const g = await gen(real1, sampled, { prefillChunkSize: 7 });
      await check("chunked-prefill", "honest", "sampled, generator read the prompt in chunks of 7 tokens", g.receipt, real2);
    }
    if (want("batch-of-2")) {
      const g = await gen(batchedModel(real1), sampled);
      // a stepwise graph quantises activations with one scale over the whole batch, so a batched
      // pass depends on the other request: not an honest setup there (a probe, counted neither way)
      if (real1.config.stepwise)
        await check("batch-of-2", "probe", "stepwise model batched with a companion request: its activation scales span the batch, so the job's result depends on the other row (a generator of such a model decodes each job alone)", g.receipt, real2);
      else await check("batch-of-2", "honest", "sampled, every pass of the generator batched with a companion request of the same length, verified alone", g.receipt, real2);
    }
    if (want("float16-storage")) {
      const g = await gen(real1, sampled, { kvDtype: "float16" });
      await check("float16-storage", "honest", "sampled, samples stored as float16, verified with 2 threads", g.receipt, real2);
    }

    // ---- attacks: model variants (decode with the variant, relabel as the real model)
    const variantAttack = async (
      name: string,
      description: string,
      decoding: DecodingConfigInput,
      kind: RunRecord["kind"] = "attack",
      expected: CaughtBy = "kv",
      extra: { variant?: string; promptTokens?: number[] } = {},
    ) => {
      if (kind === "attack" && !want(name)) return;
      const m = await load(dirs[extra.variant ?? name]!, { threads: 1 });
      const g = await gen(m, decoding, extra.promptTokens ? { promptTokens: extra.promptTokens } : {});
      await m.release();
      open.splice(open.indexOf(m), 1);
      const r = remake(g.receipt, { modelId: real1.modelId, kvDtype: real1.config.dtype === "fp16" ? "float16" : "float32" });
      await check(name, kind, description, r, real1, { ...(kind === "attack" ? { expected } : {}), also: [{ model: real2, chunkSize: o.smallChunk ?? 16 }] });
    };
    await variantAttack("other-weights", "decoded with another weight seed, relabelled", sampled);
    await variantAttack("int8-weights", "decoded with int8 per-channel quantised weights", greedy);
    await variantAttack("perturbed-1pct", "decoded with weights × (1 + N(0, 1 %))", sampled);
    for (const p of o.probes ?? []) await variantAttack(p.name, p.description, p.decoding === "greedy" ? greedy : sampled, "probe");

    // ---- attacks on the top of the model and precision downgrades (issue 9)
    if (!notApplicable.has("lm-head-int8")) await variantAttack("lm-head-int8", "LM head quantised to int8 per channel, the rest exact", greedy, "attack", "top");
    if (!notApplicable.has("lm-head-bf16")) await variantAttack("lm-head-bf16", "LM head rounded to bfloat16, the rest exact", sampled, "attack", "top");
    if (want("lm-head-int8-forged-top")) {
      // The adaptive form: the top samples are projections R·z of the logits row z = W·h, and R is known
      // when the generator runs, so R·W (2r × hidden) can be precomputed and the top samples reported
      // from the true final hidden state h whatever LM head decoded the tokens. Here they are taken from
      // one prefill of the real model (what R·W·h gives, up to honest noise): only the token check can
      // see the cheap head.
      const m = await load(dirs["lm-head-int8"]!, { threads: 1 });
      const g = await gen(m, greedy);
      await m.release();
      open.splice(open.indexOf(m), 1);
      const r0 = g.receipt;
      const tokens = [...r0.promptTokens, ...r0.outputTokens];
      const L = r0.sampler.numLayers;
      const topPlan = r0.samples.filter((s) => s.layer === L).map((s) => ({ position: s.position, layer: s.layer }));
      const kvDtype: KvDtype = real1.config.dtype === "fp16" ? "float16" : "float32";
      const forged = await samplesFromPrefill(real1, tokens, topPlan, kvDtype, r0.sampler);
      const at = new Map(forged.map((s) => [s.position, s]));
      const samples = r0.samples.map((s) => (s.layer === L ? at.get(s.position)! : s));
      const r = remake(r0, { modelId: real1.modelId, kvDtype, samples });
      await check("lm-head-int8-forged-top", "attack", "LM head int8, top samples reported from the true hidden state (R·W·h)", r, real1, {
        expected: "token",
        also: [{ model: real2, chunkSize: o.smallChunk ?? 16 }],
      });
    }
    if (!notApplicable.has("last-mlp-int8")) await variantAttack("last-mlp-int8", "the last layer's MLP quantised to int8 per channel", greedy, "attack", "top");
    await variantAttack("skip-last-layer", "the last layer's attention output and MLP skipped (its K/V still computed)", sampled, "attack", "top");
    await variantAttack("bf16-weights", "every weight rounded to bfloat16", greedy);
    if (!fp16Model) {
      await variantAttack("fp16-weights", "every weight rounded to binary16, computed in fp32", sampled);
      await variantAttack("fp16-activations", "the fp16 build of the model (weights and activations binary16)", greedy);
      await variantAttack("short-receipt-fp16-weights", "fp16-rounded weights, 8-token prompt, 16 tokens (the evidence floor's case)", { ...sampled, maxTokens: 16 }, "attack", "kv", {
        variant: "fp16-weights",
        promptTokens: promptTokens.slice(0, 8),
      });
    }
    const wrappedAttack = async (name: string, description: string, m: LoadedModel, decoding: DecodingConfigInput, expected: CaughtBy, honestRun?: Receipt) => {
      const g = await gen(m, decoding);
      const r = remake(g.receipt, { modelId: real1.modelId, kvDtype: real1.config.dtype === "fp16" ? "float16" : "float32" });
      await check(name, "attack", description, r, real1, { expected, also: [{ model: real2, chunkSize: o.smallChunk ?? 16 }], ...(honestRun ? { honest: honestRun } : {}) });
    };
    for (const mode of ["fp16", "int8", "fp8"] as const) {
      const name = `kv-cache-${mode}`;
      if (!want(name) || (mode === "fp16" && fp16Model)) continue;
      await wrappedAttack(name, `KV cache stored as ${mode} between decoding steps`, withNarrowCache(real1, mode), sampled, "kv");
    }
    if (want("plan-aware-skip")) {
      const cheapTop = await load(dirs["skip-last-layer"]!, { threads: 1 });
      const cfg = hGreedy.receipt.sampler;
      const end = P + maxTokens - 1; // stopAtEos is off: the length, hence the floor, is known in advance
      const routed = routedModel(real1, cheapTop, (p, h) => tokenSampled(cfg, p, h) || p >= end - cfg.minPositions - 1);
      await wrappedAttack("plan-aware-skip", "the last layer skipped except at the positions the samplers will pick (and the floor's)", routed, greedy, "token", hGreedy.receipt);
    }
    if (want("fp16-decode-fp32-prefill") && !fp16Model) {
      const m16 = await load(dirs["fp16-activations"]!, { threads: 1 });
      await wrappedAttack("fp16-decode-fp32-prefill", "prompt prefilled by the fp32 model, every decoding step by its fp16 build", prefillDecodeModel(real1, m16), sampled, "kv");
    }

    const realSampler: SamplerConfig = hGreedy.receipt.sampler;
    let cheap: LoadedModel | null = null;
    const cheapModel = async () => (cheap ??= await load(dirs["fewer-layers"]!, { threads: 1 }));
    const cheapGen = async (decoding: DecodingConfigInput): Promise<GenerateResult> =>
      generate(await cheapModel(), { promptTokens, decoding, sampler: { ...sampler, layersPerToken: Math.min(layersPerToken, fewerLayers) } });

    if (want("fewer-layers")) {
      const g = await cheapGen(greedy);
      const tokens = [...g.receipt.promptTokens, ...g.receipt.outputTokens];
      const plan = samplePlan(realSampler, tokens, P);
      const samples = await samplesFromPrefill(await cheapModel(), tokens, plan, "float32", realSampler, (l) => Math.min(l, fewerLayers - 1));
      const r = remake(g.receipt, { modelId: real1.modelId, sampler: realSampler, samples });
      await check("fewer-layers", "attack", `decoded with the first ${fewerLayers} layers; missing layers' samples copied from layer ${fewerLayers - 1}`, r, real1, {
        expected: "kv",
        also: [{ model: real2 }],
      });
    }
    if (want("cheap-decode")) {
      const g = await cheapGen(sampled);
      const tokens = [...g.receipt.promptTokens, ...g.receipt.outputTokens];
      const plan = samplePlan(realSampler, tokens, P);
      const samples = await samplesFromPrefill(real1, tokens, plan, "float32", realSampler);
      const r = remake(g.receipt, { modelId: real1.modelId, sampler: realSampler, samples });
      await check("cheap-decode", "attack", `tokens decoded by the ${fewerLayers}-layer model, KV samples from one prefill of the real model`, r, real1, {
        expected: "token",
        also: [{ model: real2 }],
      });
    }

    // ---- attacks: edits of an honest receipt
    const honestR = hSampled1.receipt;
    const honestTokens = [...honestR.promptTokens, ...honestR.outputTokens];
    const editAt = Math.floor(honestR.outputTokens.length / 2);
    const edited = honestR.outputTokens.slice();
    edited[editAt] = (edited[editAt]! + 1) % 256;
    if (want("tokens-edited")) {
      const r = remake(honestR, { outputTokens: edited });
      await check("tokens-edited", "attack", `output token ${editAt} changed after generation, receipt otherwise unchanged`, r, real1, { expected: "plan" });
    }
    if (want("tokens-edited-resampled")) {
      const tokens = [...honestR.promptTokens, ...edited];
      const samples = await samplesFromPrefill(real1, tokens, samplePlan(honestR.sampler, tokens, P), honestR.kvDtype, honestR.sampler);
      const r = remake(honestR, { outputTokens: edited, samples });
      await check("tokens-edited-resampled", "attack", `output token ${editAt} changed, plan and samples recomputed by a real prefill`, r, real1, {
        expected: "token",
        also: [{ model: real2 }],
      });
    }
    if (want("sample-value-noise") && honestR.samples.length > 0) {
      const k = Math.floor(honestR.samples.length / 2);
      const samples = honestR.samples.map((s, i) => {
        if (i !== k) return s;
        let rms = 0;
        for (const x of s.value) rms += x * x;
        rms = Math.sqrt(rms / s.value.length);
        // deterministic ±1 % of the RMS per element
        const value = s.value.map((x, j) => x + 0.01 * rms * (((j * 2654435761) >>> 0) % 2 ? 1 : -1));
        return { ...s, value };
      });
      await check("sample-value-noise", "attack", `sample ${k}'s value vector + 1 % (of its RMS) per element`, remake(honestR, { samples }), real1, {
        expected: "kv",
        also: [{ model: real2 }],
      });
    }
    if (want("sample-key-swapped")) {
      const byLayer = new Map<number, number[]>();
      honestR.samples.forEach((s, i) => byLayer.set(s.layer, [...(byLayer.get(s.layer) ?? []), i]));
      const pair = [...byLayer.values()].find((l) => l.length >= 2);
      if (pair) {
        const [a, b] = [pair[0]!, pair[pair.length - 1]!];
        const samples = honestR.samples.map((s, i) => (i === a ? { ...s, key: honestR.samples[b]!.key } : i === b ? { ...s, key: honestR.samples[a]!.key } : s));
        await check("sample-key-swapped", "attack", `samples ${a} and ${b} (layer ${honestR.samples[a]!.layer}) exchange their keys`, remake(honestR, { samples }), real1, {
          expected: "kv",
          also: [{ model: real2 }],
        });
      }
    }
    if (want("prompt-changed")) {
      // the generator answered its own prompt; the receipt claims the user's (first token differs)
      const own = promptTokens.slice();
      own[0] = (own[0]! + 1) % 256;
      const g = await gen(real1, greedy, { promptTokens: own });
      const claimed = [...promptTokens, ...g.receipt.outputTokens];
      const plan = samplePlan(realSampler, claimed, P);
      const samples = await samplesFromPrefill(real1, [...own, ...g.receipt.outputTokens], plan, "float32", realSampler);
      const r = remake(g.receipt, { promptTokens, samples });
      await check("prompt-changed", "attack", "output and KV computed for another prompt (first token differs), receipt claims the user's", r, real1, {
        expected: "kv",
        also: [{ model: real2 }],
      });
    }
    const plan = samplePlan(honestR.sampler, honestTokens, P);
    const planned = new Set(plan.map((q) => `${q.position}:${q.layer}`));
    const truth = async (position: number, layer: number) => (await samplesFromPrefill(real1, honestTokens, [{ position, layer }], honestR.kvDtype, honestR.sampler))[0]!;
    if (want("unplanned-sample") && honestR.samples.length > 0) {
      const k = honestR.samples.length - 1;
      const s = honestR.samples[k]!;
      // the nearest unplanned position after the sample, else before it (the evidence floor plans the
      // last positions, so a receipt's last sample may have no unplanned position after it)
      let p = s.position + 1;
      while (p < honestTokens.length - 1 && planned.has(`${p}:${s.layer}`)) p++;
      if (p >= honestTokens.length - 1) {
        p = s.position - 1;
        while (p >= 0 && planned.has(`${p}:${s.layer}`)) p--;
      }
      if (p >= 0 && p < honestTokens.length - 1) {
        const samples = honestR.samples.slice();
        samples[k] = await truth(p, s.layer);
        samples.sort((x, y) => x.position - y.position || x.layer - y.layer);
        await check("unplanned-sample", "attack", `sample ${k} moved from position ${s.position} to ${p} (true KV there)`, remake(honestR, { samples }), real1, { expected: "plan" });
      }
    }
    if (want("extra-sample")) {
      let q: PlannedSample | null = null;
      for (let p = 0; p < honestTokens.length - 1 && !q; p++) if (!planned.has(`${p}:0`)) q = { position: p, layer: 0 };
      if (q) {
        const samples = [...honestR.samples, await truth(q.position, q.layer)].sort((x, y) => x.position - y.position || x.layer - y.layer);
        await check("extra-sample", "attack", `a true sample added at the unplanned (${q.position}, ${q.layer})`, remake(honestR, { samples }), real1, { expected: "plan" });
      }
    }
    if (want("root-mismatch") && honestR.samples.length > 0) {
      const committed = receiptRoot(honestR);
      const bytes = encodeReceipt(honestR).slice();
      bytes[bytes.length - 3]! ^= 0x01; // a low mantissa bit of the last sample's last value
      const tampered = decodeReceipt(bytes);
      let refused = false;
      try {
        await verifyReceipt(real1, tampered, { ...vopts, expectedRoot: committed });
      } catch (e) {
        refused = e instanceof ReceiptMismatchError;
      }
      const rec: RunRecord = {
        name: "root-mismatch",
        kind: "attack",
        description: "one byte of a sample flipped in the fetched bytes, presented with the committed root",
        expected: "root",
        caughtBy: refused ? "root" : "none",
        agrees: !refused,
        ok: refused,
        checks: honestR.samples.length + honestR.outputTokens.length,
        matched: 0,
        bitmapHex: "",
        keyErrors: [],
        valueErrors: [],
        sampleLayers: [],
        sampleTop: [],
        separation: NaN,
        keyMaxAbsOverRms: [],
        valueMaxAbsOverRms: [],
        maxKvError: 0,
        canonical: true,
        replayMs: 0,
        fullReplayMs: 0,
        earlyStopped: false,
      };
      attacks.push(rec);
      log(`attack root-mismatch: ${refused ? `refused (root ${receiptRoot(bytes).slice(0, 12)}… ≠ committed ${committed.slice(0, 12)}…)` : "ACCEPTED  <-- UNEXPECTED"}`);
    }

    const stageMax = (top: boolean) =>
      Math.max(0, ...honest.flatMap((h) => sampleErrors(h).filter((_, i) => h.sampleTop[i] === top)));
    const maxHonestError = stageMax(false);
    const maxHonestTopError = stageMax(true);
    const ratio = (r: RunRecord, i: number, e: number) => {
      const m = r.sampleTop[i] ? maxHonestTopError : maxHonestError;
      return m > 0 ? e / m : Infinity;
    };
    for (const a of attacks) if (a.sampleTop.length) a.separation = Math.max(0, ...sampleErrors(a).map((e, i) => ratio(a, i, e)));
    const kvAttacks = attacks.filter((a) => a.caughtBy === "kv" || a.caughtBy === "top");
    const minAttackError = kvAttacks.length ? Math.min(...kvAttacks.map((a) => a.maxKvError)) : NaN;
    const whole = attacks.filter((a) => ["other-weights", "int8-weights", "perturbed-1pct"].includes(a.name));
    const minSample = whole.length ? Math.min(...whole.flatMap((a) => sampleErrors(a).map((e, i) => ratio(a, i, e)))) : NaN;
    const tolerances = resolveTolerances(real1.config.dtype, vopts.tolerances);
    return {
      modelId: real1.modelId,
      dtype: real1.config.dtype,
      honest,
      attacks,
      probes,
      honestRuns: honest.length,
      falseAlarms: honest.filter((h) => !h.ok).length,
      attackRuns: attacks.length,
      missed: attacks.filter((a) => !a.ok).length,
      maxHonestError,
      maxHonestTopError,
      minAttackError,
      minSeparation: kvAttacks.length ? Math.min(...kvAttacks.map((a) => a.separation)) : NaN,
      minSampleSeparation: minSample,
      canonical: [...honest, ...attacks].every((r) => r.canonical),
      threshold: tolerances.kv,
      topThreshold: tolerances.top,
    };
  } finally {
    for (const m of open) await m.release();
  }
}
