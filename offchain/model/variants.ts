/**
 * The ONNX graphs of a model directory, as the exports of Hugging Face Optimum and transformers.js
 * lay them out, grouped into variants (one precision each) and picked by name.
 *
 * Looked for in the directory itself and in `onnx/`: `<stem>[_<variant>].onnx` with stem one of
 *   - `model`                      one decoder-with-past graph (the builder's and transformers.js' layout);
 *   - `decoder_model_merged`       the merged Optimum graph (past inputs, optional `use_cache_branch`);
 *   - `decoder_model` + `decoder_with_past_model`   the older split Optimum pair: the first runs the
 *     first pass (no past inputs), the second every pass with a past;
 *   - `decoder_with_past_model` alone (it runs the first pass too, with an empty past).
 * The suffix names the variant: none = "fp32", else the suffix itself (`fp16`, `q4`, `q4f16`, `int8`,
 * `uint8`, `quantized`, `bnb4`, …). In one folder, `model` is preferred over `decoder_model_merged`
 * over the split pair; the directory itself over `onnx/` for the same variant.
 */
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { ModelFileError } from "./errors.js";

export type GraphLayout = "model" | "merged" | "split" | "with-past";

export interface ModelVariant {
  /** "fp32", "fp16", "q4", "q4f16", "int8", "quantized", … (the file suffix; none = "fp32"). */
  name: string;
  layout: GraphLayout;
  /** The graph that runs passes with a past (relative path, '/'-separated). */
  graph: string;
  /** Split layout: the graph of the first pass (no past inputs). */
  firstPassGraph?: string;
}

const STEMS = ["model", "decoder_model_merged", "decoder_model", "decoder_with_past_model"] as const;
const FILE_RE = /^(model|decoder_model_merged|decoder_with_past_model|decoder_model)(?:_([A-Za-z0-9]+))?\.onnx$/;

/** Names that select the same files: `--variant int8` also finds `model_quantized.onnx`, and so on. */
const ALIASES: Record<string, readonly string[]> = {
  fp32: ["fp32"],
  int8: ["int8", "quantized", "q8"],
  quantized: ["quantized", "int8", "q8"],
  q8: ["q8", "quantized", "int8"],
};

async function filesIn(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir, { withFileTypes: true })).filter((e) => e.isFile() || e.isSymbolicLink()).map((e) => e.name);
  } catch {
    return [];
  }
}

/** Every variant in `dir`, in a stable order (fp32 first, then by name). */
export async function listVariants(dir: string): Promise<ModelVariant[]> {
  const byName = new Map<string, ModelVariant>();
  for (const base of ["", "onnx/"]) {
    const groups = new Map<string, Set<string>>(); // variant name -> stems present
    for (const f of await filesIn(join(dir, base))) {
      const m = FILE_RE.exec(f);
      if (!m) continue;
      // "decoder_model_merged" would also match stem "decoder_model" + suffix "merged": the regex tries the longer stems first
      const name = m[2] ?? "fp32";
      const set = groups.get(name) ?? new Set<string>();
      set.add(m[1]!);
      groups.set(name, set);
    }
    for (const [name, stems] of groups) {
      if (byName.has(name)) continue; // the directory itself wins over onnx/
      const file = (stem: (typeof STEMS)[number]) => `${base}${stem}${name === "fp32" ? "" : `_${name}`}.onnx`;
      let v: ModelVariant | null = null;
      if (stems.has("model")) v = { name, layout: "model", graph: file("model") };
      else if (stems.has("decoder_model_merged")) v = { name, layout: "merged", graph: file("decoder_model_merged") };
      else if (stems.has("decoder_with_past_model") && stems.has("decoder_model"))
        v = { name, layout: "split", graph: file("decoder_with_past_model"), firstPassGraph: file("decoder_model") };
      else if (stems.has("decoder_with_past_model")) v = { name, layout: "with-past", graph: file("decoder_with_past_model") };
      if (v) byName.set(name, v);
    }
  }
  return [...byName.values()].sort((a, b) => (a.name === "fp32" ? -1 : b.name === "fp32" ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export function describeVariant(v: ModelVariant): string {
  return `${v.name} (${v.firstPassGraph ? `${v.firstPassGraph} + ${v.graph}` : v.graph})`;
}

/**
 * The variant to use: `requested` (by name or alias), else the only one. Several and none requested,
 * or a name that is not there: ModelFileError listing what is there.
 */
export function selectVariant(dir: string, variants: readonly ModelVariant[], requested?: string): ModelVariant {
  const list = variants.map(describeVariant).join(", ");
  if (variants.length === 0)
    throw new ModelFileError(dir, "No ONNX model in directory", {
      details: "looked for model[_<variant>].onnx, decoder_model_merged[_<variant>].onnx, decoder_model + decoder_with_past_model[_<variant>].onnx, here and in onnx/",
    });
  if (requested === undefined) {
    if (variants.length === 1) return variants[0]!;
    throw new ModelFileError(dir, `Several ONNX variants in the directory (${variants.map((v) => v.name).join(", ")}): choose one with --variant`, {
      details: list,
    });
  }
  for (const name of ALIASES[requested] ?? [requested]) {
    const hit = variants.find((v) => v.name === name);
    if (hit) return hit;
  }
  throw new ModelFileError(dir, `No ONNX variant "${requested}" in the directory`, { details: `variants here: ${list}` });
}

/** The variant of an explicitly named graph file (LoadOptions.modelFile). */
export function variantOfFile(file: string, siblings: readonly string[]): ModelVariant {
  const slash = file.lastIndexOf("/");
  const base = slash >= 0 ? file.slice(0, slash + 1) : "";
  const m = FILE_RE.exec(file.slice(slash + 1));
  const name = m?.[2] ?? "fp32";
  if (m?.[1] === "decoder_model") {
    const withPast = `${base}decoder_with_past_model${m[2] ? `_${m[2]}` : ""}.onnx`;
    if (siblings.includes(withPast)) return { name, layout: "split", graph: withPast, firstPassGraph: file };
  }
  const layout: GraphLayout = m?.[1] === "decoder_model_merged" ? "merged" : m?.[1] === "decoder_with_past_model" ? "with-past" : "model";
  return { name, layout, graph: file };
}
