/**
 * The models a gateway offers: each from a model directory (`--model DIR`), known by its directory
 * name (what `GET /v1/models` lists and `model` names) or by its 0x model id. The gateway reads the
 * tokenizer and config only; the ONNX graph is loaded only for the local-verify policy.
 */
import { readFile } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { modelIdOf, loadModel, type LoadedModel, type LoadOptions } from "../model/index.js";
import { wrapTokenizer } from "../model/tokenizer.js";
import { type ChatError, type TokenizerSetup, tokenizerSetupOf } from "../model/chat.js";
import { GatewayConfigError, GatewayError } from "./errors.js";
import type { PromptModel } from "./prompt.js";

export interface GatewayModel {
  /** The name clients use (the directory name unless given). */
  name: string;
  /** 0x model id (lower case). */
  modelId: string;
  dir: string;
  prompt: PromptModel;
  /** max_position_embeddings, when config.json has it. */
  maxPositions: number | null;
  /** The loaded model (local-verify policy only). */
  loaded?: LoadedModel;
}

async function readJson(path: string, optional: boolean): Promise<unknown> {
  try {
    return JSON.parse(await readFile(path, "utf8")) as unknown;
  } catch (e) {
    if (optional && (e as { code?: string }).code === "ENOENT") return undefined;
    throw new GatewayConfigError(`cannot read ${path}`, { details: (e as Error).message, cause: e });
  }
}

/** Read a model directory for the gateway (module comment); `load` also loads the graph. */
export async function openGatewayModel(dir: string, o: { name?: string; load?: LoadOptions | false } = {}): Promise<GatewayModel> {
  const abs = resolve(dir);
  const modelId = (await modelIdOf(abs)).toLowerCase();
  const tokJson = await readJson(join(abs, "tokenizer.json"), false);
  const cfgRaw = (await readJson(join(abs, "tokenizer_config.json"), true)) ?? {};
  const hf = (await readJson(join(abs, "config.json"), false)) as { max_position_embeddings?: unknown; vocab_size?: unknown };
  const tokenizer = wrapTokenizer(tokJson as object, cfgRaw as object);
  let setup: TokenizerSetup;
  try {
    setup = tokenizerSetupOf(cfgRaw, tokenizer);
  } catch (e) {
    throw new GatewayConfigError(`${join(abs, "tokenizer_config.json")} is not a tokenizer config: ${(e as ChatError).details ?? (e as Error).message}`, { cause: e });
  }
  const model: GatewayModel = {
    name: o.name ?? basename(abs),
    modelId,
    dir: abs,
    prompt: {
      tokenizer,
      chatTemplate: setup.chatTemplate,
      bosToken: setup.bosToken,
      eosToken: setup.eosToken,
      vocabSize: typeof hf.vocab_size === "number" ? hf.vocab_size : null,
    },
    maxPositions: typeof hf.max_position_embeddings === "number" ? hf.max_position_embeddings : null,
  };
  if (o.load !== undefined && o.load !== false) {
    model.loaded = await loadModel(abs, o.load);
    if (model.loaded.modelId.toLowerCase() !== modelId) throw new GatewayConfigError(`${abs}: the loaded model's id differs from the directory's`);
  }
  return model;
}

/** The gateway's models by name and id. */
export class ModelCatalog {
  readonly models: readonly GatewayModel[];
  constructor(models: readonly GatewayModel[]) {
    const names = new Set<string>();
    for (const m of models) {
      if (names.has(m.name)) throw new GatewayConfigError(`two models are named ${m.name}: rename a directory`);
      names.add(m.name);
    }
    this.models = models;
  }
  /** The model a request names (404 model_not_found otherwise). */
  resolve(name: string): GatewayModel {
    const m = this.models.find((x) => x.name === name || x.modelId === name.toLowerCase());
    if (!m)
      throw new GatewayError(404, `The model '${name}' does not exist`, {
        type: "invalid_request_error",
        code: "model_not_found",
        param: "model",
        details: `this gateway serves ${this.models.map((x) => x.name).join(", ") || "no model"}`,
      });
    return m;
  }
  async close(): Promise<void> {
    for (const m of this.models) await m.loaded?.release().catch(() => {});
  }
}
