/**
 * A Llama-style decoder written as ONNX in the Hugging Face Optimum "decoder with past" layout.
 *
 * Inputs:  input_ids [batch, seq] int64, attention_mask [batch, past+seq] int64,
 *          position_ids [batch, seq] int64 (optional: without it positions are cumsum(mask)-1),
 *          use_cache_branch [1] bool (optional, legacy merged exports: false = ignore the past),
 *          past_key_values.{i}.key|value [batch, kv_heads, past, head_dim]
 * Outputs: logits [batch, seq, vocab], present.{i}.key|value [batch, kv_heads, past+seq, head_dim]
 *
 * Per layer: RMSNorm → q/k/v → RoPE on q and k (cos/sin from position_ids, rotate-half as in HF)
 * → grouped-query attention (query head h reads kv head floor(h / (heads / kvHeads))) with a causal
 * mask over cache indices that also honours attention_mask → o_proj → residual → RMSNorm → SwiGLU
 * → residual. Final RMSNorm and an lm head (tied to the embedding or not). `present.{i}.key` is the
 * post-RoPE key, as in HF. RMSNorm and softmax run in fp32 also in fp16 models (as HF does).
 *
 * Weights are drawn by `WeightRng` (seeded per tensor). Init: embedding and projections
 * normal(0, initScale/√fan_in), o_proj and down_proj additionally scaled by 1/√(2·layers)
 * (GPT-2 style residual scaling), lm head normal(0, lmScale/√hidden), norms 1; the special tokens'
 * lm-head columns are damped by 1/8. Defaults initScale 2, lmScale 4 (build.ts): with the usual
 * std 0.02 a random model's residual stream is dominated by the current token's embedding, so
 * greedy decoding falls into a short cycle at once and the logits are nearly flat; at these scales
 * attention makes the next token depend on the context (greedy runs of 48 tokens hold ~40
 * distinct tokens) and the next-token entropy is ~1.8 nats (sampling is varied, not uniform).
 */
import { GraphWriter, elemType, type Dtype } from "./graph.js";
import { DT, type OnnxTypes } from "./onnx-proto.js";
import { WeightRng } from "./prng.js";
import { ModelInputError } from "./errors.js";
import { roundToF16 } from "../receipt/float16.js";
import { QUANTIZED_FORMATS, quantizedLinear, type QuantizedFormat } from "./quantized.js";

export interface LlamaBuildSpec {
  layers: number;
  hiddenSize: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  intermediateSize: number;
  vocabSize: number;
  maxPositions: number;
  ropeTheta: number;
  rmsNormEps: number;
  dtype: Dtype;
  tied: boolean;
  weightSeed: bigint;
  /** Include the position_ids input (Optimum layout); without it positions come from attention_mask. */
  positionIds: boolean;
  /** Include the legacy `use_cache_branch` input of merged Optimum exports. */
  useCacheBranch: boolean;
  /**
   * Include the past_key_values.* inputs (default true). False: the `decoder_model.onnx` of the split
   * Optimum pair (no past; present = this call's K/V only).
   */
  pastInputs?: boolean;
  /**
   * Upcast with a Cast to float before RMSNorm and softmax also when the tensor is already float32,
   * as the Hugging Face modeling code's `.float()` exports (same-dtype Casts; onnxruntime #32416).
   */
  hfUpcast?: boolean;
  /** Token ids from here on are specials (damped in the output head); null: none. */
  specialFrom: number | null;
  /** Std of projections is initScale/√fan_in. */
  initScale: number;
  /** Std of the lm head is lmScale/√hidden (ignored when tied). */
  lmScale: number;
  /**
   * Weight variants for the verifier's attack suite (a model that is "almost" another one); both
   * apply to every weight matrix (embedding, projections, lm head), not to the norms. Unset: none.
   * - weightPerturbation: multiply each weight by (1 + ε), ε ~ normal(0, weightPerturbation) drawn
   *   from its own stream per tensor ("perturb:<tensor name>"), e.g. 0.01 for 1 %.
   * - weightQuantization "int8": symmetric int8 per output channel (scale = max|w| / 127 over the
   *   channel, w ← round(w / scale) · scale), stored dequantised in the model's dtype — what an
   *   int8-quantised deployment computes, up to activation rounding.
   */
  weightPerturbation?: number;
  /**
   * "int8" as above; "bf16" / "fp16": every weight rounded to bfloat16 / binary16 (nearest even) and
   * stored back in the model's dtype — a deployment that keeps its weights in a narrower type.
   */
  weightQuantization?: WeightQuantization;
  /** Apply the perturbation/quantisation only to the LM head, or only to the last layer's MLP (default: every matrix). */
  variantScope?: VariantScope;
  /** Zero the last layer's o_proj and down_proj: its attention and MLP add nothing (its K/V stay exact). */
  skipLastLayerOutput?: boolean;
  /** Qwen2: biases on the q, k and v projections (`…q_proj.bias`, seeded, std biasStd). */
  qkvBias?: boolean;
  /** Qwen3: RMSNorm over head_dim of each query and key head before RoPE (`…q_norm.weight`, `…k_norm.weight`). */
  qkNorm?: boolean;
  /** Llama 3 rope scaling ("rope_type": "llama3"): inverse frequencies rescaled as HF `_compute_llama3_parameters`. */
  ropeScaling?: Llama3RopeScaling;
  /** Gemma 2: attention scores soft-capped as cap·tanh(scores/cap) before the mask (attn_logit_softcapping). */
  attnSoftcap?: number;
  /** Gemma 2: logits soft-capped as cap·tanh(logits/cap) (final_logit_softcapping). */
  finalSoftcap?: number;
  /** Gemma: the token embedding is multiplied by √hidden before the first layer. */
  embedScale?: boolean;
  /**
   * Mistral: sliding-window attention over cache indices — query q reads key k only when
   * q − W < k ≤ q (HF `sliding_window`: masked where k ≤ q − W), in prefill and in decode alike.
   */
  slidingWindow?: number;
  /** Which layers the window applies to: every layer (default), or Gemma 2's even layers (0, 2, …; odd ones attend globally). */
  slidingWindowLayers?: "all" | "even";
  /**
   * Phi-3: q, k and v come from one fused `self_attn.qkv_proj.weight` [hidden, (heads + 2·kvHeads)·headDim]
   * split in that order, and gate and up from one `mlp.gate_up_proj.weight` [hidden, 2·intermediate],
   * gate first (HF `Phi3MLP`: `gate, up = gate_up_proj(x).chunk(2, -1)`).
   */
  fusedProjections?: boolean;
  /**
   * Quantised linear layers (quantized.ts): every projection and an untied LM head written as
   * MatMulNBits ("q4"), DynamicQuantizeLinear + MatMulInteger ("int8", fp32 only) or static QDQ
   * ("qdq"); the embedding, norms and a tied head stay in the model's dtype. Unset: float MatMul.
   */
  quantized?: QuantizedFormat;
}

export interface Llama3RopeScaling {
  factor: number;
  lowFreqFactor: number;
  highFreqFactor: number;
  originalMaxPositions: number;
}

/**
 * RoPE inverse frequencies 1/θ^(2j/D), rescaled for Llama 3 as Hugging Face's
 * `_compute_llama3_parameters`: wavelengths above original/low_freq_factor divided by `factor`,
 * below original/high_freq_factor kept, in between interpolated smoothly. Float64.
 */
export function ropeInverseFrequencies(theta: number, headDim: number, scaling?: Llama3RopeScaling): number[] {
  const inv = Array.from({ length: headDim / 2 }, (_, j) => 1 / theta ** ((2 * j) / headDim));
  if (!scaling) return inv;
  const { factor, lowFreqFactor: lo, highFreqFactor: hi, originalMaxPositions: old } = scaling;
  const lowWavelen = old / lo;
  const highWavelen = old / hi;
  return inv.map((f) => {
    const wavelen = (2 * Math.PI) / f;
    if (wavelen < highWavelen) return f;
    if (wavelen > lowWavelen) return f / factor;
    const smooth = (old / wavelen - lo) / (hi - lo);
    return (1 - smooth) * (f / factor) + smooth * f;
  });
}

export type WeightQuantization = "int8" | "bf16" | "fp16";
export type VariantScope = "lm-head" | "last-mlp";

export const PRESETS = {
  tiny: { layers: 4, hiddenSize: 128, heads: 4, kvHeads: 2, intermediateSize: 352, maxPositions: 1024 },
  small: { layers: 8, hiddenSize: 512, heads: 8, kvHeads: 4, intermediateSize: 1408, maxPositions: 2048 },
} as const;
export type PresetName = keyof typeof PRESETS;

export function validateSpec(s: LlamaBuildSpec): void {
  const pos = (name: string, v: number) => {
    if (!Number.isInteger(v) || v <= 0) throw new ModelInputError(`${name} must be a positive integer (got ${v})`);
  };
  pos("layers", s.layers);
  pos("hiddenSize", s.hiddenSize);
  pos("heads", s.heads);
  pos("kvHeads", s.kvHeads);
  pos("headDim", s.headDim);
  pos("intermediateSize", s.intermediateSize);
  pos("vocabSize", s.vocabSize);
  pos("maxPositions", s.maxPositions);
  if (s.heads % s.kvHeads !== 0) throw new ModelInputError(`heads (${s.heads}) must be a multiple of kvHeads (${s.kvHeads})`);
  if (s.headDim % 2 !== 0) throw new ModelInputError(`headDim must be even for rotary embeddings (got ${s.headDim})`);
  if (!(s.ropeTheta > 0) || !(s.rmsNormEps > 0)) throw new ModelInputError("ropeTheta and rmsNormEps must be positive");
  if (s.weightSeed < 0n || s.weightSeed >= 1n << 64n) throw new ModelInputError(`weight seed must be in [0, 2^64) (got ${s.weightSeed})`);
  if (s.weightPerturbation !== undefined && !(s.weightPerturbation >= 0 && s.weightPerturbation < 1))
    throw new ModelInputError(`weightPerturbation must be in [0, 1) (got ${s.weightPerturbation})`);
  if (s.weightQuantization !== undefined && !["int8", "bf16", "fp16"].includes(s.weightQuantization))
    throw new ModelInputError(`weightQuantization must be "int8", "bf16" or "fp16" (got ${String(s.weightQuantization)})`);
  for (const [name, v] of [["attnSoftcap", s.attnSoftcap], ["finalSoftcap", s.finalSoftcap]] as const)
    if (v !== undefined && !(v > 0 && Number.isFinite(v))) throw new ModelInputError(`${name} must be a positive number (got ${v})`);
  if (s.quantized !== undefined && !QUANTIZED_FORMATS.includes(s.quantized))
    throw new ModelInputError(`quantized must be one of ${QUANTIZED_FORMATS.join(", ")} (got ${String(s.quantized)})`);
  if ((s.quantized === "int8" || s.quantized === "qdq") && s.dtype !== "fp32")
    throw new ModelInputError(`${s.quantized} quantisation needs fp32 activations (DynamicQuantizeLinear and opset-17 QDQ scales are float): use --dtype fp32, or q4 for fp16 (q4f16)`);
  if (s.slidingWindowLayers !== undefined && s.slidingWindowLayers !== "all" && s.slidingWindowLayers !== "even")
    throw new ModelInputError(`slidingWindowLayers must be "all" or "even" (got ${String(s.slidingWindowLayers)})`);
  if (s.slidingWindow !== undefined && !(Number.isInteger(s.slidingWindow) && s.slidingWindow >= 1))
    throw new ModelInputError(`slidingWindow must be a positive integer (got ${s.slidingWindow})`);
  if (s.ropeScaling) {
    const r = s.ropeScaling;
    if (!(r.factor >= 1) || !(r.lowFreqFactor > 0) || !(r.highFreqFactor > r.lowFreqFactor) || !(r.originalMaxPositions > 0))
      throw new ModelInputError("llama3 rope scaling needs factor >= 1, 0 < low_freq_factor < high_freq_factor, original_max_position_embeddings > 0");
  }
  if (s.variantScope !== undefined && s.variantScope !== "lm-head" && s.variantScope !== "last-mlp")
    throw new ModelInputError(`variantScope must be "lm-head" or "last-mlp" (got ${String(s.variantScope)})`);
}

/**
 * Applies the spec's weight variants (perturbation, then int8 quantisation) in place to a weight
 * stored row-major as [rows, cols]; `channelAxis` names the output-channel axis (per-channel scales).
 */
export function applyWeightVariant(s: LlamaBuildSpec, name: string, data: Float32Array, rows: number, cols: number, channelAxis: 0 | 1): void {
  if (s.skipLastLayerOutput && (name === `model.layers.${s.layers - 1}.self_attn.o_proj.weight` || name === `model.layers.${s.layers - 1}.mlp.down_proj.weight`))
    data.fill(0);
  if (s.variantScope === "lm-head" && name !== "lm_head.weight") return;
  if (s.variantScope === "last-mlp" && !name.startsWith(`model.layers.${s.layers - 1}.mlp.`)) return;
  if (s.weightQuantization === "bf16") {
    const u = new Uint32Array(data.buffer, data.byteOffset, data.length);
    for (let i = 0; i < u.length; i++) {
      const x = u[i]!;
      u[i] = ((x + 0x7fff + ((x >>> 16) & 1)) & 0xffff0000) >>> 0; // round to nearest even (finite weights)
    }
  }
  if (s.weightQuantization === "fp16") for (let i = 0; i < data.length; i++) data[i] = roundToF16(data[i]!);
  if (s.weightPerturbation) {
    const eps = new WeightRng(s.weightSeed, `perturb:${name}`).fillNormal(new Float32Array(data.length), s.weightPerturbation);
    for (let i = 0; i < data.length; i++) data[i] = data[i]! * (1 + eps[i]!);
  }
  if (s.weightQuantization === "int8") {
    const channels = channelAxis === 0 ? rows : cols;
    const len = channelAxis === 0 ? cols : rows;
    const at = (c: number, j: number) => (channelAxis === 0 ? c * cols + j : j * cols + c);
    for (let c = 0; c < channels; c++) {
      let max = 0;
      for (let j = 0; j < len; j++) max = Math.max(max, Math.abs(data[at(c, j)]!));
      if (max === 0) continue;
      const scale = max / 127;
      for (let j = 0; j < len; j++) {
        const i = at(c, j);
        data[i] = Math.max(-127, Math.min(127, Math.round(data[i]! / scale))) * scale;
      }
    }
  }
}

export function countParams(s: LlamaBuildSpec): number {
  const H = s.hiddenSize;
  const perLayer =
    H * s.heads * s.headDim + 2 * H * s.kvHeads * s.headDim + s.heads * s.headDim * H + 3 * H * s.intermediateSize + 2 * H +
    (s.qkvBias ? (s.heads + 2 * s.kvHeads) * s.headDim : 0) +
    (s.qkNorm ? 2 * s.headDim : 0);
  return s.vocabSize * H + s.layers * perLayer + H + (s.tied ? 0 : H * s.vocabSize);
}

/** Writes the whole graph; returns the ONNX model message (weights inline as raw_data). */
export function buildLlamaGraph(s: LlamaBuildSpec): { model: OnnxTypes.IModelProto; weightBytes: number } {
  validateSpec(s);
  const g = new GraphWriter();
  const dt = s.dtype;
  const ET = elemType(dt);
  const { layers: L, hiddenSize: H, heads: NH, kvHeads: NKV, headDim: D, intermediateSize: I, vocabSize: V } = s;
  const nRep = NH / NKV;

  const wData = (name: string, dims: [number, number], std: number): Float32Array => {
    const data = new Float32Array(dims[0] * dims[1]);
    new WeightRng(s.weightSeed, name).fillNormal(data, std);
    applyWeightVariant(s, name, data, dims[0], dims[1], 1); // MatMul weights are [in, out]
    return data;
  };
  // x · W for a seeded weight W [in, out]: a float MatMul, or the spec's quantised form of it
  const linearOf = (x: string, name: string, dims: [number, number], data: Float32Array, out?: string): string =>
    s.quantized ? quantizedLinear(g, s.quantized, x, name, data, dims[0], dims[1], dt, out) : g.op("MatMul", [x, g.weight(name, dims, data, dt)], {}, out);
  const linear = (x: string, name: string, dims: [number, number], std: number): string => linearOf(x, name, dims, wData(name, dims, std));
  const ones = (name: string, n: number): string => g.weight(name, [n], new Float32Array(n).fill(1), dt);

  // ---- inputs
  const inputIds = g.input("input_ids", DT.INT64, ["batch_size", "sequence_length"]);
  const mask = g.input("attention_mask", DT.INT64, ["batch_size", "total_sequence_length"]);
  const positionIdsIn = s.positionIds ? g.input("position_ids", DT.INT64, ["batch_size", "sequence_length"]) : null;
  const withPast = s.pastInputs ?? true;
  const pastIn: { key: string; value: string }[] = [];
  for (let i = 0; i < L && withPast; i++) {
    pastIn.push({
      key: g.input(`past_key_values.${i}.key`, ET, ["batch_size", NKV, "past_sequence_length", D]),
      value: g.input(`past_key_values.${i}.value`, ET, ["batch_size", NKV, "past_sequence_length", D]),
    });
  }
  const useCacheBranch = s.useCacheBranch && withPast ? g.input("use_cache_branch", DT.BOOL, [1]) : null;

  // ---- shared: lengths, positions, rotary tables, attention mask
  const i64 = (v: number[]) => g.int64(v);
  const scalarShape = g.int64([], [0]);
  const toScalar = (t: string) => g.op("Reshape", [t, scalarShape]);
  let pastLen = withPast ? g.op("Shape", [pastIn[0]!.key], { start: { i: 2 }, end: { i: 3 } }) : i64([0]); // [1]
  if (useCacheBranch) pastLen = g.op("Where", [useCacheBranch, pastLen, i64([0])]);
  // the past actually used by each layer (a legacy use_cache_branch=false means: ignore the dummy past)
  const pastUsed = (t: string) => (useCacheBranch ? g.op("Slice", [t, i64([0]), pastLen, i64([2])]) : t);
  const seqLen = g.op("Shape", [inputIds], { start: { i: 1 }, end: { i: 2 } });
  const totalLen = g.op("Shape", [mask], { start: { i: 1 }, end: { i: 2 } });
  const pastS = toScalar(pastLen);
  const seqS = toScalar(seqLen);
  const totS = toScalar(totalLen);

  let positionIds: string;
  if (positionIdsIn) positionIds = positionIdsIn;
  else {
    // HF: position_ids = cumsum(attention_mask) - 1 (left padding aware), the last `seq` columns
    const cum = g.op("CumSum", [mask, g.int64([1], [])]);
    const all = g.op("Sub", [cum, g.int64([1], [])]);
    positionIds = g.op("Slice", [all, pastLen, i64([Number.MAX_SAFE_INTEGER]), i64([1])]);
  }

  // rotary: inv_freq[j] = 1 / theta^(2j/D), computed in-graph (fp32)
  const expo = Array.from({ length: D / 2 }, (_, j) => (2 * j) / D);
  // llama3 rope scaling: the rescaled frequencies as a constant (HF computes them once at init too)
  const invFreq = s.ropeScaling
    ? g.float(ropeInverseFrequencies(s.ropeTheta, D, s.ropeScaling))
    : g.op("Div", [g.float([1], "fp32", []), g.op("Pow", [g.float([s.ropeTheta], "fp32", []), g.float(expo)])]);
  const posF = g.op("Unsqueeze", [g.op("Cast", [positionIds], { to: { i: DT.FLOAT } }), i64([2])]); // [B,S,1]
  const freqs = g.op("Mul", [posF, invFreq]); // [B,S,D/2]
  const emb = g.op("Concat", [freqs, freqs], { axis: { i: -1 } }); // [B,S,D]
  const castDt = (t: string) => (dt === "fp16" ? g.op("Cast", [t], { to: { i: DT.FLOAT16 } }) : t);
  const cos = castDt(g.op("Unsqueeze", [g.op("Cos", [emb]), i64([1])])); // [B,1,S,D]
  const sin = castDt(g.op("Unsqueeze", [g.op("Sin", [emb]), i64([1])]));

  // mask: query i (cache index past+i) may read key j iff j <= past+i and attention_mask[b, j] == 1
  const one = g.int64([1], []);
  const qIdx = g.op("Range", [pastS, g.op("Add", [pastS, seqS]), one]); // [S]
  const kIdx = g.op("Range", [g.int64([0], []), totS, one]); // [T]
  const causalOnly = g.op("LessOrEqual", [g.op("Unsqueeze", [kIdx, i64([0])]), g.op("Unsqueeze", [qIdx, i64([1])])]); // [S,T]
  const padOk = g.op("Unsqueeze", [g.op("Cast", [mask], { to: { i: DT.BOOL } }), i64([1, 2])]); // [B,1,1,T]
  const allowedOf = (c: string) => g.op("Unsqueeze", [g.op("And", [c, padOk]), i64([2])]); // [B,1,1,S,T]
  // the sliding window (Mistral, Phi-3; Gemma 2 on even layers): also k > q − W
  const allowedWindow = s.slidingWindow
    ? allowedOf(g.op("And", [causalOnly, g.op("Greater", [g.op("Unsqueeze", [kIdx, i64([0])]), g.op("Unsqueeze", [g.op("Sub", [qIdx, g.int64([s.slidingWindow], [])]), i64([1])])])]))
    : null;
  const allowedFull = !allowedWindow || s.slidingWindowLayers === "even" ? allowedOf(causalOnly) : null;
  const allowedAt = (l: number): string => (allowedWindow && (s.slidingWindowLayers !== "even" || l % 2 === 0) ? allowedWindow : allowedFull!);
  const minVal = g.float([dt === "fp16" ? -65504 : -3.4028234663852886e38], dt, []);
  const scale = g.float([1 / Math.sqrt(D)], dt, []);

  const rmsNorm = (x: string, weight: string): string => {
    const upcast = () => g.op("Cast", [x], { to: { i: DT.FLOAT } });
    const xv = dt === "fp16" || s.hfUpcast ? upcast() : x;
    const variance = g.op("ReduceMean", [g.op("Mul", [xv, xv])], { axes: { ints: [-1] }, keepdims: { i: 1 } });
    const inv = g.op("Div", [g.float([1], "fp32", []), g.op("Sqrt", [g.op("Add", [variance, g.float([s.rmsNormEps], "fp32", [])])])]);
    // hfUpcast: the scaled tensor gets its own `.float()` after the reciprocal (as traced exports
    // order it), the node order that trips onnxruntime #32416 in fp32 graphs
    const xf = s.hfUpcast ? upcast() : xv;
    const y = castDt(g.op("Mul", [xf, inv]));
    return g.op("Mul", [weight, y]);
  };
  const rope = (x: string): string => {
    const x1 = g.op("Slice", [x, i64([0]), i64([D / 2]), i64([3])]);
    const x2 = g.op("Slice", [x, i64([D / 2]), i64([D]), i64([3])]);
    const rot = g.op("Concat", [g.op("Neg", [x2]), x1], { axis: { i: 3 } });
    return g.op("Add", [g.op("Mul", [x, cos]), g.op("Mul", [rot, sin])]);
  };
  const heads = (x: string, n: number): string =>
    g.op("Transpose", [g.op("Reshape", [x, i64([0, 0, n, D])])], { perm: { ints: [0, 2, 1, 3] } }); // [B,n,S,D]

  const std = s.initScale / Math.sqrt(H);
  const residStd = std / Math.sqrt(2 * L);
  // rows/columns of the special tokens (ids >= specialFrom) are scaled by 1/8 so that a random
  // model rarely emits <eos>/<bos>/<pad> (otherwise generations would stop after a few tokens)
  const damp = (data: Float32Array, rowsFrom: number, rowLen: number, colsFrom: number, cols: number) => {
    if (s.specialFrom === null) return;
    for (let r = 0; r < data.length / rowLen; r++)
      for (let c = 0; c < rowLen; c++)
        if ((rowsFrom >= 0 && r >= rowsFrom) || (colsFrom >= 0 && c >= colsFrom && c < cols)) data[r * rowLen + c]! *= 0.125;
  };
  const embedData = new Float32Array(V * H);
  new WeightRng(s.weightSeed, "model.embed_tokens.weight").fillNormal(embedData, s.initScale / Math.sqrt(H));
  if (s.tied) damp(embedData, s.specialFrom ?? V, H, -1, 0);
  applyWeightVariant(s, "model.embed_tokens.weight", embedData, V, H, 0); // one row per token
  const embed = g.weight("model.embed_tokens.weight", [V, H], embedData, dt);
  let x = g.op("Gather", [embed, inputIds], { axis: { i: 0 } }); // [B,S,H]
  // Gemma: hidden_states * normalizer, the normalizer √hidden in the model's dtype
  if (s.embedScale) x = g.op("Mul", [x, g.float([Math.sqrt(H)], dt, [])]);
  const bias = (name: string, n: number): string => {
    const data = new Float32Array(n);
    new WeightRng(s.weightSeed, name).fillNormal(data, 0.5);
    return g.weight(name, [n], data, dt);
  };
  // Phi-3: one MatMul per layer for q/k/v, split by columns [q | k | v]
  const fusedQkv = (h: string, p: string): [string, string, string] => {
    const y = linear(h, `${p}.self_attn.qkv_proj.weight`, [H, (NH + 2 * NKV) * D], std);
    const cols = (a: number, b: number) => g.op("Slice", [y, i64([a]), i64([b]), i64([2])]);
    return [cols(0, NH * D), cols(NH * D, (NH + NKV) * D), cols((NH + NKV) * D, (NH + 2 * NKV) * D)];
  };
  const proj = (h: string, p: string, which: "q" | "k" | "v", n: number): string => {
    const y = linear(h, `${p}.self_attn.${which}_proj.weight`, [H, n * D], std);
    return s.qkvBias ? g.op("Add", [y, bias(`${p}.self_attn.${which}_proj.bias`, n * D)]) : y;
  };
  const softcap = (t: string, cap: number, out?: string): string =>
    g.op("Mul", [g.op("Tanh", [g.op("Div", [t, g.float([cap], dt, [])])]), g.float([cap], dt, [])], {}, out);

  for (let l = 0; l < L; l++) {
    const p = `model.layers.${l}`;
    const h = rmsNorm(x, ones(`${p}.input_layernorm.weight`, H));
    // Qwen3: q_norm / k_norm over head_dim of each head, before RoPE
    const qkn = (t: string, which: "q" | "k") => (s.qkNorm ? rmsNorm(t, ones(`${p}.self_attn.${which}_norm.weight`, D)) : t);
    const [qp, kp, vp] = s.fusedProjections ? fusedQkv(h, p) : [proj(h, p, "q", NH), proj(h, p, "k", NKV), proj(h, p, "v", NKV)];
    const q = rope(qkn(heads(qp, NH), "q"));
    const k = rope(qkn(heads(kp, NKV), "k"));
    const v = heads(vp, NKV);
    const presentK = withPast
      ? g.op("Concat", [pastUsed(pastIn[l]!.key), k], { axis: { i: 2 } }, `present.${l}.key`)
      : g.op("Identity", [k], {}, `present.${l}.key`);
    const presentV = withPast
      ? g.op("Concat", [pastUsed(pastIn[l]!.value), v], { axis: { i: 2 } }, `present.${l}.value`)
      : g.op("Identity", [v], {}, `present.${l}.value`);
    // GQA without copying kv: q [B,NH,S,D] -> [B,NKV,nRep,S,D]; k,v [B,NKV,T,D] -> [B,NKV,1,...]
    const q5 = g.op("Reshape", [q, i64([0, NKV, nRep, -1, D])]);
    const kT5 = g.op("Unsqueeze", [g.op("Transpose", [presentK], { perm: { ints: [0, 1, 3, 2] } }), i64([2])]);
    // hfUpcast (fp32): scores.float() * (1 / sqrt(D)) with the reciprocal as a node of constants — the
    // same-dtype Cast feeding a folded Mul-by-reciprocal of onnxruntime #32416
    const scores =
      s.hfUpcast && dt === "fp32"
        ? g.op("Mul", [g.op("Cast", [g.op("MatMul", [q5, kT5])], { to: { i: DT.FLOAT } }), g.op("Div", [g.float([1], "fp32", []), g.float([Math.sqrt(D)], "fp32", [])])])
        : g.op("Mul", [g.op("MatMul", [q5, kT5]), scale]); // [B,NKV,nRep,S,T]
    const masked = g.op("Where", [allowedAt(l), s.attnSoftcap ? softcap(scores, s.attnSoftcap) : scores, minVal]);
    const probs =
      dt === "fp16" || s.hfUpcast
        ? castDt(g.op("Softmax", [g.op("Cast", [masked], { to: { i: DT.FLOAT } })], { axis: { i: -1 } }))
        : g.op("Softmax", [masked], { axis: { i: -1 } });
    const ctx = g.op("MatMul", [probs, g.op("Unsqueeze", [presentV, i64([2])])]); // [B,NKV,nRep,S,D]
    const merged = g.op("Reshape", [
      g.op("Transpose", [g.op("Reshape", [ctx, i64([0, NH, -1, D])])], { perm: { ints: [0, 2, 1, 3] } }),
      i64([0, 0, NH * D]),
    ]);
    x = g.op("Add", [x, linear(merged, `${p}.self_attn.o_proj.weight`, [NH * D, H], residStd)]);

    const h2 = rmsNorm(x, ones(`${p}.post_attention_layernorm.weight`, H));
    let gate: string;
    let up: string;
    if (s.fusedProjections) {
      const gu = linear(h2, `${p}.mlp.gate_up_proj.weight`, [H, 2 * I], std);
      gate = g.op("Slice", [gu, i64([0]), i64([I]), i64([2])]);
      up = g.op("Slice", [gu, i64([I]), i64([2 * I]), i64([2])]);
    } else {
      gate = linear(h2, `${p}.mlp.gate_proj.weight`, [H, I], std);
      up = linear(h2, `${p}.mlp.up_proj.weight`, [H, I], std);
    }
    const act = g.op("Mul", [g.op("Mul", [gate, g.op("Sigmoid", [gate])]), up]);
    const down = linear(act, `${p}.mlp.down_proj.weight`, [I, H], s.initScale / Math.sqrt(I) / Math.sqrt(2 * L));
    x = g.op("Add", [x, down]);
  }
  const xn = rmsNorm(x, ones("model.norm.weight", H));
  // the head's output is "logits" itself unless soft-capping follows
  const headOut = s.finalSoftcap ? undefined : "logits";
  const head = s.tied
    ? g.op("MatMul", [xn, g.op("Transpose", [embed], { perm: { ints: [1, 0] } })], {}, headOut)
    : (() => {
        const data = new Float32Array(H * V);
        new WeightRng(s.weightSeed, "lm_head.weight").fillNormal(data, s.lmScale / Math.sqrt(H));
        damp(data, -1, V, s.specialFrom ?? V, V);
        applyWeightVariant(s, "lm_head.weight", data, H, V, 1);
        return linearOf(xn, "lm_head.weight", [H, V], data, headOut);
      })();
  if (s.finalSoftcap) softcap(head, s.finalSoftcap, "logits");

  g.output("logits", ET, ["batch_size", "sequence_length", V]);
  for (let l = 0; l < L; l++) {
    g.output(`present.${l}.key`, ET, ["batch_size", NKV, "total_sequence_length", D]);
    g.output(`present.${l}.value`, ET, ["batch_size", NKV, "total_sequence_length", D]);
  }
  const model = g.toModel({
    graphName: "poc_llama",
    opset: 17,
    producer: "proof-of-cache",
    docString: "Llama-style decoder with seeded random weights (Proof of Cache model builder)",
  });
  return { model, weightBytes: g.weightBytes };
}
