/**
 * An honest generator that serves requests in batches (the suite's `batch-of-2` variant, attacks.ts):
 * every forward pass runs the job's sequence as row 0 of a batch of two, beside a companion sequence
 * of the same length (another request decoded in the same passes), and the job's row is returned.
 * The receipt is then what a batching generator commits; the verifier replays it alone (batch 1).
 * The companion's tokens are the job's mapped by `t → (7t + 3) mod vocab`, so it is a different text
 * of the same length at every pass, with its own KV cache kept here.
 */
import type { ForwardInput, ForwardOutput, KvCache, LoadedModel } from "../model/index.js";

export function batchedModel(model: LoadedModel): LoadedModel {
  let companion: KvCache | null = null;
  const vocab = model.config.vocabSize;
  const w = Object.create(model) as LoadedModel;
  Object.defineProperty(w, "forward", {
    value: async (input: ForwardInput): Promise<ForwardOutput> => {
      if (input.past === null) companion = null;
      if ((companion?.length ?? 0) !== (input.past?.length ?? 0))
        throw new Error("batchedModel: the job's passes must follow one another (one generation at a time per wrapper)");
      const other: ForwardInput = { tokens: input.tokens.map((t) => (7 * t + 3) % vocab), past: companion, ...(input.fetchLayers !== undefined ? { fetchLayers: input.fetchLayers } : {}) };
      const [ours, theirs] = await model.forwardBatch([input, other]);
      companion = theirs!.present;
      return ours!;
    },
  });
  return w;
}
