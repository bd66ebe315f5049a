/**
 * `replayFingerprints`: one prefill replay of a receipt (prompt ++ output[0 .. O−2], in chunks, like
 * verifyReceipt's replay) and the fingerprint of each seed from its final present cache. Used for the
 * answers of the generator and of earlier verifiers, whose seeds come after their own commitments.
 */
import { prefillChunked, type LoadedModel } from "../model/index.js";
import { parseReceipt, type Receipt } from "../receipt/index.js";
import type { Hex } from "../sampling/bytes.js";
import { DEFAULT_REPLAY_CHUNK, checkReceiptStructure } from "../verify/verify.js";
import { ModelMismatchError, VerifyAbortedError } from "../verify/errors.js";
import { FingerprintError } from "./errors.js";
import { fingerprintFromCache } from "./compute.js";
import { checkSeed } from "./pairs.js";

export interface ReplayFingerprintOptions {
  /** Tokens per forward pass (default verify.ts DEFAULT_REPLAY_CHUNK). */
  chunkSize?: number;
  /** Cancels between forward passes (VerifyAbortedError). */
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}

/**
 * One fingerprint per seed (same order) of this model's replay of `input`. Throws ModelMismatchError
 * for another model's receipt, FingerprintError for a bad seed, a malformed receipt (verify.ts
 * checkReceiptStructure: nothing to replay) or one with no KV position.
 */
export async function replayFingerprints(given: LoadedModel, input: Receipt, seeds: readonly bigint[], opts: ReplayFingerprintOptions = {}): Promise<Hex[]> {
  const receipt = parseReceipt(input);
  if (receipt.modelId.toLowerCase() !== given.modelId.toLowerCase()) throw new ModelMismatchError(receipt.modelId, given.modelId);
  // Like verifyReceipt: at the graph optimisation level the receipt declares (docs/PROTOCOL.md "Pinned replay level").
  const model = await given.atGraphLevel(receipt.graphOptimizationLevel ?? "all");
  for (const s of seeds) checkSeed(s);
  const problem = checkReceiptStructure(model, receipt);
  if (problem) throw new FingerprintError("malformed receipt: no replay to fingerprint", { details: problem.message });
  const P = receipt.promptTokens.length;
  const O = receipt.outputTokens.length;
  const feed = [...receipt.promptTokens, ...receipt.outputTokens].slice(0, P + O - 1);
  if (feed.length < 1) throw new FingerprintError("the receipt has no KV position to fingerprint", { details: `${P} prompt + ${O} output tokens` });
  if (opts.signal?.aborted) throw new VerifyAbortedError("fingerprint replay cancelled", { cause: opts.signal.reason });
  const out = await prefillChunked(model, feed, {
    chunkSize: opts.chunkSize ?? DEFAULT_REPLAY_CHUNK,
    keepLogits: false,
    promptLength: P, // a stepwise model replays in the generator's passes
    onProgress: (d, t) => {
      if (opts.signal?.aborted) throw new VerifyAbortedError("fingerprint replay cancelled", { cause: opts.signal.reason });
      opts.onProgress?.(d, t);
    },
  });
  return seeds.map((s) => fingerprintFromCache(out.present, s, P, O));
}
