/**
 * Graph pruning: keep only what the requested outputs depend on.
 *
 * onnxruntime executes the whole graph on every run, whatever outputs are fetched (see
 * microsoft/onnxruntime#3128, #16483: RunOptions.only_execute_path_to_fetches works only in
 * training builds), so "fetch present.0..n-1 only" is implemented by a separate session over the
 * pruned graph. Nodes with subgraphs (If/Loop, as in merged Optimum exports) are kept whole, with
 * every outer-scope name their subgraphs reference counted as a dependency.
 */
import { open } from "node:fs/promises";
import { join } from "node:path";
import { ModelFileError } from "./errors.js";
import { onnx, type OnnxTypes } from "./onnx-proto.js";

export function pruneToOutputs(model: OnnxTypes.IModelProto, outputs: readonly string[]): OnnxTypes.IModelProto {
  const graph = model.graph!;
  const nodes = graph.node ?? [];
  const producer = new Map<string, number>();
  nodes.forEach((n, i) => (n.output ?? []).forEach((o) => o && producer.set(o, i)));

  const needed = new Set<string>();
  const keep = new Set<number>();
  const stack = [...outputs];
  while (stack.length > 0) {
    const name = stack.pop()!;
    if (needed.has(name)) continue;
    needed.add(name);
    const i = producer.get(name);
    if (i === undefined || keep.has(i)) continue;
    keep.add(i);
    const n = nodes[i]!;
    for (const inp of n.input ?? []) if (inp) stack.push(inp);
    for (const a of n.attribute ?? []) {
      if (a.g) for (const r of subgraphRefs(a.g)) stack.push(r);
      for (const sg of a.graphs ?? []) for (const r of subgraphRefs(sg)) stack.push(r);
    }
  }
  const want = new Set(outputs);
  return {
    ...model,
    graph: {
      ...graph,
      node: nodes.filter((_, i) => keep.has(i)),
      initializer: (graph.initializer ?? []).filter((t) => needed.has(t.name ?? "")),
      sparseInitializer: (graph.sparseInitializer ?? []).filter((t) => needed.has(t.values?.name ?? "")),
      input: (graph.input ?? []).filter((v) => needed.has(v.name ?? "")),
      output: (graph.output ?? []).filter((v) => want.has(v.name ?? "")),
      valueInfo: (graph.valueInfo ?? []).filter((v) => needed.has(v.name ?? "")),
    },
  };
}

/** Every name a subgraph (recursively) reads; over-approximates its outer-scope references. */
function subgraphRefs(g: OnnxTypes.IGraphProto): string[] {
  const out: string[] = [];
  for (const n of g.node ?? []) {
    for (const i of n.input ?? []) if (i) out.push(i);
    for (const a of n.attribute ?? []) {
      if (a.g) out.push(...subgraphRefs(a.g));
      for (const sg of a.graphs ?? []) out.push(...subgraphRefs(sg));
    }
  }
  for (const o of g.output ?? []) if (o.name) out.push(o.name);
  return out;
}

/**
 * Replaces external-data references by inline raw_data (read from the files, relative to
 * `baseDir`), in place. onnxruntime only accepts external data beside the model file (it resolves
 * links), so a pruned graph built in memory carries its weights inline. Returns false, leaving the
 * model unchanged, when the inlined weights would pass `maxBytes` (the 2 GiB protobuf limit).
 */
export async function inlineExternalData(model: OnnxTypes.IModelProto, baseDir: string, maxBytes = 1_900_000_000): Promise<boolean> {
  const tensors: OnnxTypes.ITensorProto[] = [];
  const visitGraph = (g: OnnxTypes.IGraphProto | null | undefined) => {
    if (!g) return;
    for (const t of g.initializer ?? []) if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) tensors.push(t);
    for (const n of g.node ?? [])
      for (const a of n.attribute ?? []) {
        if (a.t && a.t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) tensors.push(a.t);
        visitGraph(a.g);
        for (const sg of a.graphs ?? []) visitGraph(sg);
      }
  };
  visitGraph(model.graph);
  const field = (t: OnnxTypes.ITensorProto, k: string) => t.externalData?.find((e) => e.key === k)?.value;
  let total = 0;
  for (const t of tensors) total += Number(field(t, "length") ?? Infinity);
  if (!(total <= maxBytes)) return false;
  const updates: [OnnxTypes.ITensorProto, Uint8Array][] = [];
  for (const t of tensors) {
    const path = join(baseDir, field(t, "location") ?? "");
    const offset = Number(field(t, "offset") ?? 0);
    const length = Number(field(t, "length"));
    const buf = Buffer.alloc(length);
    let fh;
    try {
      fh = await open(path, "r");
      const { bytesRead } = await fh.read(buf, 0, length, offset);
      if (bytesRead !== length) throw new Error(`short read (${bytesRead} of ${length} bytes at ${offset})`);
    } catch (cause) {
      throw new ModelFileError(path, "Cannot read external data", { cause, details: (cause as Error).message });
    } finally {
      await fh?.close();
    }
    updates.push([t, buf]);
  }
  for (const [t, buf] of updates) {
    t.rawData = buf;
    t.externalData = [];
    t.dataLocation = onnx.TensorProto.DataLocation.DEFAULT;
  }
  return true;
}
