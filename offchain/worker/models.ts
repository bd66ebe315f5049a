/**
 * Models by id for the workers: a directory of model directories (each in an Optimum/transformers.js
 * layout, see offchain/model), indexed by model id (`modelIdsOf`, a hash of the content; every
 * variant of a directory — fp32, fp16, q4, … — is a model of its own) so that a job that names a
 * model id finds its files. The index is built on first use and rebuilt when an id is not found (a
 * model added while the worker runs); loaded models are kept (at most `maxLoaded`, least recently
 * used released first).
 *
 * `dir` itself may also be one model directory (it is indexed too).
 */
import { readdir, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { PocError } from "../errors.js";
import { loadModel, modelIdsOf, type LoadedModel, type LoadOptions } from "../model/index.js";

export class ModelNotAvailableError extends PocError {
  override name = "ModelNotAvailableError";
}

export interface ModelSource {
  /** The loaded model with this id; ModelNotAvailableError when there is none. */
  get(modelId: string): Promise<LoadedModel>;
  /** The ids of every model this source can load (lower-case hex). */
  list(): Promise<string[]>;
  /** Release every loaded model. */
  close(): Promise<void>;
}

async function isDir(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isDirectory();
  } catch {
    return false;
  }
}

export class ModelDirectory implements ModelSource {
  readonly dir: string;
  readonly #load: LoadOptions;
  readonly #maxLoaded: number;
  #index: Map<string, { dir: string; variant: string }> | null = null;
  readonly #loaded = new Map<string, Promise<LoadedModel>>();

  constructor(dir: string, options: { load?: LoadOptions; maxLoaded?: number } = {}) {
    this.dir = resolve(dir);
    this.#load = options.load ?? {};
    this.#maxLoaded = options.maxLoaded ?? 2;
  }

  /** model id → directory and variant, for every model found (a directory that is not a model is skipped). */
  async index(refresh = false): Promise<Map<string, { dir: string; variant: string }>> {
    if (this.#index && !refresh) return this.#index;
    if (!(await isDir(this.dir))) throw new ModelNotAvailableError(`models directory ${this.dir} does not exist`);
    const out = new Map<string, { dir: string; variant: string }>();
    const candidates = [this.dir];
    for (const e of await readdir(this.dir, { withFileTypes: true })) if (e.isDirectory()) candidates.push(join(this.dir, e.name));
    for (const d of candidates) {
      try {
        for (const { modelId, variant } of await modelIdsOf(d)) out.set(modelId.toLowerCase(), { dir: d, variant: variant.name });
      } catch {
        // not a model directory
      }
    }
    this.#index = out;
    return out;
  }

  async list(): Promise<string[]> {
    try {
      return [...(await this.index(true)).keys()].sort();
    } catch (e) {
      if (e instanceof ModelNotAvailableError) return [];
      throw e;
    }
  }

  /** The directory of model `modelId`, or undefined. */
  async dirOf(modelId: string): Promise<string | undefined> {
    return (await this.#find(modelId))?.dir;
  }

  async #find(modelId: string): Promise<{ dir: string; variant: string } | undefined> {
    const id = modelId.toLowerCase();
    return (await this.index()).get(id) ?? (await this.index(true)).get(id);
  }

  async get(modelId: string): Promise<LoadedModel> {
    const id = modelId.toLowerCase();
    const hit = this.#loaded.get(id);
    if (hit) {
      this.#loaded.delete(id);
      this.#loaded.set(id, hit); // most recently used last
      return hit;
    }
    const found = await this.#find(id);
    if (!found) {
      const known = [...(await this.index()).keys()];
      throw new ModelNotAvailableError(`no model with id ${id} in ${this.dir}`, {
        details: known.length ? `models here: ${known.join(", ")}` : "no model directories found there",
      });
    }
    const p = loadModel(found.dir, { ...this.#load, variant: found.variant });
    this.#loaded.set(id, p);
    p.catch(() => this.#loaded.delete(id));
    while (this.#loaded.size > this.#maxLoaded) {
      const [oldId, old] = this.#loaded.entries().next().value as [string, Promise<LoadedModel>];
      this.#loaded.delete(oldId);
      old.then((m) => m.release()).catch(() => {});
    }
    return p;
  }

  async close(): Promise<void> {
    const all = [...this.#loaded.values()];
    this.#loaded.clear();
    await Promise.all(all.map((p) => p.then((m) => m.release()).catch(() => {})));
  }
}

/** A fixed set of already loaded models (the caller keeps ownership: close() releases nothing). */
export class LoadedModels implements ModelSource {
  readonly #byId = new Map<string, LoadedModel>();
  constructor(models: readonly LoadedModel[]) {
    for (const m of models) this.#byId.set(m.modelId.toLowerCase(), m);
  }
  async get(modelId: string): Promise<LoadedModel> {
    const m = this.#byId.get(modelId.toLowerCase());
    if (!m) throw new ModelNotAvailableError(`no model with id ${modelId.toLowerCase()} is loaded`, { details: `loaded: ${[...this.#byId.keys()].join(", ")}` });
    return m;
  }
  async list(): Promise<string[]> {
    return [...this.#byId.keys()].sort();
  }
  async close(): Promise<void> {}
}
