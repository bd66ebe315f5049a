/**
 * Quantised linear layers as onnxruntime runs them (issue 11, "Precisions and quantisation"): the
 * graph a quantisation tool writes for `y = x · W` with W [K, N] stored [in, out].
 *
 * - "q4"   — `com.microsoft.MatMulNBits` (what onnxruntime's MatMul4BitsQuantizer and the q4 /
 *   q4f16 files of transformers.js repositories hold): 4-bit weights in blocks of 32 along K,
 *   symmetric (`q = clamp(round(w / s) + 8, 0, 15)`, `s = max|w| / 7` per block and output column,
 *   no zero-point input: the op's default 8). B is [N, K/32, 16] bytes, two values a byte, the
 *   even k in the low nibble; scales [N · K/32] in the activations' type.
 * - "int8" — dynamic quantisation (`onnxruntime.quantization.quantize_dynamic`, the int8/quantized
 *   files): `DynamicQuantizeLinear(x)` → uint8 activations with one scale and zero point per call,
 *   `MatMulInteger` against int8 weights (per output channel, symmetric: zero point 0), the int32
 *   result cast to float and multiplied by `x_scale · w_scale`. fp32 activations only (the op
 *   takes float).
 * - "qdq"  — static QDQ (`quantize_static`, QuantFormat.QDQ): activations through
 *   `QuantizeLinear`/`DequantizeLinear` with a fixed scale (`QDQ_ACTIVATION_RANGE` / 127, int8,
 *   zero point 0, as a calibration would fix it), weights int8 per output channel through
 *   `DequantizeLinear` (axis 1), then a float MatMul; onnxruntime fuses the pattern into integer
 *   kernels at optimisation "extended" and above.
 *
 * The weights are quantised from the same seeded float weights the float build writes, so a
 * quantised build and its float twin are the same model up to quantisation.
 */
import { DT } from "./onnx-proto.js";
import type { GraphWriter, Dtype } from "./graph.js";
import { float32ToHalf } from "./fp16.js";

export type QuantizedFormat = "q4" | "int8" | "qdq";
export const QUANTIZED_FORMATS: readonly QuantizedFormat[] = ["q4", "int8", "qdq"];

export const Q4_BLOCK = 32;
/** The clip range of static QDQ activations: |x| ≤ 8 is representable (calibrated on the seeded models' activations). */
export const QDQ_ACTIVATION_RANGE = 8;

/** q4 blocks of W [K, N] (row-major [in, out]): B [N, ⌈K/32⌉, 16] and scales [N · ⌈K/32⌉]. */
export function quantizeQ4(w: Float32Array, K: number, N: number): { b: Uint8Array; scales: Float32Array; blocks: number; dequantized: Float32Array } {
  const blocks = Math.ceil(K / Q4_BLOCK);
  const blob = Q4_BLOCK / 2;
  const b = new Uint8Array(N * blocks * blob);
  const scales = new Float32Array(N * blocks);
  const dequantized = new Float32Array(K * N);
  for (let n = 0; n < N; n++)
    for (let blk = 0; blk < blocks; blk++) {
      let max = 0;
      for (let j = 0; j < Q4_BLOCK; j++) {
        const k = blk * Q4_BLOCK + j;
        if (k < K) max = Math.max(max, Math.abs(w[k * N + n]!));
      }
      const s = max / 7;
      scales[n * blocks + blk] = s;
      for (let j = 0; j < Q4_BLOCK; j++) {
        const k = blk * Q4_BLOCK + j;
        const q = k < K && s > 0 ? Math.max(0, Math.min(15, Math.round(w[k * N + n]! / s) + 8)) : 8;
        if (k < K) dequantized[k * N + n] = (q - 8) * s;
        const at = (n * blocks + blk) * blob + (j >> 1);
        b[at] = b[at]! | (j & 1 ? q << 4 : q);
      }
    }
  return { b, scales, blocks, dequantized };
}

/** Symmetric int8 per output column of W [K, N]: q [K, N] and scales [N]. */
export function quantizeInt8PerColumn(w: Float32Array, K: number, N: number): { q: Int8Array; scales: Float32Array } {
  const q = new Int8Array(K * N);
  const scales = new Float32Array(N);
  for (let n = 0; n < N; n++) {
    let max = 0;
    for (let k = 0; k < K; k++) max = Math.max(max, Math.abs(w[k * N + n]!));
    const s = max > 0 ? max / 127 : 1;
    scales[n] = s;
    for (let k = 0; k < K; k++) q[k * N + n] = Math.max(-127, Math.min(127, Math.round(w[k * N + n]! / s)));
  }
  return { q, scales };
}

/** Emits `x · W` in the given format; `name` is the float weight's name (HF: `…q_proj.weight`). */
export function quantizedLinear(g: GraphWriter, format: QuantizedFormat, x: string, name: string, w: Float32Array, K: number, N: number, dt: Dtype, out?: string): string {
  const floats = (t: string, data: Float32Array, dims: number[]) =>
    dt === "fp16" ? g.tensor(t, dims, DT.FLOAT16, float32ToHalf(data)) : g.tensor(t, dims, DT.FLOAT, data);
  if (format === "q4") {
    const { b, scales, blocks } = quantizeQ4(w, K, N);
    const bName = g.tensor(`${name}_Q4`, [N, blocks, Q4_BLOCK / 2], DT.UINT8, b);
    const sName = floats(`${name}_scales`, scales, [N * blocks]);
    return g.opN("MatMulNBits", [x, bName, sName], { K: { i: K }, N: { i: N }, bits: { i: 4 }, block_size: { i: Q4_BLOCK } }, out ? [out] : 1, "com.microsoft")[0]!;
  }
  const { q, scales } = quantizeInt8PerColumn(w, K, N);
  const qName = g.tensor(`${name}_quantized`, [K, N], DT.INT8, q);
  const zName = g.tensor(`${name}_zero_point`, [N], DT.INT8, new Int8Array(N));
  if (format === "int8") {
    if (dt !== "fp32") throw new Error("int8 dynamic quantisation needs fp32 activations");
    const sName = g.tensor(`${name}_scale`, [N], DT.FLOAT, scales);
    const [xq, xs, xz] = g.opN("DynamicQuantizeLinear", [x], {}, 3);
    const acc = g.op("MatMulInteger", [xq!, qName, xz!, zName]);
    return g.op("Mul", [g.op("Cast", [acc], { to: { i: DT.FLOAT } }), g.op("Mul", [xs!, sName])], {}, out);
  }
  // qdq: static activations (one fixed scale), weights per output channel
  const aScale = floats(`${name}_input_scale`, new Float32Array([QDQ_ACTIVATION_RANGE / 127]), []);
  const aZero = g.tensor(`${name}_input_zero_point`, [], DT.INT8, new Int8Array(1));
  const xdq = g.op("DequantizeLinear", [g.op("QuantizeLinear", [x, aScale, aZero]), aScale, aZero]);
  const wdq = g.op("DequantizeLinear", [qName, floats(`${name}_scale`, scales, [N]), zName], { axis: { i: 1 } });
  return g.op("MatMul", [xdq, wdq], {}, out);
}
