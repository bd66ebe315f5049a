/**
 * Which files make up a model (one variant of a model directory, see variants.ts), and the model id
 * over their content.
 *
 * Model files (paths relative to the directory, '/'-separated), each with a role:
 *   - `graph`: the ONNX graph that runs passes with a past (variant.graph), then `graph.data.<k>` for
 *     every external-data file it references, k = 0, 1, … in the order the graph first references them;
 *   - split layout only: `first_pass_graph` (decoder_model.onnx) and its `first_pass_graph.data.<k>`;
 *   - `config`: config.json (required);
 *   - `tokenizer`: tokenizer.json (required);
 *   - `tokenizer_config`, `special_tokens_map`: those files when present.
 * Other files (README, generation_config.json, other variants, the hash cache) are not part of the model.
 *
 * Model id (MODEL_ID_SCHEME "poc-model-id-v2"): sha256 over the UTF-8 text
 *     "poc-model-id-v2\n" + for each model file, in the role order above:  role + "\n" + sha256hex(content) + "\n"
 * written as 0x + 64 lowercase hex digits, where `content` is the file's bytes, except for `config`:
 * there it is the canonical JSON of config.json (keys sorted, no whitespace) without the keys that do
 * not change what the model computes (CONFIG_KEYS_NOT_HASHED). No path or file name enters the id, so
 * identical bytes give the same id in `model.onnx`, `onnx/model.onnx` or any directory, on any machine;
 * changing a graph, a weight file, the tokenizer or a behavioural config field changes it. (Names of
 * external-data files are written inside the graph, so they are covered through the graph's bytes.)
 */
import { createHash } from "node:crypto";
import { readdir, readFile, stat } from "node:fs/promises";
import { isAbsolute, join, normalize, sep } from "node:path";
import { ModelConfigError, ModelFileError } from "./errors.js";
import { hashFiles, type HashOptions } from "./hash-cache.js";
import { onnx, type OnnxTypes } from "./onnx-proto.js";
import { listVariants, selectVariant, variantOfFile, type ModelVariant } from "./variants.js";

export const MODEL_ID_SCHEME = "poc-model-id-v2";
export const OPTIONAL_TOKENIZER_FILES = ["tokenizer_config.json", "special_tokens_map.json"] as const;
/** config.json keys left out of the id: provenance only, nothing the loader or the graph reads. */
export const CONFIG_KEYS_NOT_HASHED = ["_name_or_path", "_commit_hash", "transformers_version", "poc_builder"] as const;

export type Hex32 = `0x${string}`;

export interface ModelFileEntry {
  /** Role in the id (see the module comment). */
  role: string;
  path: string;
  bytes: number;
  /** sha256 hex of what the id hashes for this role (the file's bytes; canonical JSON for config). */
  sha256: string;
}

export interface ResolvedModelFiles {
  dir: string;
  variant: ModelVariant;
  /** Relative path of the ONNX graph with past inputs (variant.graph). */
  onnxFile: string;
  /** Relative paths of external-data files referenced by the graph(s). */
  externalData: string[];
  /** Every model file with its role, in the id's order. */
  roles: { role: string; path: string }[];
  /** All model file paths. */
  files: string[];
}

/** Whether `p` is a regular file (false when it does not exist). */
export async function isFile(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isFile();
  } catch {
    return false;
  }
}

export interface ResolveOptions {
  /** Variant name (fp32, fp16, q4, int8, …); required when the directory holds several. */
  variant?: string;
  /** An explicit graph file instead of a variant. */
  modelFile?: string;
  /** The already decoded graph of `variant.graph` (saves reading it again). */
  graph?: OnnxTypes.IModelProto;
}

/** Finds one variant's files in `dir`; reads its ONNX graph(s) to list the external data. */
export async function resolveModelFiles(dir: string, options: ResolveOptions = {}): Promise<ResolvedModelFiles> {
  let st;
  try {
    st = await stat(dir);
  } catch (cause) {
    throw new ModelFileError(dir, "Model directory not found", { cause });
  }
  if (!st.isDirectory()) throw new ModelFileError(dir, "Not a model directory");

  let variant: ModelVariant;
  if (options.modelFile !== undefined) {
    const f = checkRelative(dir, options.modelFile);
    if (!(await isFile(join(dir, f)))) throw new ModelFileError(join(dir, f), "ONNX model file not found");
    const slash = f.lastIndexOf("/");
    const folder = slash >= 0 ? f.slice(0, slash + 1) : "";
    const siblings = (await readdir(join(dir, folder))).map((n) => folder + n);
    variant = variantOfFile(f, siblings);
  } else variant = selectVariant(dir, await listVariants(dir), options.variant);
  return resolveVariantFiles(dir, variant, options.graph);
}

/** The files of a given variant. */
export async function resolveVariantFiles(dir: string, variant: ModelVariant, graph?: OnnxTypes.IModelProto): Promise<ResolvedModelFiles> {
  for (const f of ["config.json", "tokenizer.json"])
    if (!(await isFile(join(dir, f)))) throw new ModelFileError(join(dir, f), `Missing ${f}`);
  const roles: { role: string; path: string }[] = [];
  const externalData: string[] = [];
  const addGraph = async (role: string, file: string, decoded?: OnnxTypes.IModelProto) => {
    roles.push({ role, path: file });
    const g = decoded ?? (await readOnnx(join(dir, file)));
    const folder = file.includes("/") ? file.slice(0, file.lastIndexOf("/") + 1) : "";
    const locs = [...new Set(externalLocations(g))].map((loc) => checkRelative(dir, folder + loc));
    locs.forEach((p, k) => roles.push({ role: `${role}.data.${k}`, path: p }));
    for (const p of locs) {
      if (!(await isFile(join(dir, p)))) throw new ModelFileError(join(dir, p), "External data file of the ONNX model not found");
      if (!externalData.includes(p)) externalData.push(p);
    }
  };
  await addGraph("graph", variant.graph, graph);
  if (variant.firstPassGraph) await addGraph("first_pass_graph", variant.firstPassGraph);
  roles.push({ role: "config", path: "config.json" }, { role: "tokenizer", path: "tokenizer.json" });
  for (const f of OPTIONAL_TOKENIZER_FILES) if (await isFile(join(dir, f))) roles.push({ role: f.replace(/\.json$/, ""), path: f });
  return { dir, variant, onnxFile: variant.graph, externalData, roles, files: [...new Set(roles.map((r) => r.path))] };
}

export async function readOnnx(path: string): Promise<OnnxTypes.IModelProto> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (cause) {
    throw new ModelFileError(path, "Cannot read ONNX model", { cause });
  }
  return decodeOnnx(path, bytes);
}

export function decodeOnnx(path: string, bytes: Uint8Array): OnnxTypes.ModelProto {
  try {
    const m = onnx.ModelProto.decode(bytes);
    if (!m.graph) throw new Error("the message has no graph");
    return m;
  } catch (cause) {
    throw new ModelFileError(path, "Corrupt ONNX model (not a valid ModelProto)", { cause, details: (cause as Error).message });
  }
}

/** Every external-data location referenced by initializers of the graph and its subgraphs, in order. */
export function externalLocations(model: OnnxTypes.IModelProto): string[] {
  const out: string[] = [];
  const visitTensor = (t: OnnxTypes.ITensorProto | null | undefined) => {
    if (!t || t.dataLocation !== onnx.TensorProto.DataLocation.EXTERNAL) return;
    const loc = t.externalData?.find((e) => e.key === "location")?.value;
    if (loc) out.push(loc);
  };
  const visitGraph = (g: OnnxTypes.IGraphProto | null | undefined) => {
    if (!g) return;
    for (const t of g.initializer ?? []) visitTensor(t);
    for (const n of g.node ?? [])
      for (const a of n.attribute ?? []) {
        visitTensor(a.t);
        for (const t of a.tensors ?? []) visitTensor(t);
        visitGraph(a.g);
        for (const sg of a.graphs ?? []) visitGraph(sg);
      }
  };
  visitGraph(model.graph);
  return out;
}

function checkRelative(dir: string, rel: string): string {
  const n = normalize(rel).split(sep).join("/");
  if (isAbsolute(rel) || n.startsWith("../") || n === "..")
    throw new ModelFileError(join(dir, rel), "Model file path must stay inside the model directory");
  return n;
}

/** Canonical JSON: object keys sorted (UTF-16 order), no whitespace; arrays keep their order. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(",")}]`;
  if (v !== null && typeof v === "object")
    return `{${Object.keys(v)
      .sort()
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  return JSON.stringify(v);
}

/** sha256 hex of the config's contribution to the id. */
export async function configDigest(path: string): Promise<{ sha256: string; bytes: number }> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (cause) {
    throw new ModelFileError(path, "Cannot read file", { cause });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (cause) {
    throw new ModelFileError(path, "Invalid JSON", { cause, details: (cause as Error).message });
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new ModelConfigError(`${path} must hold a JSON object`);
  const kept: Record<string, unknown> = { ...(raw as Record<string, unknown>) };
  for (const k of CONFIG_KEYS_NOT_HASHED) delete kept[k];
  return { sha256: createHash("sha256").update(canonicalJson(kept)).digest("hex"), bytes: Buffer.byteLength(text) };
}

/** The model id of resolved files (see the module comment); file hashes come from the cache where valid. */
export async function computeModelId(
  dir: string,
  resolved: Pick<ResolvedModelFiles, "roles">,
  options: HashOptions = {},
): Promise<{ modelId: Hex32; entries: ModelFileEntry[] }> {
  const raw = resolved.roles.filter((r) => r.role !== "config").map((r) => r.path);
  const hashes = new Map((await hashFiles(dir, raw, options)).map((h) => [h.path, h]));
  const entries: ModelFileEntry[] = [];
  for (const r of resolved.roles) {
    const h = r.role === "config" ? await configDigest(join(dir, r.path)) : hashes.get(r.path)!;
    entries.push({ role: r.role, path: r.path, bytes: h.bytes, sha256: h.sha256 });
  }
  return { modelId: modelIdFromEntries(entries), entries };
}

/** The model id from (role, sha256 hex) pairs, in the id's order. */
export function modelIdFromEntries(entries: readonly { role: string; sha256: string }[]): Hex32 {
  const h = createHash("sha256").update(`${MODEL_ID_SCHEME}\n`);
  for (const e of entries) h.update(`${e.role}\n${e.sha256}\n`);
  return `0x${h.digest("hex")}`;
}

/** Resolves one variant's files in `dir` and returns its model id. */
export async function modelIdOf(dir: string, options: ResolveOptions & HashOptions = {}): Promise<Hex32> {
  const r = await resolveModelFiles(dir, options);
  return (await computeModelId(dir, r, options)).modelId;
}

/** The model id of every variant in `dir` (an empty list when it holds no model). */
export async function modelIdsOf(dir: string, options: HashOptions = {}): Promise<{ variant: ModelVariant; modelId: Hex32 }[]> {
  const out: { variant: ModelVariant; modelId: Hex32 }[] = [];
  for (const v of await listVariants(dir)) {
    const r = await resolveVariantFiles(dir, v);
    out.push({ variant: v, modelId: (await computeModelId(dir, r, options)).modelId });
  }
  return out;
}
