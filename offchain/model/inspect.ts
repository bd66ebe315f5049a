/**
 * What a variant's graph computes in, read from the ONNX file without running it: the weights'
 * element type and quantisation ops, and the KV cache's type.
 */
import { join } from "node:path";
import { readOnnx } from "./files.js";
import { DT, type OnnxTypes } from "./onnx-proto.js";
import type { ModelVariant } from "./variants.js";

export interface VariantPrecision {
  /** Element type holding most weight bytes: "fp32", "fp16", "bf16", "int8", "uint8", "int4", "uint4", … */
  weights: string;
  /** Quantisation seen in the graph: "4-bit MatMulNBits", "int8 dynamic (MatMulInteger)", "int8 QDQ", or null. */
  quantization: string | null;
  /** KV cache type from the past_key_values inputs ("fp32" / "fp16"), null when unknown. */
  kv: string | null;
}

const TYPE_NAMES: Record<number, string> = {
  [DT.FLOAT]: "fp32",
  [DT.FLOAT16]: "fp16",
  [DT.DOUBLE]: "fp64",
  [DT.INT8]: "int8",
  [DT.UINT8]: "uint8",
  [DT.INT32]: "int32",
  [DT.INT64]: "int64",
  16: "bf16",
  21: "uint4",
  22: "int4",
};

function tensorBytes(t: OnnxTypes.ITensorProto): number {
  if (t.rawData && t.rawData.length > 0) return t.rawData.length;
  const len = t.externalData?.find((e) => e.key === "length")?.value;
  if (len) return Number(len);
  return (t.floatData?.length ?? 0) * 4 + (t.int32Data?.length ?? 0) * 4 + (t.int64Data?.length ?? 0) * 8;
}

export function graphPrecision(model: OnnxTypes.IModelProto): VariantPrecision {
  const bytesByType = new Map<number, number>();
  const ops = new Set<string>();
  const visit = (g: OnnxTypes.IGraphProto | null | undefined) => {
    if (!g) return;
    for (const t of g.initializer ?? []) bytesByType.set(t.dataType ?? 0, (bytesByType.get(t.dataType ?? 0) ?? 0) + tensorBytes(t));
    for (const n of g.node ?? []) {
      ops.add(n.opType ?? "");
      for (const a of n.attribute ?? []) {
        visit(a.g);
        for (const sg of a.graphs ?? []) visit(sg);
      }
    }
  };
  visit(model.graph);
  let best = DT.FLOAT as number;
  let most = -1;
  for (const [t, b] of bytesByType) if (b > most && t !== DT.INT64) (best = t), (most = b);
  const quantization = ops.has("MatMulNBits")
    ? "4-bit MatMulNBits"
    : ops.has("MatMulInteger") || ops.has("DynamicQuantizeLinear") || ops.has("QLinearMatMul")
      ? "int8 dynamic (MatMulInteger)"
      : ops.has("DequantizeLinear")
        ? "int8 QDQ"
        : null;
  const past = model.graph?.input?.find((i) => /^past_key_values\.0\.key$/.test(i.name ?? ""));
  const kvType = past?.type?.tensorType?.elemType;
  return { weights: TYPE_NAMES[best] ?? `type ${best}`, quantization, kv: kvType ? (TYPE_NAMES[kvType] ?? `type ${kvType}`) : null };
}

export async function variantPrecision(dir: string, v: ModelVariant): Promise<VariantPrecision> {
  return graphPrecision(await readOnnx(join(dir, v.graph)));
}
