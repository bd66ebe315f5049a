/**
 * Which files make up a model directory, and the model id over them.
 *
 * Model files (all paths relative to the directory, '/'-separated):
 *   - the ONNX graph: `modelFile` if given, else the first of MODEL_FILE_CANDIDATES that exists;
 *   - every external-data file the graph references (initializers with data_location = EXTERNAL);
 *   - `config.json`, `tokenizer.json` (both required);
 *   - those of `tokenizer_config.json`, `special_tokens_map.json` that exist.
 * Other files (README, generation_config.json, other ONNX variants) are not part of the model.
 *
 * Model id (MODEL_ID_SCHEME): sha256 over the UTF-8 text
 *     "poc-model-id-v1\n" + for each model file, sorted by path (byte order):  path + "\n" + sha256hex(content) + "\n"
 * written as 0x + 64 lowercase hex digits. The same files give the same id, whatever the directory
 * name, file times or machine; changing, adding or removing any model file changes it.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { isAbsolute, join, normalize, sep } from "node:path";
import { ModelFileError } from "./errors.js";
import { onnx, type OnnxTypes } from "./onnx-proto.js";

export const MODEL_ID_SCHEME = "poc-model-id-v1";
export const MODEL_FILE_CANDIDATES = [
  "model.onnx",
  "decoder_model_merged.onnx",
  "onnx/model.onnx",
  "onnx/decoder_model_merged.onnx",
] as const;
export const OPTIONAL_TOKENIZER_FILES = ["tokenizer_config.json", "special_tokens_map.json"] as const;

export type Hex32 = `0x${string}`;

export interface ModelFileEntry {
  path: string;
  bytes: number;
  sha256: string;
}

export interface ResolvedModelFiles {
  dir: string;
  /** Relative path of the ONNX graph. */
  onnxFile: string;
  /** Relative paths of external-data files referenced by the graph. */
  externalData: string[];
  /** All model files (the id's preimage), sorted. */
  files: string[];
}

async function isFile(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isFile();
  } catch {
    return false;
  }
}

/** Finds the model's files in `dir`; reads the ONNX graph to list its external data (or takes `graph`). */
export async function resolveModelFiles(
  dir: string,
  options: { modelFile?: string; graph?: OnnxTypes.IModelProto } = {},
): Promise<ResolvedModelFiles> {
  let st;
  try {
    st = await stat(dir);
  } catch (cause) {
    throw new ModelFileError(dir, "Model directory not found", { cause });
  }
  if (!st.isDirectory()) throw new ModelFileError(dir, "Not a model directory");

  let onnxFile: string | undefined;
  if (options.modelFile !== undefined) {
    onnxFile = checkRelative(dir, options.modelFile);
    if (!(await isFile(join(dir, onnxFile)))) throw new ModelFileError(join(dir, onnxFile), "ONNX model file not found");
  } else {
    for (const c of MODEL_FILE_CANDIDATES) if (await isFile(join(dir, c))) { onnxFile = c; break; }
    if (onnxFile === undefined)
      throw new ModelFileError(dir, "No ONNX model in directory", { details: `looked for ${MODEL_FILE_CANDIDATES.join(", ")}` });
  }
  for (const f of ["config.json", "tokenizer.json"])
    if (!(await isFile(join(dir, f)))) throw new ModelFileError(join(dir, f), `Missing ${f}`);

  const graph = options.graph ?? (await readOnnx(join(dir, onnxFile)));
  const onnxDir = onnxFile.includes("/") ? onnxFile.slice(0, onnxFile.lastIndexOf("/") + 1) : "";
  const externalData = [...new Set(externalLocations(graph))].map((loc) => checkRelative(dir, onnxDir + loc));
  for (const f of externalData)
    if (!(await isFile(join(dir, f)))) throw new ModelFileError(join(dir, f), "External data file of the ONNX model not found");

  const files = [onnxFile, ...externalData, "config.json", "tokenizer.json"];
  for (const f of OPTIONAL_TOKENIZER_FILES) if (await isFile(join(dir, f))) files.push(f);
  files.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  return { dir, onnxFile, externalData, files: [...new Set(files)] };
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

/** Every external-data location referenced by initializers of the graph and its subgraphs. */
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

export async function sha256File(path: string): Promise<{ sha256: string; bytes: number }> {
  const h = createHash("sha256");
  let bytes = 0;
  try {
    for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
      h.update(chunk as Buffer);
      bytes += (chunk as Buffer).length;
    }
  } catch (cause) {
    throw new ModelFileError(path, "Cannot read model file", { cause });
  }
  return { sha256: h.digest("hex"), bytes };
}

/** The model id over the given relative paths (see the module comment for the exact construction). */
export async function computeModelId(dir: string, files: readonly string[]): Promise<{ modelId: Hex32; entries: ModelFileEntry[] }> {
  const sorted = [...files].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const entries: ModelFileEntry[] = [];
  for (const path of sorted) entries.push({ path, ...(await sha256File(join(dir, path))) });
  return { modelId: modelIdFromEntries(entries), entries };
}

/** The model id from (path, sha256 hex) pairs, in any order. */
export function modelIdFromEntries(entries: readonly { path: string; sha256: string }[]): Hex32 {
  const sorted = [...entries].sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
  const h = createHash("sha256").update(`${MODEL_ID_SCHEME}\n`);
  for (const e of sorted) h.update(`${e.path}\n${e.sha256}\n`);
  return `0x${h.digest("hex")}`;
}

/** Resolves the model's files in `dir` and hashes them. */
export async function modelIdOf(dir: string, options: { modelFile?: string } = {}): Promise<Hex32> {
  const r = await resolveModelFiles(dir, options);
  return (await computeModelId(dir, r.files)).modelId;
}
