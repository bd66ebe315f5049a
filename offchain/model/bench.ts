/**
 * Forward-pass timings of a model on this machine: prefill, per-token decode step, and the
 * `fetchLayers` early stop (pruned graph) against the full pass.
 */
import { loadModel, type ExecutionProvider, type LoadOptions } from "./load.js";

export interface BenchOptions extends Pick<LoadOptions, "variant" | "graphOptimizationLevel" | "contextLength"> {
  provider?: ExecutionProvider;
  threads?: number;
  prefillTokens?: number;
  decodeSteps?: number;
  repeats?: number;
  /** fetchLayers values to time (default 1, layers/2, layers). */
  fetchLayers?: number[];
}

export interface BenchResult {
  modelId: string;
  variant: string;
  graphOptimizationLevel: string;
  notes: readonly string[];
  provider: ExecutionProvider;
  threads: number | null;
  loadMs: number;
  prefillTokens: number;
  /** Median over repeats. */
  prefillMs: number;
  decodeSteps: number;
  /** Median per decode step (one token, past = prefillTokens..). */
  decodeStepMs: number;
  /** Prefill with fetchLayers = n (pruned graph, no logits): first call incl. building the pruned session, then the median. */
  fetch: { layers: number; firstMs: number; prefillMs: number }[];
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function benchModel(dir: string, o: BenchOptions = {}): Promise<BenchResult> {
  const t0 = performance.now();
  const m = await loadModel(dir, {
    provider: o.provider ?? "cpu",
    ...(o.threads ? { threads: o.threads } : {}),
    ...(o.variant !== undefined ? { variant: o.variant } : {}),
    ...(o.graphOptimizationLevel !== undefined ? { graphOptimizationLevel: o.graphOptimizationLevel } : {}),
    ...(o.contextLength !== undefined ? { contextLength: o.contextLength } : {}),
  });
  const loadMs = performance.now() - t0;
  try {
    const n = o.prefillTokens ?? 256;
    const steps = o.decodeSteps ?? 32;
    const reps = o.repeats ?? 3;
    // a deterministic token sequence over the byte range
    const tokens = Array.from({ length: n }, (_, i) => (i * 37 + 11) % 256);
    await m.forward({ tokens: tokens.slice(0, 8), past: null }); // warm-up
    const pre: number[] = [];
    let past = null;
    for (let r = 0; r < reps; r++) {
      const t = performance.now();
      past = (await m.forward({ tokens, past: null })).present;
      pre.push(performance.now() - t);
    }
    const dec: number[] = [];
    for (let s = 0; s < steps; s++) {
      const t = performance.now();
      past = (await m.forward({ tokens: [(s * 13) % 256], past })).present;
      dec.push(performance.now() - t);
    }
    const fetch: BenchResult["fetch"] = [];
    const L = m.config.layers;
    for (const layers of o.fetchLayers ?? [...new Set([1, Math.max(1, Math.floor(L / 2)), L])]) {
      let t = performance.now();
      await m.forward({ tokens, past: null, fetchLayers: layers });
      const firstMs = performance.now() - t;
      const fl: number[] = [];
      for (let r = 0; r < reps; r++) {
        t = performance.now();
        await m.forward({ tokens, past: null, fetchLayers: layers });
        fl.push(performance.now() - t);
      }
      fetch.push({ layers, firstMs, prefillMs: median(fl) });
    }
    return {
      modelId: m.modelId,
      variant: m.variant.name,
      graphOptimizationLevel: m.graphOptimizationLevel,
      notes: m.notes,
      provider: m.provider,
      threads: m.threads,
      loadMs,
      prefillTokens: n,
      prefillMs: median(pre),
      decodeSteps: steps,
      decodeStepMs: median(dec),
      fetch,
    };
  } finally {
    await m.release();
  }
}
