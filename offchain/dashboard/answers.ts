/**
 * A job's answer for its own user, from that user's receipt store (the directory where the user's
 * gateway or `poc job` keeps a copy of every receipt): the output tokens, and the text when the
 * model's tokenizer is found under `modelsDir`. Every other job, and a job whose receipt is not in
 * the store, is "private": the dashboard never fetches receipts from generators.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { getAddress } from "ethers";
import { decodeReceipt, ReceiptStore } from "../receipt/index.js";
import { wrapTokenizer, type TextTokenizer } from "../model/tokenizer.js";
import { ModelDirectory } from "../worker/models.js";
import type { AnswerSource } from "./indexer.js";
import type { JobAnswer } from "./snapshot.js";

export interface UserStoreOptions {
  /** The user whose answers may be shown. */
  user: string;
  /** Its receipt store directory. */
  storeDir: string;
  /** Model directories (each subdirectory one model): the tokenizer turns tokens into text. */
  modelsDir?: string;
}

async function tokenizerIn(dir: string): Promise<TextTokenizer> {
  const json = JSON.parse(await readFile(join(dir, "tokenizer.json"), "utf8")) as object;
  let cfg: object = {};
  try {
    cfg = JSON.parse(await readFile(join(dir, "tokenizer_config.json"), "utf8")) as object;
  } catch {
    // optional
  }
  return wrapTokenizer(json, cfg);
}

/** An AnswerSource over one user's receipt store (module comment). */
export function userStoreAnswers(o: UserStoreOptions): AnswerSource {
  const user = getAddress(o.user);
  const store = new ReceiptStore(o.storeDir);
  const models = o.modelsDir ? new ModelDirectory(o.modelsDir) : undefined;
  const tokenizers = new Map<string, Promise<TextTokenizer | undefined>>();
  const tokenizerFor = (modelId: string) => {
    let t = tokenizers.get(modelId);
    if (!t) {
      t = (async () => {
        const dir = (await models?.index())?.get(modelId.toLowerCase())?.dir;
        return dir ? tokenizerIn(dir) : undefined;
      })().catch(() => undefined);
      tokenizers.set(modelId, t);
    }
    return t;
  };
  return {
    async answer(job): Promise<JobAnswer> {
      if (getAddress(job.user) !== user || !(await store.has(job.receiptRoot))) return { visibility: "private" };
      const receipt = decodeReceipt(await store.get(job.receiptRoot));
      // the receipt names the model that produced it (the job's model, unless the generator cheated)
      const tok = await tokenizerFor(receipt.modelId);
      const text = tok?.decode(receipt.outputTokens);
      return { visibility: "shown", tokens: receipt.outputTokens, ...(text !== undefined ? { text } : {}) };
    },
  };
}
