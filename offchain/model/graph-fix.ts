/**
 * Graph rewrites applied at load to exports that onnxruntime mis-optimises.
 *
 * Same-dtype Casts (onnxruntime #32416): a PyTorch export of code that upcasts with `.float()` a tensor
 * that is already float32 (Hugging Face RMSNorm and softmax in fp32 models) holds `Cast(to=FLOAT)` of a
 * float tensor. At graph optimisation basic and above, CastElimination together with DivMulFusion
 * leaves a node reading the removed Cast's output ("Node input '…/Cast_1_output_0' is not a graph
 * input, initializer, or output of a previous node"). Such a Cast is the identity, so removing it
 * before onnxruntime sees the graph changes no number.
 *
 * Element types are propagated through the graph by a small table of op rules (graph inputs,
 * initializers, value_info, Constant, Cast, and ops whose output has their first float input's type);
 * a Cast whose input type is not known is left alone.
 */
import { DT, type OnnxTypes } from "./onnx-proto.js";

/** Ops whose every output has the element type of input `i`. */
const SAME_AS_INPUT: Record<string, number> = {};
for (const op of [
  "Identity", "Neg", "Abs", "Sqrt", "Exp", "Log", "Sin", "Cos", "Tanh", "Sigmoid", "Relu", "Softmax", "LogSoftmax", "Erf",
  "Reciprocal", "Floor", "Ceil", "Round", "Add", "Sub", "Mul", "Div", "Pow", "Mod", "MatMul", "Gemm", "ReduceMean", "ReduceSum",
  "ReduceMax", "ReduceMin", "ReduceProd", "CumSum", "Concat", "Reshape", "Transpose", "Unsqueeze", "Squeeze", "Slice", "Expand",
  "Tile", "Gather", "GatherElements", "GatherND", "Split", "Max", "Min", "Clip", "LayerNormalization", "SimplifiedLayerNormalization",
  "Trilu", "ScatterND", "ScatterElements", "Flatten", "Pad", "Range", "Einsum", "Gelu", "FastGelu", "SkipSimplifiedLayerNormalization",
]) SAME_AS_INPUT[op] = 0;
SAME_AS_INPUT.Where = 1;
const INT64_OUT = new Set(["Shape", "Size", "NonZero", "ArgMax", "ArgMin"]);
const BOOL_OUT = new Set(["Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "And", "Or", "Not", "Xor", "IsNaN", "IsInf"]);

const attr = (n: OnnxTypes.INodeProto, name: string) => n.attribute?.find((a) => a.name === name);
const num = (v: unknown): number => (typeof v === "number" ? v : v && typeof v === "object" && "toNumber" in v ? (v as { toNumber(): number }).toNumber() : 0);

function valueTypes(g: OnnxTypes.IGraphProto, outer: ReadonlyMap<string, number>): Map<string, number> {
  const t = new Map(outer);
  for (const v of [...(g.input ?? []), ...(g.valueInfo ?? []), ...(g.output ?? [])]) {
    const e = v.type?.tensorType?.elemType;
    if (v.name && e) t.set(v.name, e);
  }
  for (const i of g.initializer ?? []) if (i.name && i.dataType) t.set(i.name, i.dataType);
  for (const n of g.node ?? []) {
    const outs = n.output ?? [];
    const op = n.opType ?? "";
    let e: number | undefined;
    if (op === "Cast") e = num(attr(n, "to")?.i);
    else if (op === "Constant") {
      const a = n.attribute?.[0];
      e = a?.t?.dataType ?? (a?.name === "value_float" || a?.name === "value_floats" ? DT.FLOAT : a?.name?.startsWith("value_int") ? DT.INT64 : undefined);
    } else if (op === "ConstantOfShape") e = attr(n, "value")?.t?.dataType ?? DT.FLOAT;
    else if (INT64_OUT.has(op)) e = DT.INT64;
    else if (BOOL_OUT.has(op)) e = DT.BOOL;
    else if ((n.domain ?? "") === "" || n.domain === "com.microsoft") {
      const i = SAME_AS_INPUT[op];
      if (i !== undefined) e = t.get(n.input?.[i] ?? "");
    }
    if (e) for (const o of outs) if (o && !t.has(o)) t.set(o, e);
  }
  return t;
}

/** Rewrites every reference to `from` into `to` in the graph and its subgraphs. */
function rename(g: OnnxTypes.IGraphProto, from: Map<string, string>): void {
  for (const n of g.node ?? []) {
    if (n.input) n.input = n.input.map((i) => from.get(i) ?? i);
    for (const a of n.attribute ?? []) {
      if (a.g) rename(a.g, from);
      for (const sg of a.graphs ?? []) rename(sg, from);
    }
  }
}

/**
 * Removes Casts whose input already has the target type (in place, subgraphs included); a Cast whose
 * output is a graph output is kept. Returns how many were removed.
 */
export function stripSameDtypeCasts(model: OnnxTypes.IModelProto): number {
  const visit = (g: OnnxTypes.IGraphProto, outer: ReadonlyMap<string, number>): number => {
    const types = valueTypes(g, outer);
    const graphOutputs = new Set((g.output ?? []).map((o) => o.name ?? ""));
    const from = new Map<string, string>();
    const kept: OnnxTypes.INodeProto[] = [];
    for (const n of g.node ?? []) {
      const input = n.input?.[0];
      const output = n.output?.[0];
      if (n.opType === "Cast" && input && output && !graphOutputs.has(output)) {
        const inType = types.get(from.get(input) ?? input);
        if (inType !== undefined && inType === num(attr(n, "to")?.i)) {
          from.set(output, from.get(input) ?? input);
          continue;
        }
      }
      kept.push(n);
    }
    g.node = kept;
    if (from.size > 0) {
      rename(g, from);
      if (g.valueInfo) g.valueInfo = g.valueInfo.filter((v) => !from.has(v.name ?? ""));
    }
    let removed = from.size;
    for (const n of g.node ?? [])
      for (const a of n.attribute ?? []) {
        if (a.g) removed += visit(a.g, types);
        for (const sg of a.graphs ?? []) removed += visit(sg, types);
      }
    return removed;
  };
  return model.graph ? visit(model.graph, new Map()) : 0;
}

/** onnxruntime's message for a graph its optimiser broke (#32416 and relatives). */
export const OPTIMISER_BUG_RE = /is not a graph input, initializer, or output of a previous node/;
