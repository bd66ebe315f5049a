/**
 * Model builder: writes a Llama-style decoder with seeded weights as an Optimum-layout directory:
 *   model.onnx (+ model.onnx_data with `externalData`), config.json (HF LlamaConfig keys),
 *   tokenizer.json + tokenizer_config.json (byte-level, see tokenizer.ts; or a real tokenizer copied
 *   from `tokenizerFrom`, with the vocabulary sized to it).
 * Files are written into a temporary sibling directory which is renamed into place only when
 * complete, so an error never leaves a half-written model behind.
 */
import { mkdir, readFile, rename, rm, stat, readdir, writeFile } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { randomBytes } from "node:crypto";
import { ModelInputError, ModelFileError } from "./errors.js";
import { encodeModel, type Dtype } from "./graph.js";
import {
  PRESETS,
  buildLlamaGraph,
  countParams,
  validateSpec,
  type LlamaBuildSpec,
  type PresetName,
  type VariantScope,
  type WeightQuantization,
} from "./llama.js";
import { onnx, type OnnxTypes } from "./onnx-proto.js";
import { canonicalJson, computeModelId, isFile, resolveModelFiles, type Hex32, type ModelFileEntry } from "./files.js";
import {
  BYTE_BOS_ID,
  BYTE_EOS_ID,
  BYTE_PAD_ID,
  BYTE_VOCAB_SIZE,
  byteLevelTokenizerConfig,
  byteLevelTokenizerJson,
} from "./tokenizer.js";
import { chatModelOf, type ChatModel } from "./chat.js";
import type { QuantizedFormat } from "./quantized.js";

/**
 * Architecture of the config.json and of the graph's blocks (defaults that options may override):
 *   - llama:  Llama 2 style (default);
 *   - llama3: + rope_scaling {rope_type "llama3", factor 8, low 1, high 4, original = context / 4}, rope_theta 500000;
 *   - qwen2:  q/k/v biases, tied embeddings, rope_theta 1e6, model_type "qwen2";
 *   - qwen3:  q/k RMSNorm per head before RoPE, tied embeddings, rope_theta 1e6, model_type "qwen3";
 *   - gemma2: attention (50) and final-logit (30) soft-capping, embedding × √hidden, tied embeddings,
 *     sliding window (default half the context, as Gemma 2's 4096 of 8192) on even layers (HF
 *     Gemma2Attention: `sliding_window if not layer_idx % 2`), model_type "gemma2" — only these
 *     Gemma 2 traits: the MLP stays SwiGLU, norms stay plain RMSNorm, no sandwich norms (recorded in
 *     poc_builder.gemma2_traits);
 *   - mistral: sliding-window attention (`sliding_window`, default a quarter of the context, at least
 *     1), model_type "mistral"; otherwise Llama's shape;
 *   - phi3: fused `qkv_proj` and `gate_up_proj` weights, sliding window (default half the context
 *     less one, as Phi-3-mini-4k's 2047 of 4096), model_type "phi3"; no LongRoPE scaling, full rotary.
 */
export type Architecture = "llama" | "llama3" | "qwen2" | "qwen3" | "gemma2" | "mistral" | "phi3";
export const ARCHITECTURES: readonly Architecture[] = ["llama", "llama3", "qwen2", "qwen3", "gemma2", "mistral", "phi3"];

export interface BuildOptions {
  preset?: PresetName;
  /** Architecture (default "llama"); see Architecture. */
  architecture?: Architecture;
  layers?: number;
  hiddenSize?: number;
  heads?: number;
  kvHeads?: number;
  /** Default hiddenSize / heads. */
  headDim?: number;
  intermediateSize?: number;
  maxPositions?: number;
  ropeTheta?: number;
  /** Mistral: the attention window in tokens (default for "mistral": a quarter of the context). */
  slidingWindow?: number;
  rmsNormEps?: number;
  dtype?: Dtype;
  /** Tie the lm head to the embedding (default false). */
  tied?: boolean;
  /** Unsigned 64-bit weight seed (default 0). */
  weightSeed?: bigint | number | string;
  /** Include the position_ids input (default true). */
  positionIds?: boolean;
  /** Include the legacy use_cache_branch input (default false). */
  useCacheBranch?: boolean;
  /** Store weights in `<graph file>_data` (model.onnx_data) instead of inside the graph (default false). */
  externalData?: boolean;
  /**
   * Directory layout (variants.ts): "model" (model.onnx, default), "onnx" (onnx/model.onnx, as
   * transformers.js repositories), "merged" (decoder_model_merged.onnx, with use_cache_branch unless
   * useCacheBranch is false), "split" (decoder_model.onnx without past inputs + decoder_with_past_model.onnx).
   */
  layout?: BuildLayout;
  /** File-name suffix of the variant: "fp16" writes model_fp16.onnx (default: none, i.e. fp32 naming). */
  variantName?: string;
  /**
   * Quantised linear layers as onnxruntime's tools write them (quantized.ts): "q4" (MatMulNBits;
   * with dtype fp16 the q4f16 kind), "int8" (DynamicQuantizeLinear + MatMulInteger, fp32), "qdq"
   * (static QuantizeLinear/DequantizeLinear). The variant name defaults to q4, q4f16, int8 or qdq.
   */
  quantized?: QuantizedFormat;
  /** Same-dtype Casts as HF `.float()` exports write them (they trip onnxruntime #32416); see LlamaBuildSpec. */
  hfUpcast?: boolean;
  initScale?: number;
  lmScale?: number;
  /** Attack-suite variant: multiplicative weight noise of this relative std (e.g. 0.01); see LlamaBuildSpec. */
  weightPerturbation?: number;
  /** Attack-suite variant: int8 per-channel quantised weights, stored dequantised; see LlamaBuildSpec. */
  weightQuantization?: WeightQuantization;
  /** Attack-suite variant: apply the two above only to the LM head or the last layer's MLP; see LlamaBuildSpec. */
  variantScope?: VariantScope;
  /** Attack-suite variant: the last layer's o_proj and down_proj zeroed; see LlamaBuildSpec. */
  skipLastLayerOutput?: boolean;
  /**
   * A directory holding a real tokenizer.json (+ tokenizer_config.json) to ship instead of the byte
   * tokenizer: both files are copied, config.json's bos/eos/pad ids are those of its special tokens
   * (chat.ts tokenizerSetupOf), and the vocabulary defaults to the tokenizer's size.
   */
  tokenizerFrom?: string;
  /** Rows of the embedding and the LM head (default: the tokenizer's size); at least the tokenizer's size, as real models pad it (Qwen: 151,936). */
  vocabSize?: number;
}

export type BuildLayout = "model" | "onnx" | "merged" | "split";
export const BUILD_LAYOUTS: readonly BuildLayout[] = ["model", "onnx", "merged", "split"];

export interface BuildResult {
  dir: string;
  modelId: Hex32;
  params: number;
  /** Total bytes of the model files. */
  bytes: number;
  files: ModelFileEntry[];
  spec: LlamaBuildSpec;
  seconds: number;
}

/** Largest ONNX protobuf we write inline (protobuf messages are limited to 2 GiB). */
const MAX_INLINE_BYTES = 2_000_000_000;

export function resolveBuildSpec(o: BuildOptions): LlamaBuildSpec {
  const preset = PRESETS[o.preset ?? "tiny"];
  if (!preset) throw new ModelInputError(`Unknown preset "${o.preset}" (expected ${Object.keys(PRESETS).join(" or ")})`);
  const hiddenSize = o.hiddenSize ?? preset.hiddenSize;
  const heads = o.heads ?? preset.heads;
  if (o.headDim === undefined && hiddenSize % heads !== 0)
    throw new ModelInputError(`hidden size ${hiddenSize} is not a multiple of heads ${heads}; pass headDim`);
  let seed: bigint;
  try {
    seed = BigInt(o.weightSeed ?? 0);
  } catch {
    throw new ModelInputError(`weight seed must be an integer (got ${String(o.weightSeed)})`);
  }
  const arch = o.architecture ?? "llama";
  if (!ARCHITECTURES.includes(arch)) throw new ModelInputError(`architecture must be one of ${ARCHITECTURES.join(", ")} (got ${String(arch)})`);
  const maxPositions = o.maxPositions ?? preset.maxPositions;
  if (o.slidingWindow !== undefined && arch !== "mistral" && arch !== "phi3" && arch !== "gemma2")
    throw new ModelInputError(`a sliding window is a trait of --arch mistral, phi3 or gemma2 (got --arch ${arch})`);
  const archDefaults: Partial<LlamaBuildSpec> =
    arch === "llama3"
      ? { ropeTheta: 500000, ropeScaling: { factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: Math.max(1, Math.floor(maxPositions / 4)) } }
      : arch === "qwen2"
        ? { qkvBias: true, tied: true, ropeTheta: 1e6 }
        : arch === "qwen3"
          ? { qkNorm: true, tied: true, ropeTheta: 1e6 }
          : arch === "gemma2"
            ? { attnSoftcap: 50, finalSoftcap: 30, embedScale: true, tied: true, slidingWindow: o.slidingWindow ?? Math.max(1, Math.floor(maxPositions / 2)), slidingWindowLayers: "even" as const }
            : arch === "mistral"
              ? { slidingWindow: o.slidingWindow ?? Math.max(1, Math.floor(maxPositions / 4)) }
              : arch === "phi3"
                ? { fusedProjections: true, slidingWindow: o.slidingWindow ?? Math.max(1, Math.floor(maxPositions / 2) - 1) }
                : {};
  const spec: LlamaBuildSpec = {
    ...archDefaults,
    layers: o.layers ?? preset.layers,
    hiddenSize,
    heads,
    kvHeads: o.kvHeads ?? Math.min(preset.kvHeads, heads),
    headDim: o.headDim ?? hiddenSize / heads,
    intermediateSize: o.intermediateSize ?? (o.hiddenSize === undefined ? preset.intermediateSize : defaultIntermediate(hiddenSize)),
    vocabSize: o.vocabSize ?? BYTE_VOCAB_SIZE,
    maxPositions,
    ropeTheta: o.ropeTheta ?? archDefaults.ropeTheta ?? 10000,
    rmsNormEps: o.rmsNormEps ?? 1e-5,
    dtype: o.dtype ?? "fp32",
    tied: o.tied ?? archDefaults.tied ?? false,
    weightSeed: seed,
    positionIds: o.positionIds ?? true,
    useCacheBranch: o.useCacheBranch ?? o.layout === "merged",
    ...(o.hfUpcast ? { hfUpcast: true } : {}),
    // the byte tokenizer's specials get damped rows; a real tokenizer's ids are not laid out that way
    specialFrom: o.tokenizerFrom === undefined ? 256 : null,
    initScale: o.initScale ?? 2,
    lmScale: o.lmScale ?? 4,
    ...(o.weightPerturbation ? { weightPerturbation: o.weightPerturbation } : {}),
    ...(o.weightQuantization ? { weightQuantization: o.weightQuantization } : {}),
    ...(o.variantScope ? { variantScope: o.variantScope } : {}),
    ...(o.skipLastLayerOutput ? { skipLastLayerOutput: true } : {}),
    ...(o.slidingWindow !== undefined ? { slidingWindow: o.slidingWindow } : {}),
    ...(archDefaults.slidingWindowLayers ? { slidingWindowLayers: archDefaults.slidingWindowLayers } : {}),
    ...(o.quantized ? { quantized: o.quantized } : {}),
  };
  if (spec.dtype !== "fp32" && spec.dtype !== "fp16") throw new ModelInputError(`dtype must be fp32 or fp16 (got ${String(spec.dtype)})`);
  validateSpec(spec);
  return spec;
}

/** Llama's rule: 8/3 · hidden rounded up to a multiple of 32. */
function defaultIntermediate(h: number): number {
  return Math.ceil((8 * h) / 3 / 32) * 32;
}

/** The architecture a spec's traits make (config.json's model_type). */
export function architectureOf(spec: LlamaBuildSpec): Architecture {
  if (spec.attnSoftcap !== undefined || spec.finalSoftcap !== undefined || spec.embedScale) return "gemma2";
  if (spec.qkNorm) return "qwen3";
  if (spec.fusedProjections) return "phi3";
  if (spec.slidingWindow !== undefined) return "mistral";
  if (spec.qkvBias) return "qwen2";
  return spec.ropeScaling ? "llama3" : "llama";
}

const ARCH_NAMES: Record<Architecture, { architectures: string[]; modelType: string }> = {
  llama: { architectures: ["LlamaForCausalLM"], modelType: "llama" },
  llama3: { architectures: ["LlamaForCausalLM"], modelType: "llama" },
  qwen2: { architectures: ["Qwen2ForCausalLM"], modelType: "qwen2" },
  qwen3: { architectures: ["Qwen3ForCausalLM"], modelType: "qwen3" },
  gemma2: { architectures: ["Gemma2ForCausalLM"], modelType: "gemma2" },
  mistral: { architectures: ["MistralForCausalLM"], modelType: "mistral" },
  phi3: { architectures: ["Phi3ForCausalLM"], modelType: "phi3" },
};

/** The token ids config.json names (the byte tokenizer's unless a real tokenizer is shipped). */
export interface ConfigTokenIds {
  bos: number | null;
  eos: number | null;
  pad: number | null;
}
const BYTE_TOKEN_IDS: ConfigTokenIds = { bos: BYTE_BOS_ID, eos: BYTE_EOS_ID, pad: BYTE_PAD_ID };

export function llamaConfigJson(spec: LlamaBuildSpec, preset: string | undefined, ids: ConfigTokenIds = BYTE_TOKEN_IDS): object {
  const arch = architectureOf(spec);
  const base = llamaStyleConfig(spec, preset, ids);
  if (arch === "llama") return base;
  const r = spec.ropeScaling;
  return {
    ...base,
    architectures: ARCH_NAMES[arch].architectures,
    model_type: ARCH_NAMES[arch].modelType,
    ...(r
      ? {
          rope_scaling: {
            rope_type: "llama3",
            factor: r.factor,
            low_freq_factor: r.lowFreqFactor,
            high_freq_factor: r.highFreqFactor,
            original_max_position_embeddings: r.originalMaxPositions,
          },
        }
      : {}),
    ...(arch === "qwen2" ? { attention_bias: undefined, use_sliding_window: false, sliding_window: spec.maxPositions, max_window_layers: spec.layers } : {}),
    ...(arch === "mistral" || arch === "phi3" || arch === "gemma2" ? { sliding_window: spec.slidingWindow ?? null } : {}),
    ...(arch === "phi3" ? { original_max_position_embeddings: spec.maxPositions, partial_rotary_factor: 1 } : {}),
    ...(arch === "gemma2"
      ? {
          attn_logit_softcapping: spec.attnSoftcap ?? null,
          final_logit_softcapping: spec.finalSoftcap ?? null,
          query_pre_attn_scalar: spec.headDim,
        }
      : {}),
    poc_builder: {
      ...(base as { poc_builder: object }).poc_builder,
      architecture: arch,
      ...(arch === "gemma2" ? { gemma2_traits: "soft-capping, embedding scaling and the sliding window on even layers only: SwiGLU MLP, plain RMSNorm, no sandwich norms" } : {}),
    },
  };
}

function llamaStyleConfig(spec: LlamaBuildSpec, preset: string | undefined, ids: ConfigTokenIds): object {
  return {
    architectures: ["LlamaForCausalLM"],
    model_type: "llama",
    num_hidden_layers: spec.layers,
    hidden_size: spec.hiddenSize,
    num_attention_heads: spec.heads,
    num_key_value_heads: spec.kvHeads,
    head_dim: spec.headDim,
    intermediate_size: spec.intermediateSize,
    hidden_act: "silu",
    vocab_size: spec.vocabSize,
    max_position_embeddings: spec.maxPositions,
    rms_norm_eps: spec.rmsNormEps,
    rope_theta: spec.ropeTheta,
    rope_scaling: null,
    attention_bias: false,
    mlp_bias: false,
    tie_word_embeddings: spec.tied,
    torch_dtype: spec.dtype === "fp16" ? "float16" : "float32",
    use_cache: true,
    bos_token_id: ids.bos,
    eos_token_id: ids.eos,
    pad_token_id: ids.pad,
    poc_builder: {
      generator: "proof-of-cache offchain/model/build.ts",
      preset: preset ?? null,
      weight_seed: spec.weightSeed.toString(),
      init_scale: spec.initScale,
      lm_scale: spec.lmScale,
      position_ids_input: spec.positionIds,
      use_cache_branch_input: spec.useCacheBranch,
      ...(spec.hfUpcast ? { hf_upcast: true } : {}),
      // recorded only when set, so the files (and model ids) of plain builds are unchanged
      ...(spec.weightPerturbation ? { weight_perturbation: spec.weightPerturbation } : {}),
      ...(spec.weightQuantization ? { weight_quantization: spec.weightQuantization } : {}),
      ...(spec.variantScope ? { variant_scope: spec.variantScope } : {}),
      ...(spec.skipLastLayerOutput ? { skip_last_layer_output: true } : {}),
      ...(spec.quantized ? { quantized_graph: spec.quantized } : {}),
    },
  };
}

const json = (o: object) => `${JSON.stringify(o, null, 2)}\n`;

/**
 * Builds the model into `outDir`. Fails if `outDir` exists and is not empty, unless `force`
 * (then the old directory is replaced only once the new one is complete).
 */
export async function buildModel(outDir: string, options: BuildOptions = {}, control: { force?: boolean } = {}): Promise<BuildResult> {
  const t0 = performance.now();
  const tokenizer = await tokenizerFiles(options.tokenizerFrom);
  if (tokenizer && options.vocabSize !== undefined && options.vocabSize < tokenizer.size)
    throw new ModelInputError(`vocabSize ${options.vocabSize} is below the tokenizer's ${tokenizer.size} tokens (${options.tokenizerFrom})`);
  if (!tokenizer && options.vocabSize !== undefined && options.vocabSize < BYTE_VOCAB_SIZE)
    throw new ModelInputError(`vocabSize ${options.vocabSize} is below the byte tokenizer's ${BYTE_VOCAB_SIZE} tokens`);
  const spec = resolveBuildSpec(tokenizer && options.vocabSize === undefined ? { ...options, vocabSize: tokenizer.size } : options);
  const dir = resolve(outDir);
  const existing = await dirState(dir);
  if (existing === "file") throw new ModelFileError(dir, "Output path exists and is not a directory");
  if (existing === "nonempty" && !control.force)
    throw new ModelFileError(dir, "Output directory exists and is not empty", { details: "pass force (--force) to replace it" });

  await mkdir(dirname(dir), { recursive: true });
  const tmp = join(dirname(dir), `.${basename(dir)}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`);
  let old: string | null = null;
  try {
    await mkdir(tmp);
    const layout = options.layout ?? "model";
    if (!BUILD_LAYOUTS.includes(layout)) throw new ModelInputError(`layout must be one of ${BUILD_LAYOUTS.join(", ")} (got ${String(layout)})`);
    if (options.variantName !== undefined && !/^[A-Za-z0-9]+$/.test(options.variantName))
      throw new ModelInputError(`variant name must be letters and digits (got ${options.variantName})`);
    const variantName = options.variantName ?? (spec.quantized === "q4" && spec.dtype === "fp16" ? "q4f16" : spec.quantized);
    const suffix = variantName && variantName !== "fp32" ? `_${variantName}` : "";
    const graphs: { file: string; pastInputs: boolean }[] =
      layout === "split"
        ? [
            { file: `decoder_model${suffix}.onnx`, pastInputs: false },
            { file: `decoder_with_past_model${suffix}.onnx`, pastInputs: true },
          ]
        : [{ file: `${layout === "onnx" ? "onnx/" : ""}${layout === "merged" ? "decoder_model_merged" : "model"}${suffix}.onnx`, pastInputs: true }];
    let main: OnnxTypes.IModelProto | undefined;
    for (const { file, pastInputs } of graphs) {
      const { model, weightBytes } = buildLlamaGraph({ ...spec, pastInputs });
      await mkdir(dirname(join(tmp, file)), { recursive: true });
      if (options.externalData) await moveToExternal(model, join(tmp, `${file}_data`), `${basename(file)}_data`);
      else if (weightBytes > MAX_INLINE_BYTES)
        throw new ModelInputError(`weights are ${weightBytes} bytes, beyond the 2 GiB protobuf limit: use externalData`);
      await writeFile(join(tmp, file), encodeModel(model));
      if (pastInputs) main = model;
    }
    await writeFile(join(tmp, "config.json"), json(llamaConfigJson(spec, options.preset ?? "tiny", tokenizer?.ids)));
    if (tokenizer) {
      await writeFile(join(tmp, "tokenizer.json"), tokenizer.json);
      if (tokenizer.config !== undefined) await writeFile(join(tmp, "tokenizer_config.json"), tokenizer.config);
    } else {
      await writeFile(join(tmp, "tokenizer.json"), json(byteLevelTokenizerJson()));
      await writeFile(join(tmp, "tokenizer_config.json"), json(byteLevelTokenizerConfig(spec.maxPositions)));
    }
    const files = await resolveModelFiles(tmp, { ...(variantName ? { variant: variantName } : {}), graph: main });
    const { modelId, entries } = await computeModelId(tmp, files, { cache: false });

    if (existing === "empty") await rm(dir, { recursive: true });
    else if (existing === "nonempty") {
      old = join(dirname(dir), `.${basename(dir)}.old-${process.pid}-${randomBytes(4).toString("hex")}`);
      await rename(dir, old);
    }
    await rename(tmp, dir);
    if (old) await rm(old, { recursive: true, force: true });
    return {
      dir,
      modelId,
      params: countParams(spec),
      bytes: entries.reduce((a, e) => a + e.bytes, 0),
      files: entries,
      spec,
      seconds: (performance.now() - t0) / 1000,
    };
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    if (old) await rename(old, dir).catch(() => undefined);
    throw e;
  }
}

/** A real tokenizer to ship (BuildOptions.tokenizerFrom): its files as read, its size and special-token ids. */
async function tokenizerFiles(dir: string | undefined): Promise<{ json: string; config: string | undefined; size: number; ids: ConfigTokenIds } | undefined> {
  if (dir === undefined) return undefined;
  const abs = resolve(dir);
  const read = async (f: string, optional: boolean) => {
    try {
      return await readFile(join(abs, f), "utf8");
    } catch (e) {
      if (optional && (e as { code?: string }).code === "ENOENT") return undefined;
      throw new ModelFileError(join(abs, f), "Cannot read the tokenizer to ship", { cause: e, details: (e as Error).message });
    }
  };
  const text = (await read("tokenizer.json", false))!;
  const config = await read("tokenizer_config.json", true);
  let chat: ChatModel;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
    chat = chatModelOf(parsed as object, config === undefined ? undefined : (JSON.parse(config) as object));
  } catch (cause) {
    throw new ModelFileError(join(abs, "tokenizer.json"), "Unsupported or corrupt tokenizer", { cause, details: (cause as Error).message });
  }
  return { json: text, config, size: tokenizerSize(parsed), ids: { bos: chat.setup.bosId, eos: chat.setup.eosId, pad: chat.setup.padId } };
}

/** 1 + the largest id of a tokenizer.json's vocabulary (an id map, or Unigram's list) and added tokens. */
function tokenizerSize(tok: unknown): number {
  const t = tok as { model?: { vocab?: unknown }; added_tokens?: { id?: unknown }[] };
  let max = -1;
  const vocab = t.model?.vocab;
  if (Array.isArray(vocab)) max = vocab.length - 1;
  else if (vocab && typeof vocab === "object") for (const v of Object.values(vocab)) if (typeof v === "number" && v > max) max = v;
  for (const a of t.added_tokens ?? []) if (typeof a.id === "number" && a.id > max) max = a.id;
  return max + 1;
}

async function dirState(dir: string): Promise<"missing" | "file" | "empty" | "nonempty"> {
  try {
    const st = await stat(dir);
    if (!st.isDirectory()) return "file";
    return (await readdir(dir)).length === 0 ? "empty" : "nonempty";
  } catch {
    return "missing";
  }
}

/** Moves every weight initializer's raw_data into one external-data file (64-byte aligned). */
async function moveToExternal(model: OnnxTypes.IModelProto, path: string, location: string): Promise<void> {
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const t of model.graph?.initializer ?? []) {
    const raw = t.rawData;
    if (!raw || raw.byteLength < 1024) continue;
    const pad = (64 - (offset % 64)) % 64;
    if (pad) chunks.push(new Uint8Array(pad));
    offset += pad;
    chunks.push(raw);
    t.rawData = null;
    t.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
    t.externalData = [
      { key: "location", value: location },
      { key: "offset", value: String(offset) },
      { key: "length", value: String(raw.byteLength) },
    ];
    offset += raw.byteLength;
  }
  await writeFile(path, chunks);
}

/** config.json fields a variant of one model may differ in (the precision and the quantised format). */
const VARIANT_CONFIG_KEYS = ["torch_dtype"] as const;
const VARIANT_BUILDER_KEYS = ["quantized_graph", "weight_quantization"] as const;

/** config.json without the fields a variant may differ in. */
function withoutVariantFields(raw: unknown): Record<string, unknown> {
  const c = { ...(raw as Record<string, unknown>) };
  for (const k of VARIANT_CONFIG_KEYS) delete c[k];
  if (c.poc_builder && typeof c.poc_builder === "object") {
    const b = { ...(c.poc_builder as Record<string, unknown>) };
    for (const k of VARIANT_BUILDER_KEYS) delete b[k];
    c.poc_builder = b;
  }
  return c;
}

async function readIfExists(p: string): Promise<string | undefined> {
  try {
    return await readFile(p, "utf8");
  } catch (e) {
    if ((e as { code?: string }).code === "ENOENT") return undefined;
    throw new ModelFileError(p, "Cannot read it", { cause: e, details: (e as Error).message });
  }
}

/**
 * Adds a variant to an existing model directory of the `onnx/` layout (transformers.js: one
 * config.json and tokenizer, `onnx/model.onnx`, `onnx/model_fp16.onnx`, `onnx/model_q4.onnx`, …): builds
 * the model with `options` and copies its graph (and external data) in, after checking that it is the
 * directory's model — the same config.json but for the precision fields, the same tokenizer files. The
 * config.json and tokenizer of the directory are kept; the result's model id is the variant's id in
 * that directory. Refuses a variant file that exists unless `force`.
 */
export async function addModelVariant(modelDir: string, options: BuildOptions = {}, control: { force?: boolean } = {}): Promise<BuildResult> {
  const t0 = performance.now();
  const dir = resolve(modelDir);
  if ((options.layout ?? "onnx") !== "onnx") throw new ModelInputError(`variants are added to the onnx/ layout only (got layout ${options.layout})`);
  const cfgText = await readIfExists(join(dir, "config.json"));
  if (cfgText === undefined) throw new ModelFileError(dir, "No config.json: not a model directory to add a variant to", { details: "build the first variant with --layout onnx --out DIR" });
  if (!(await stat(join(dir, "onnx")).then((s) => s.isDirectory(), () => false)))
    throw new ModelFileError(dir, "No onnx/ folder: variants are added to the onnx/ layout", { details: "build the first variant with --layout onnx" });
  const tmp = join(dirname(dir), `.${basename(dir)}.variant-${process.pid}-${randomBytes(4).toString("hex")}`);
  const copied: string[] = [];
  try {
    // an fp16 build is the fp16 variant (model_fp16.onnx), as transformers.js names it
    const variantName = options.variantName ?? (options.quantized === undefined && options.dtype === "fp16" ? "fp16" : undefined);
    const built = await buildModel(tmp, { ...options, layout: "onnx", ...(variantName ? { variantName } : {}) });
    const ours = withoutVariantFields(JSON.parse(cfgText));
    const theirs = withoutVariantFields(JSON.parse(await readFile(join(tmp, "config.json"), "utf8")));
    const diff = [...new Set([...Object.keys(ours), ...Object.keys(theirs)])].filter((k) => canonicalJson(ours[k]) !== canonicalJson(theirs[k]));
    if (diff.length > 0)
      throw new ModelInputError(
        `this build is not ${dir}'s model: config.json differs in ${diff.join(", ")} — build the variant with the same --preset, --arch, shape options and --weight-seed`,
      );
    for (const f of ["tokenizer.json", "tokenizer_config.json"])
      if ((await readIfExists(join(dir, f))) !== (await readIfExists(join(tmp, f))))
        throw new ModelInputError(`this build's ${f} differs from ${dir}'s: build the variant with the same tokenizer (--tokenizer-from)`);
    const graphFiles = built.files.filter((f) => f.role === "graph" || f.role.startsWith("graph.data.")).map((f) => f.path);
    for (const f of graphFiles)
      if (!control.force && (await isFile(join(dir, f))))
        throw new ModelFileError(join(dir, f), "This variant exists already", { details: "pass force (--force) to replace it, or --variant-name NAME for another file name" });
    for (const f of graphFiles) {
      await writeFile(join(dir, `${f}.tmp-${process.pid}`), await readFile(join(tmp, f)));
      copied.push(f);
    }
    for (const f of copied) await rename(join(dir, `${f}.tmp-${process.pid}`), join(dir, f));
    copied.length = 0;
    const graph = built.files.find((f) => f.role === "graph")!.path;
    const files = await resolveModelFiles(dir, { modelFile: graph });
    const { modelId, entries } = await computeModelId(dir, files);
    return { ...built, dir, modelId, files: entries, bytes: entries.reduce((a, e) => a + e.bytes, 0), seconds: (performance.now() - t0) / 1000 };
  } finally {
    for (const f of copied) await rm(join(dir, `${f}.tmp-${process.pid}`), { force: true });
    await rm(tmp, { recursive: true, force: true });
  }
}
