/**
 * Loader and forward pass for any local decoder export in the layouts of Hugging Face Optimum and
 * transformers.js (variants.ts: model.onnx, onnx/model_<variant>.onnx, decoder_model_merged.onnx,
 * the split decoder_model.onnx + decoder_with_past_model.onnx; external data), with config.json and
 * tokenizer.json.
 *
 * At load: the graph is opened at the requested optimisation level; when onnxruntime's optimiser
 * breaks it (#32416: same-dtype Casts), the same-dtype Casts are removed and it is opened again, and
 * when that does not help either (or the load-time check run below fails) the next lower level is
 * tried. Every such change is listed in `LoadedModel.notes`. The check run: prefills of 1 and 3
 * tokens and one step with a past must run and give no NaN. A config without max_position_embeddings
 * is refused unless the caller gives `contextLength`.
 *
 * The graph's inputs and outputs are read from the session, not assumed: `position_ids`,
 * `cache_position` and the legacy `use_cache_branch` are fed only when the graph has them
 * (use_cache_branch = past is non-empty). Layers, kv heads, head_dim and dtype come from the
 * `past_key_values.*` input metadata, cross-checked with config.json.
 */
import { readFile, stat } from "node:fs/promises";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { createHash } from "node:crypto";
import { dirname, join, resolve } from "node:path";
import * as ort from "onnxruntime-node";
import type { InferenceSession, Tensor } from "onnxruntime-node";
import { ExecutionProviderError, ModelConfigError, ModelFileError, ModelInputError } from "./errors.js";
import { passDependentOps, passPlan } from "./passes.js";
import { computeModelId, decodeOnnx, resolveModelFiles, type Hex32, type ModelFileEntry } from "./files.js";
import type { HashProgress } from "./hash-cache.js";
import { OPTIMISER_BUG_RE, stripSameDtypeCasts } from "./graph-fix.js";
import type { ModelVariant } from "./variants.js";
import type { OnnxTypes } from "./onnx-proto.js";
import { allIds, firstId, parseHfConfig, readJsonFile, type HfConfig } from "./config.js";
import { halfToFloat32 } from "./fp16.js";
import { encodeModel, type Dtype } from "./graph.js";
import type { KvCache, KvLayer } from "./kv.js";
import { inlineExternalData, pruneToOutputs } from "./prune.js";
import { wrapTokenizer, type TextTokenizer } from "./tokenizer.js";

export type ExecutionProvider = "cpu" | "cuda" | "webgpu";
export const EXECUTION_PROVIDERS: readonly ExecutionProvider[] = ["cpu", "cuda", "webgpu"];
export type GraphOptimizationLevel = "disabled" | "basic" | "extended" | "all";
/** Lowest first. */
export const GRAPH_OPTIMIZATION_LEVELS: readonly GraphOptimizationLevel[] = ["disabled", "basic", "extended", "all"];

export interface LoadOptions {
  /** Execution provider (default "cpu"). */
  provider?: ExecutionProvider;
  /** intraOpNumThreads of the CPU provider (default: onnxruntime's choice, one per core). */
  threads?: number;
  /** Default "all". */
  graphOptimizationLevel?: GraphOptimizationLevel;
  /** ONNX file relative to the directory (default: model.onnx, decoder_model_merged.onnx, onnx/…). */
  modelFile?: string;
  /** GPU index for cuda (default 0). */
  deviceId?: number;
  /** Variant (fp32, fp16, q4, q4f16, int8/quantized, …): required when the directory holds several. */
  variant?: string;
  /**
   * Context length: required when config.json has no max_position_embeddings; may lower the config's
   * (a value above it is refused).
   */
  contextLength?: number;
  /** Run the load-time check (default true). */
  smokeTest?: boolean;
  /** Cache file hashes next to the model (default true; hash-cache.ts). */
  hashCache?: boolean;
  /** Progress of hashing the model files not yet in the cache. */
  onHashProgress?: HashProgress;
}

/** What the rest of the code needs to know about a model. */
export interface ModelSpec {
  layers: number;
  hiddenSize: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  vocabSize: number;
  /** Context length from config.json (max_position_embeddings), null when not given. */
  maxPositions: number | null;
  /** Dtype of the KV cache (and of the model's activations). */
  dtype: Dtype;
  bosId: number | null;
  /** First eos id (config may list several: see eosIds). */
  eosId: number | null;
  eosIds: number[];
  modelType: string | null;
  /**
   * The graph quantises activations per pass (DynamicQuantizeLinear: passes.ts), so a token's
   * numbers depend on which tokens share its pass: generation and replay run the same passes
   * (passPlan), the prompt in chunks of STEPWISE_PROMPT_CHUNK and then one token per pass.
   */
  stepwise: boolean;
}

export interface ForwardInput {
  /** New tokens (at least one), appended after `past`. */
  tokens: readonly number[];
  /** Cache of the preceding positions (from an earlier forward), or null at the start. */
  past: KvCache | null;
  /**
   * Only compute and return `present` of layers < fetchLayers, and no logits: the verifier's early
   * stop. Runs a pruned graph (one extra session per distinct value, built on first use). The past
   * then needs only those layers.
   */
  fetchLayers?: number;
}

export interface ForwardOutput {
  /** [tokens.length, vocabSize] row-major, fp32 (converted from fp16); null with fetchLayers. */
  logits: Float32Array | null;
  /** past ++ the new positions; `fetchLayers` layers with fetchLayers, else all. */
  present: KvCache;
}

export interface LoadedModel {
  readonly dir: string;
  readonly modelId: Hex32;
  /** The model files the id covers, sorted by path. */
  readonly files: readonly ModelFileEntry[];
  /** The ONNX file used for passes with a past, relative to dir. */
  readonly onnxFile: string;
  /** The variant loaded (name, layout, graph files). */
  readonly variant: ModelVariant;
  /** The optimisation level the sessions run at (lower than requested after a fallback, see notes). */
  readonly graphOptimizationLevel: GraphOptimizationLevel;
  /** What the loader changed to make the model run (removed Casts, lowered optimisation), in words. */
  readonly notes: readonly string[];
  readonly config: ModelSpec;
  /** config.json as validated (unknown keys kept). */
  readonly rawConfig: HfConfig;
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly provider: ExecutionProvider;
  readonly threads: number | null;
  readonly tokenizer: TextTokenizer;
  forward(input: ForwardInput): Promise<ForwardOutput>;
  /**
   * One pass over several sequences at once, as a generator serving a batch runs it: every row has
   * the same past length and the same number of new tokens (no padding), and row i of the result is
   * what `forward(inputs[i])` computes, up to the kernels' rounding for the batch's shapes. One row
   * is `forward` itself.
   */
  forwardBatch(inputs: readonly ForwardInput[]): Promise<ForwardOutput[]>;
  /**
   * This model with sessions at graph optimisation `level`: itself when it already runs there, else a
   * sibling loaded from the same files with the same options (kept, released with this model). What a
   * verifier replays with when a receipt declares the level the generator ran at.
   */
  atGraphLevel(level: GraphOptimizationLevel): Promise<LoadedModel>;
  release(): Promise<void>;
}

const require = createRequire(import.meta.url);
const KNOWN_INPUTS = new Set(["input_ids", "attention_mask", "position_ids", "cache_position", "use_cache_branch"]);
const PAST_RE = /^past_key_values\.(\d+)\.(key|value)$/;
/** Pruned sessions kept at once (each holds the weights of its layers). */
const MAX_PRUNED_SESSIONS = 3;

export async function loadModel(dir: string, options: LoadOptions = {}): Promise<LoadedModel> {
  const absDir = resolve(dir);
  const provider = options.provider ?? "cpu";
  if (!EXECUTION_PROVIDERS.includes(provider))
    throw new ExecutionProviderError(String(provider), `Unknown execution provider "${String(provider)}"`, {
      details: `expected one of ${EXECUTION_PROVIDERS.join(", ")}`,
    });
  if (options.threads !== undefined && (!Number.isInteger(options.threads) || options.threads < 0))
    throw new ModelInputError(`threads must be a non-negative integer (got ${options.threads})`);
  const requestedLevel = options.graphOptimizationLevel ?? "all";
  if (!GRAPH_OPTIMIZATION_LEVELS.includes(requestedLevel))
    throw new ModelInputError(`graph optimisation level must be one of ${GRAPH_OPTIMIZATION_LEVELS.join(", ")} (got ${String(requestedLevel)})`);
  if (options.contextLength !== undefined && (!Number.isInteger(options.contextLength) || options.contextLength < 1))
    throw new ModelInputError(`context length must be a positive integer (got ${options.contextLength})`);

  const located = await resolveModelFiles(absDir, {
    ...(options.modelFile !== undefined ? { modelFile: options.modelFile } : {}),
    ...(options.variant !== undefined ? { variant: options.variant } : {}),
  });
  const onnxPath = join(absDir, located.onnxFile);
  const configPath = join(absDir, "config.json");
  const hf = parseHfConfig(await readJsonFile(configPath), configPath);
  const maxPositions = contextLengthOf(hf, options.contextLength, configPath);
  const tokJsonPath = join(absDir, "tokenizer.json");
  const tokJson = await readJsonFile(tokJsonPath);
  const tokCfgPath = join(absDir, "tokenizer_config.json");
  const tokCfg = located.files.includes("tokenizer_config.json") ? await readJsonFile(tokCfgPath) : {};
  let tokenizer: TextTokenizer;
  try {
    tokenizer = wrapTokenizer(tokJson as object, tokCfg as object);
  } catch (cause) {
    throw new ModelFileError(tokJsonPath, "Unsupported or corrupt tokenizer", { cause, details: (cause as Error).message });
  }
  const { modelId, entries } = await computeModelId(absDir, located, {
    ...(options.hashCache !== undefined ? { cache: options.hashCache } : {}),
    ...(options.onHashProgress ? { onProgress: options.onHashProgress } : {}),
  });
  const sha = (f: string) => entries.find((e) => e.path === f)!.sha256;

  const baseOptions: InferenceSession.SessionOptions = {
    executionProviders: [provider === "cuda" ? { name: "cuda", deviceId: options.deviceId ?? 0 } : provider],
    executionMode: "sequential",
    interOpNumThreads: 1,
    logSeverityLevel: 3,
    ...(options.threads ? { intraOpNumThreads: options.threads } : {}),
  };
  // onnxruntime's CUDA provider runs fp32 matmuls in TF32 by default on Ampere and later GPUs (inputs
  // rounded to 10 mantissa bits): KV rows then differ from an exact fp32 computation by ~6e-3 relative,
  // above the verifier's fp32 threshold (offchain/verify README, "GPU"). onnxruntime-node passes no
  // use_tf32 option, so ask cuBLAS for exact fp32 through its environment variable unless the user set it.
  if (provider === "cuda" && process.env.NVIDIA_TF32_OVERRIDE === undefined) process.env.NVIDIA_TF32_OVERRIDE = "0";

  const graphs: GraphFile[] = [{ file: located.onnxFile, sha256: sha(located.onnxFile) }];
  if (located.variant.firstPassGraph) graphs.push({ file: located.variant.firstPassGraph, sha256: sha(located.variant.firstPassGraph) });
  const hasExternal = located.externalData.length > 0;
  const notes: string[] = [];
  const stepwiseOps = [...new Set((await Promise.all(graphs.map((g) => passDependentOps(join(absDir, g.file))))).flat())];
  if (stepwiseOps.length > 0)
    notes.push(
      `the graph quantises activations per forward pass (${stepwiseOps.join(", ")}): generation and replay run the same passes, one token at a time after the prompt (a replay costs about what generation did)`,
    );
  let level = requestedLevel;
  let strip = false;
  for (;;) {
    const sessionOptions = { ...baseOptions, graphOptimizationLevel: level };
    let model: OrtModel | null = null;
    try {
      const sessions: InferenceSession[] = [];
      try {
        for (const g of graphs) sessions.push(await openGraph(absDir, g, sessionOptions, provider, strip, hasExternal));
      } catch (e) {
        for (const x of sessions) await x.release();
        throw e;
      }
      const [session, firstPass] = sessions as [InferenceSession, InferenceSession | undefined];
      let spec: ModelSpec;
      try {
        spec = { ...deriveSpec(session, hf, onnxPath, configPath), maxPositions, stepwise: stepwiseOps.length > 0 };
        if (firstPass) checkFirstPass(firstPass, spec, join(absDir, located.variant.firstPassGraph!));
      } catch (e) {
        for (const x of sessions) await x.release();
        throw e;
      }
      model = new OrtModel(absDir, modelId, entries, located.variant, graphs, hasExternal, spec, hf, session, firstPass ?? null,
        sessionOptions, provider, options.threads ?? null, tokenizer, level, notes, strip);
      model.loadOptions = options;
      if (options.smokeTest ?? true) await smokeRun(model, onnxPath);
      return model;
    } catch (e) {
      await model?.release();
      if (!(e instanceof ModelFileError) || !e.retryable || level === "disabled") throw e;
      const msg = e.details ?? e.shortMessage;
      if (!strip && OPTIMISER_BUG_RE.test(msg)) {
        const removed = await countSameDtypeCasts(absDir, graphs);
        if (removed > 0 && (!hasExternal || (await externalFits(absDir, located.externalData)))) {
          strip = true;
          notes.push(`removed ${removed} same-dtype Cast node(s) from the graph: onnxruntime broke it at optimisation "${level}" (onnxruntime #32416: ${msg})`);
          continue;
        }
      }
      const lower = GRAPH_OPTIMIZATION_LEVELS[GRAPH_OPTIMIZATION_LEVELS.indexOf(level) - 1]!;
      notes.push(`graph optimisation lowered from "${level}" to "${lower}": ${msg}`);
      level = lower;
    }
  }
}

/** The context bound: config.json's max_position_embeddings, or the caller's (never above the config's). */
function contextLengthOf(hf: HfConfig, given: number | undefined, configPath: string): number {
  const cfg = hf.max_position_embeddings ?? null;
  if (cfg === null && given === undefined)
    throw new ModelConfigError(`config.json has no max_position_embeddings, so the model has no context bound: ${configPath}`, {
      details:
        "a verifier's replay cost grows with the square of the receipt's length; add \"max_position_embeddings\": N to config.json " +
        "or give the context length (--context-length N, LoadOptions.contextLength)",
    });
  if (cfg !== null && given !== undefined && given > cfg)
    throw new ModelConfigError(`context length ${given} is above the model's max_position_embeddings ${cfg}: ${configPath}`);
  return given ?? cfg!;
}

interface GraphFile {
  file: string;
  sha256: string;
}

/** Opens one graph: from its path, or (strip) from its bytes with same-dtype Casts removed and external data inlined. */
async function openGraph(
  dir: string,
  g: GraphFile,
  opts: InferenceSession.SessionOptions,
  provider: ExecutionProvider,
  strip: boolean,
  hasExternal: boolean,
): Promise<InferenceSession> {
  const path = join(dir, g.file);
  if (!strip) return createSession(path, path, opts, provider);
  const model = await readChecked(path, g.sha256);
  stripSameDtypeCasts(model);
  if (hasExternal && !(await inlineExternalData(model, dirname(path))))
    throw new ModelFileError(path, "External data too large to inline for the graph fix");
  return createSession(encodeModel(model), path, opts, provider);
}

async function readChecked(path: string, sha256: string): Promise<OnnxTypes.ModelProto> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (cause) {
    throw new ModelFileError(path, "Cannot read ONNX model", { cause });
  }
  if (createHash("sha256").update(bytes).digest("hex") !== sha256) throw new ModelFileError(path, "ONNX model changed on disk since it was loaded");
  return decodeOnnx(path, bytes);
}

async function countSameDtypeCasts(dir: string, graphs: readonly GraphFile[]): Promise<number> {
  let n = 0;
  for (const g of graphs) n += stripSameDtypeCasts(await readChecked(join(dir, g.file), g.sha256));
  return n;
}

/** Whether the external data can be inlined into one protobuf (prune.ts's limit). */
async function externalFits(dir: string, files: readonly string[]): Promise<boolean> {
  let total = 0;
  for (const f of files) total += (await stat(join(dir, f))).size;
  return total <= 1_900_000_000;
}

/** Load-time check: prefills of 1 and 3 tokens and one step with a past run and give no NaN. */
async function smokeRun(model: OrtModel, onnxPath: string): Promise<void> {
  const c = model.config;
  const t = c.bosId !== null && c.bosId < c.vocabSize ? c.bosId : 0;
  const fail = (what: string, cause: unknown) =>
    new ModelFileError(onnxPath, `The model fails its load-time check run (${what})`, {
      cause,
      details: cause instanceof ModelInputError ? (cause.details ?? cause.shortMessage) : String((cause as Error)?.message ?? cause),
      retryable: true,
    });
  const run = async (what: string, input: ForwardInput) => {
    let out: ForwardOutput;
    try {
      out = await model.forward(input);
    } catch (cause) {
      throw fail(what, cause);
    }
    if (out.logits && out.logits.some((x) => Number.isNaN(x))) throw fail(what, new Error("the logits hold NaN"));
    return out;
  };
  await run("prefill of 1 token", { tokens: [t], past: null });
  if (c.maxPositions !== null && c.maxPositions < 4) return;
  const three = await run("prefill of 3 tokens", { tokens: [t, t, t], past: null });
  await run("one step after 3 tokens", { tokens: [t], past: three.present });
}

/** The first-pass graph of the split layout: same outputs, no past inputs. */
function checkFirstPass(session: InferenceSession, spec: ModelSpec, path: string): void {
  const bad = (msg: string) => new ModelFileError(path, msg);
  if (!session.inputNames.includes("input_ids")) throw bad("Not a decoder export (no input_ids input)");
  if (!session.outputNames.includes("logits")) throw bad("Not a decoder export (no logits output)");
  const unknown = session.inputNames.filter((n) => !KNOWN_INPUTS.has(n) && !PAST_RE.test(n));
  if (unknown.length > 0) throw new ModelFileError(path, "Unsupported model inputs", { details: unknown.join(", ") });
  for (let i = 0; i < spec.layers; i++)
    for (const k of ["key", "value"]) if (!session.outputNames.includes(`present.${i}.${k}`)) throw bad(`Missing output present.${i}.${k}`);
}

async function createSession(
  source: string | Uint8Array,
  file: string,
  opts: InferenceSession.SessionOptions,
  provider: ExecutionProvider,
): Promise<InferenceSession> {
  if (provider !== "cpu") {
    const backend = ort.listSupportedBackends().find((b) => b.name === provider);
    if (!backend)
      throw new ExecutionProviderError(provider, `Execution provider "${provider}" is not supported by this onnxruntime-node build`);
    if (provider === "cuda" && !cudaBinariesInstalled())
      throw new ExecutionProviderError(provider, `Execution provider "cuda" is not available on this machine`, {
        details:
          "onnxruntime-node was installed without its CUDA provider binaries (package.json's allowScripts skips its download script); " +
          "fetch them with ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install.js on a machine with an NVIDIA GPU and CUDA 12",
      });
  }
  try {
    return typeof source === "string" ? await ort.InferenceSession.create(source, opts) : await ort.InferenceSession.create(source, opts);
  } catch (cause) {
    const msg = (cause as Error).message ?? String(cause);
    if (provider !== "cpu" && /provider|adapter|shared library|cuda|webgpu|dawn|vulkan/i.test(msg))
      throw new ExecutionProviderError(provider, `Execution provider "${provider}" is not available on this machine`, {
        cause,
        details:
          provider === "cuda"
            ? `onnxruntime could not load its CUDA provider (needs the CUDA 12 onnxruntime-node binaries and an NVIDIA GPU): ${firstLine(msg)}`
            : `onnxruntime could not start WebGPU (no usable GPU adapter): ${firstLine(msg)}`,
      });
    // another optimisation level may load it
    throw new ModelFileError(file, "onnxruntime cannot load the model", { cause, details: firstLine(msg), retryable: true });
  }
}

/** The CUDA provider is a separate shared library next to the binding, fetched at install time. */
function cudaBinariesInstalled(): boolean {
  try {
    const dist = dirname(require.resolve("onnxruntime-node"));
    const bin = join(dist, "..", "bin", "napi-v6", process.platform, process.arch);
    const lib = process.platform === "win32" ? "onnxruntime_providers_cuda.dll" : "libonnxruntime_providers_cuda.so";
    return existsSync(join(bin, lib));
  } catch {
    return true; // unknown layout: let onnxruntime try
  }
}

const firstLine = (s: string) => s.split("\n").find((l) => l.trim() !== "")?.trim() ?? s;

function deriveSpec(session: InferenceSession, hf: HfConfig, onnxPath: string, configPath: string): Omit<ModelSpec, "stepwise"> {
  const inputs = session.inputNames;
  const outputs = session.outputNames;
  const bad = (msg: string, details?: string) => new ModelFileError(onnxPath, msg, details === undefined ? {} : { details });
  if (!inputs.includes("input_ids")) throw bad("Not a decoder export (no input_ids input)");
  if (!outputs.includes("logits")) throw bad("Not a decoder export (no logits output)");
  const unknown = inputs.filter((n) => !KNOWN_INPUTS.has(n) && !PAST_RE.test(n));
  if (unknown.length > 0) throw bad("Unsupported model inputs", unknown.join(", "));

  const layerIdx = new Set<number>();
  for (const n of inputs) {
    const m = PAST_RE.exec(n);
    if (m) layerIdx.add(Number(m[1]));
  }
  const layers = layerIdx.size;
  if (layers === 0) throw bad("Not a decoder-with-past export (no past_key_values.* inputs)");
  for (let i = 0; i < layers; i++)
    for (const k of ["key", "value"]) {
      if (!inputs.includes(`past_key_values.${i}.${k}`)) throw bad(`Missing input past_key_values.${i}.${k}`);
      if (!outputs.includes(`present.${i}.${k}`)) throw bad(`Missing output present.${i}.${k}`);
    }
  if (layers !== hf.num_hidden_layers)
    throw new ModelConfigError(`config.json disagrees with the ONNX graph: ${configPath}`, {
      details: `num_hidden_layers is ${hf.num_hidden_layers}, the graph has ${layers} layers of past_key_values`,
    });

  const meta = session.inputMetadata.find((m) => m.name === "past_key_values.0.key");
  let kvHeads = hf.num_key_value_heads ?? hf.num_attention_heads;
  let headDim = hf.head_dim ?? hf.hidden_size / hf.num_attention_heads;
  let dtype: Dtype | null = null;
  if (meta && meta.isTensor) {
    const [, h, , d] = meta.shape;
    if (typeof h === "number" && h > 0) kvHeads = h;
    if (typeof d === "number" && d > 0) headDim = d;
    if (meta.type === "float16") dtype = "fp16";
    else if (meta.type === "float32") dtype = "fp32";
    else throw bad(`Unsupported KV cache type ${meta.type} (expected float32 or float16)`);
  }
  if (dtype === null) {
    const td = hf.torch_dtype ?? hf.dtype;
    dtype = td === "float16" ? "fp16" : "fp32";
  }
  if (!Number.isInteger(headDim)) throw new ModelConfigError(`Cannot infer head_dim from ${configPath}`, { details: "set head_dim" });
  let vocabSize = hf.vocab_size;
  const lmeta = session.outputMetadata.find((m) => m.name === "logits");
  if (lmeta && lmeta.isTensor) {
    const v = lmeta.shape[2];
    if (typeof v === "number" && v > 0 && v !== vocabSize)
      throw new ModelConfigError(`config.json disagrees with the ONNX graph: ${configPath}`, {
        details: `vocab_size is ${vocabSize}, the logits have ${v} columns`,
      });
  }
  return {
    layers,
    hiddenSize: hf.hidden_size,
    heads: hf.num_attention_heads,
    kvHeads,
    headDim,
    vocabSize,
    maxPositions: hf.max_position_embeddings ?? null,
    dtype,
    bosId: firstId(hf.bos_token_id),
    eosId: firstId(hf.eos_token_id),
    eosIds: allIds(hf.eos_token_id),
    modelType: hf.model_type ?? null,
  };
}

class OrtModel implements LoadedModel {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly onnxFile: string;
  private pruned = new Map<string, { session: Promise<InferenceSession | null>; busy: number }>();
  private released = false;
  private emptyPast: Tensor | null = null;
  private readonly int32Inputs = new Set<string>();

  constructor(
    readonly dir: string,
    readonly modelId: Hex32,
    readonly files: readonly ModelFileEntry[],
    readonly variant: ModelVariant,
    /** [with-past graph, first-pass graph (split layout)]. */
    private readonly graphs: readonly GraphFile[],
    private readonly hasExternalData: boolean,
    readonly config: ModelSpec,
    readonly rawConfig: HfConfig,
    private readonly session: InferenceSession,
    /** Split layout: the session of decoder_model.onnx, run when there is no past. */
    private readonly firstPass: InferenceSession | null,
    private readonly sessionOptions: InferenceSession.SessionOptions,
    readonly provider: ExecutionProvider,
    readonly threads: number | null,
    readonly tokenizer: TextTokenizer,
    readonly graphOptimizationLevel: GraphOptimizationLevel,
    readonly notes: readonly string[],
    /** Same-dtype Casts are removed from every graph opened (also the pruned ones). */
    private readonly stripCasts: boolean,
  ) {
    this.onnxFile = graphs[0]!.file;
    this.inputNames = session.inputNames;
    this.outputNames = session.outputNames;
    for (const s of [session, ...(firstPass ? [firstPass] : [])])
      for (const m of s.inputMetadata) if (m.isTensor && m.type === "int32") this.int32Inputs.add(m.name);
  }

  async forward(input: ForwardInput): Promise<ForwardOutput> {
    return (await this.forwardBatch([input]))[0]!;
  }

  async forwardBatch(inputs: readonly ForwardInput[]): Promise<ForwardOutput[]> {
    if (this.released) throw new ModelInputError("forward() on a released model");
    const { layers, vocabSize, kvHeads, headDim } = this.config;
    if (!Array.isArray(inputs) || inputs.length === 0) throw new ModelInputError("forwardBatch() needs at least one row");
    const B = inputs.length;
    const input = inputs[0]!;
    const fetch = input.fetchLayers;
    if (fetch !== undefined && (!Number.isInteger(fetch) || fetch < 1 || fetch > layers))
      throw new ModelInputError(`fetchLayers must be an integer in [1, ${layers}] (got ${fetch})`);
    const needLayers = fetch ?? layers;
    const P = input.past?.length ?? 0;
    const S = input.tokens?.length ?? 0; // row 0's tokens are checked first in the loop below
    for (const [r, row] of inputs.entries()) {
      if (!Array.isArray(row.tokens) || row.tokens.length === 0) throw new ModelInputError("forward() needs at least one token");
      for (const t of row.tokens)
        if (!Number.isInteger(t) || t < 0 || t >= vocabSize) throw new ModelInputError(`token id ${t} out of range [0, ${vocabSize})`);
      if ((row.past?.length ?? 0) !== P || row.tokens.length !== S || row.fetchLayers !== fetch || (row.past === null) !== (input.past === null))
        throw new ModelInputError(`batch row ${r} has ${row.past?.length ?? 0} past and ${row.tokens.length} new tokens, row 0 ${P} and ${S}: rows of a batch must match (no padding)`);
      const past = row.past;
      if (!past) continue;
      if (past.layers.length < needLayers)
        throw new ModelInputError(`past holds ${past.layers.length} layers, this forward needs ${needLayers}`);
      for (let i = 0; i < needLayers; i++)
        for (const t of [past.layers[i]!.key, past.layers[i]!.value]) {
          const d = t.dims;
          if (d.length !== 4 || d[0] !== 1 || d[1] !== kvHeads || d[2] !== P || d[3] !== headDim)
            throw new ModelInputError(`past layer ${i} has shape [${d.join(",")}], expected [1,${kvHeads},${P},${headDim}]`);
        }
    }
    const max = this.config.maxPositions;
    if (max !== null && P + S > max)
      throw new ModelInputError(`sequence of ${P + S} tokens exceeds the model's context of ${max} (max_position_embeddings)`);

    let entry: { session: Promise<InferenceSession | null>; busy: number } | null = null;
    const first = input.past === null && this.firstPass !== null;
    const full = first ? this.firstPass! : this.session;
    let session = full;
    if (fetch !== undefined) {
      entry = this.prunedSession(fetch, first ? 1 : 0);
      entry.busy++;
    }
    try {
      if (entry) session = (await entry.session) ?? full;
      const names = new Set(session.inputNames);
      const feeds: Record<string, Tensor> = {};
      // integer inputs in the graph's own type (Optimum: int64; some exports use int32)
      const int = (name: string, vals: number[], dims: number[]) =>
        this.int32Inputs.has(name)
          ? new ort.Tensor("int32", Int32Array.from(vals), dims)
          : new ort.Tensor("int64", BigInt64Array.from(vals, (v) => BigInt(v)), dims);
      const rows = <T,>(f: (row: ForwardInput) => T[]) => inputs.flatMap(f);
      feeds.input_ids = int("input_ids", rows((r) => [...r.tokens]), [B, S]);
      if (names.has("attention_mask")) feeds.attention_mask = int("attention_mask", new Array<number>(B * (P + S)).fill(1), [B, P + S]);
      const positions = Array.from({ length: S }, (_, i) => P + i);
      if (names.has("position_ids")) feeds.position_ids = int("position_ids", rows(() => positions), [B, S]);
      if (names.has("cache_position")) feeds.cache_position = int("cache_position", positions, [S]);
      if (names.has("use_cache_branch")) feeds.use_cache_branch = new ort.Tensor("bool", new Uint8Array([P > 0 ? 1 : 0]), [1]);
      for (let i = 0; i < layers; i++)
        for (const k of ["key", "value"] as const) {
          const name = `past_key_values.${i}.${k}`;
          if (!names.has(name)) continue;
          if (B === 1) feeds[name] = input.past ? input.past.layers[i]![k] : this.empty();
          else feeds[name] = input.past ? stackRows(inputs.map((r) => r.past!.layers[i]![k])) : this.emptyRows(B);
        }
      const fetches: string[] = fetch === undefined ? ["logits"] : [];
      for (let i = 0; i < needLayers; i++) fetches.push(`present.${i}.key`, `present.${i}.value`);
      let out: InferenceSession.ReturnType;
      try {
        out = await session.run(feeds, fetches);
      } catch (cause) {
        throw new ModelInputError("onnxruntime failed to run the model", { cause, details: firstLine((cause as Error).message ?? String(cause)) });
      }
      let logits: Float32Array | null = null;
      if (fetch === undefined) {
        const t = out.logits as Tensor;
        const d = t.dims;
        if (d.length !== 3 || d[0] !== B || d[1] !== S || d[2] !== vocabSize) throw new ModelInputError(`unexpected logits shape [${d.join(",")}]`);
        logits = toFloat32(t);
      }
      const results: ForwardOutput[] = [];
      for (let r = 0; r < B; r++) {
        const presentLayers: KvLayer[] = [];
        for (let i = 0; i < needLayers; i++) {
          const key = out[`present.${i}.key`] as Tensor;
          const value = out[`present.${i}.value`] as Tensor;
          presentLayers.push(B === 1 ? { key, value } : { key: rowOf(key, r, B), value: rowOf(value, r, B) });
        }
        const rowLogits = logits === null ? null : B === 1 ? logits : logits.slice(r * S * vocabSize, (r + 1) * S * vocabSize);
        results.push({ logits: rowLogits, present: { length: P + S, layers: presentLayers } });
      }
      return results;
    } finally {
      if (entry) entry.busy--;
    }
  }

  private emptyRows(b: number): Tensor {
    const { kvHeads, headDim, dtype } = this.config;
    return dtype === "fp16" ? new ort.Tensor("float16", new Uint16Array(0), [b, kvHeads, 0, headDim]) : new ort.Tensor("float32", new Float32Array(0), [b, kvHeads, 0, headDim]);
  }

  private empty(): Tensor {
    if (!this.emptyPast) {
      const { kvHeads, headDim, dtype } = this.config;
      this.emptyPast =
        dtype === "fp16"
          ? new ort.Tensor("float16", new Uint16Array(0), [1, kvHeads, 0, headDim])
          : new ort.Tensor("float32", new Float32Array(0), [1, kvHeads, 0, headDim]);
    }
    return this.emptyPast;
  }

  private prunedSession(n: number, graph: 0 | 1): { session: Promise<InferenceSession | null>; busy: number } {
    const key = `${graph}:${n}`;
    const hit = this.pruned.get(key);
    if (hit) {
      this.pruned.delete(key);
      this.pruned.set(key, hit); // most recently used last
      return hit;
    }
    // evict the least recently used idle sessions beyond the limit
    for (const [k, v] of this.pruned) {
      if (this.pruned.size < MAX_PRUNED_SESSIONS) break;
      if (v.busy === 0) {
        this.pruned.delete(k);
        void v.session.then((s) => s?.release()).catch(() => undefined);
      }
    }
    const entry = { session: this.buildPruned(n, this.graphs[graph]!), busy: 0 };
    entry.session.catch(() => this.pruned.delete(key));
    this.pruned.set(key, entry);
    return entry;
  }

  /** The session over the graph pruned to present.0..n-1; null: use the full session (see below). */
  private async buildPruned(n: number, graph: GraphFile): Promise<InferenceSession | null> {
    const path = join(this.dir, graph.file);
    const model = await readChecked(path, graph.sha256);
    if (this.stripCasts) stripSameDtypeCasts(model);
    const outputs: string[] = [];
    for (let i = 0; i < n; i++) outputs.push(`present.${i}.key`, `present.${i}.value`);
    const pruned = pruneToOutputs(model, outputs);
    // external data: inline what the pruned graph needs; past the protobuf limit, fall back to the
    // full graph (correct, only without the saving)
    if (this.hasExternalData && !(await inlineExternalData(pruned, dirname(path)))) return null;
    // A pruned session runs briefly between runs of the main one. onnxruntime's intra-op threads spin
    // after a run by default; on a small CPU the probe's spinning threads then take cores from the
    // full replay that follows (measured on 2 cores: 287-token prefill 120–155 ms after a probe,
    // 88–102 ms with the probe's spinning off). The main session keeps spinning (decode latency).
    const options: InferenceSession.SessionOptions = {
      ...this.sessionOptions,
      extra: { session: { intra_op: { allow_spinning: "0" } } },
    };
    return createSession(encodeModel(pruned), path, options, this.provider);
  }

  /** The options this model was loaded with (for siblings at another graph optimisation level). */
  loadOptions: LoadOptions = {};
  readonly #siblings = new Map<GraphOptimizationLevel, Promise<LoadedModel>>();

  async atGraphLevel(level: GraphOptimizationLevel): Promise<LoadedModel> {
    if (this.released) throw new ModelInputError("atGraphLevel() on a released model");
    if (!GRAPH_OPTIMIZATION_LEVELS.includes(level))
      throw new ModelInputError(`graph optimisation level must be one of ${GRAPH_OPTIMIZATION_LEVELS.join(", ")} (got ${String(level)})`);
    if (level === this.graphOptimizationLevel) return this;
    let p = this.#siblings.get(level);
    if (!p) {
      p = loadModel(this.dir, { ...this.loadOptions, graphOptimizationLevel: level });
      this.#siblings.set(level, p);
      p.catch(() => this.#siblings.delete(level));
    }
    return p;
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    const siblings = [...this.#siblings.values()];
    this.#siblings.clear();
    for (const s of siblings) await s.then((m) => m.release()).catch(() => undefined);
    const pruned = [...this.pruned.values()];
    this.pruned.clear();
    for (const p of pruned) await p.session.then((s) => s?.release()).catch(() => undefined);
    await this.session.release();
    await this.firstPass?.release();
  }
}

/** [1, h, n, d] tensors of one type stacked into [rows, h, n, d]. */
function stackRows(ts: readonly Tensor[]): Tensor {
  const t0 = ts[0]!;
  const n = (t0.data as Float32Array | Uint16Array).length;
  const data = t0.type === "float16" ? new Uint16Array(n * ts.length) : new Float32Array(n * ts.length);
  ts.forEach((t, r) => data.set(t.data as Float32Array & Uint16Array, r * n));
  return new ort.Tensor(t0.type as "float32", data as Float32Array, [ts.length, ...t0.dims.slice(1)]);
}

/** Row r of a [rows, h, n, d] tensor, as a [1, h, n, d] tensor of its own. */
function rowOf(t: Tensor, r: number, rows: number): Tensor {
  const data = t.data as Float32Array | Uint16Array;
  const n = data.length / rows;
  return new ort.Tensor(t.type as "float32", data.slice(r * n, (r + 1) * n) as Float32Array, [1, ...t.dims.slice(1)]);
}

function toFloat32(t: Tensor): Float32Array {
  if (t.type === "float32") return t.data as Float32Array;
  if (t.type === "float16") {
    const d = t.data as unknown;
    if (d instanceof Uint16Array) return halfToFloat32(d);
    return Float32Array.from(d as ArrayLike<number>);
  }
  throw new ModelInputError(`unsupported logits type ${t.type}`);
}

/**
 * Prefill over a long sequence in chunks: forward(chunk k, past = present of chunk k-1). Returns the
 * logits of all positions (concatenated, unless `keepLogits` is false or `fetchLayers` is set) and
 * the final present. Equal to one forward over all tokens up to floating-point noise.
 */
export async function prefillChunked(
  model: LoadedModel,
  tokens: readonly number[],
  options: {
    chunkSize?: number;
    past?: KvCache | null;
    fetchLayers?: number;
    keepLogits?: boolean;
    /**
     * Positions (of past ++ tokens) below this are prompt: a stepwise model (ModelSpec.stepwise)
     * runs them in chunks of STEPWISE_PROMPT_CHUNK and the rest one per pass, ignoring chunkSize
     * (default: all of them prompt).
     */
    promptLength?: number;
    onProgress?: (done: number, total: number) => void;
  } = {},
): Promise<ForwardOutput> {
  const chunk = options.chunkSize ?? 256;
  if (!Number.isInteger(chunk) || chunk < 1) throw new ModelInputError(`chunkSize must be a positive integer (got ${chunk})`);
  if (tokens.length === 0) throw new ModelInputError("prefill needs at least one token");
  const promptLength = options.promptLength ?? tokens.length;
  if (!Number.isInteger(promptLength) || promptLength < 0) throw new ModelInputError(`promptLength must be a non-negative integer (got ${promptLength})`);
  const keep = (options.keepLogits ?? true) && options.fetchLayers === undefined;
  const V = model.config.vocabSize;
  const logits = keep ? new Float32Array(tokens.length * V) : null;
  let past = options.past ?? null;
  let last: ForwardOutput | null = null;
  // a stepwise model's passes are fixed by absolute position (from the start of the sequence)
  const offset = model.config.stepwise && past ? past.length : 0;
  for (const [a, b] of passPlan(model.config.stepwise, offset + tokens.length, offset + promptLength, chunk)) {
    if (b <= offset) continue;
    const start = Math.max(a, offset) - offset;
    const part = tokens.slice(start, b - offset);
    last = await model.forward({ tokens: part, past, ...(options.fetchLayers !== undefined ? { fetchLayers: options.fetchLayers } : {}) });
    if (logits && last.logits) logits.set(last.logits, start * V);
    past = last.present;
    options.onProgress?.(b - offset, tokens.length);
  }
  return { logits, present: last!.present };
}
