/**
 * Bench section "calibration" (issue 9, finding 6): honest error for every generator/verifier pair of
 * graph optimisation levels (disabled, basic, extended, all), fp32 and fp16, with positions up to the
 * preset's context.
 *
 * For each precision it builds `BENCH_CALIB_PRESET` (default tiny, context 1024), generates one greedy
 * receipt per generator level filling the context (32-token prompt, sampler rate `BENCH_CALIB_RATE_PPM`,
 * default 1/16, 2 layers per position), and verifies it at every verifier level with every sample's
 * error collected. JSON: `pairs["fp32 basic→all"] = { agrees, maxKv, maxTop, kvThreshold, headroom,
 * byPosition: { "0-255": { maxKv, maxTop }, ... } }` (headroom: the base threshold over the larger of
 * maxKv and maxTop; byPosition: 256-token buckets of sample positions) and, per precision, the largest
 * error of all pairs and the smallest headroom.
 */
import { join, resolve } from "node:path";
import { buildModel, loadModel, type GraphOptimizationLevel, type LoadedModel } from "../../offchain/model/index.js";
import { generate } from "../../offchain/generate/index.js";
import { resolveTolerances, verifyReceipt } from "../../offchain/verify/index.js";
import type { BenchContext, BenchSection, BenchSectionResult, BenchTable } from "./types.js";

const LEVELS: GraphOptimizationLevel[] = ["disabled", "basic", "extended", "all"];
const BUCKET = 256;
const r4 = (x: number) => Number(x.toPrecision(4));

interface PairResult {
  agrees: boolean;
  maxKv: number;
  maxTop: number;
  kvThreshold: number;
  headroom: number;
  samples: number;
  byPosition: Record<string, { maxKv: number; maxTop: number }>;
}

export const calibrationSection: BenchSection = {
  name: "calibration",
  description: "honest error for generator/verifier pairs of graph optimisation levels, fp32 and fp16, positions up to the context",
  async run(ctx: BenchContext): Promise<BenchSectionResult> {
    const preset = process.env.BENCH_CALIB_PRESET === "small" ? "small" : "tiny";
    const ratePpm = Number(process.env.BENCH_CALIB_RATE_PPM ?? 62_500);
    const base = resolve(process.env.BENCH_MODELS ?? "bench-out/models");
    const pairs: Record<string, PairResult> = {};
    const perDtype: Record<
      string,
      { maxKv: number; maxTop: number; minHeadroom: number; falseAlarms: number; pairs: number; generatedTokens: number; pinnedFalseAlarms: number; pinnedMinHeadroom: number }
    > = {};
    for (const dtype of ["fp32", "fp16"] as const) {
      const dir = join(base, `calib-${preset}-${dtype}`);
      await buildModel(dir, { preset, dtype }, { force: true });
      const models: Partial<Record<GraphOptimizationLevel, LoadedModel>> = {};
      try {
        for (const l of LEVELS) models[l] = await loadModel(dir, { threads: 2, graphOptimizationLevel: l });
        const ctxLen = models.all!.config.maxPositions ?? 1024;
        const promptTokens = Array.from({ length: 32 }, (_, i) => 32 + ((i * 37 + 11) % 95));
        const maxTokens = ctxLen - promptTokens.length;
        const tol = resolveTolerances(dtype);
        const agg = { maxKv: 0, maxTop: 0, minHeadroom: Infinity, falseAlarms: 0, pairs: 0, generatedTokens: maxTokens, pinnedFalseAlarms: 0, pinnedMinHeadroom: Infinity };
        for (const g of LEVELS) {
          ctx.log(`${dtype}: generating ${maxTokens} tokens at graph opt ${g}`);
          const rec = await generate(models[g]!, {
            promptTokens,
            decoding: { seed: 1, temperature: 0, topK: 0, topP: 1, maxTokens },
            sampler: { seed: "0x" + "7e".repeat(32), ratePpm, layersPerToken: 2 },
          });
          for (const v of LEVELS) {
            // replayLevel "model": replay at v whatever the receipt declares, to measure every pair; an honest
            // verifier follows the receipt (the diagonal g → g, reported as "pinned" below).
            const verdict = await verifyReceipt(models[v]!, rec.receipt, { earlyStop: false, collectSamples: true, replayLevel: "model" });
            const ss = verdict.samples ?? [];
            const byPosition: PairResult["byPosition"] = {};
            let maxKv = 0;
            let maxTop = 0;
            for (const s of ss) {
              const e = Math.max(s.keyError, s.valueError);
              const lo = Math.floor(s.position / BUCKET) * BUCKET;
              const k = `${lo}-${lo + BUCKET - 1}`;
              const b = (byPosition[k] ??= { maxKv: 0, maxTop: 0 });
              if (s.top) {
                maxTop = Math.max(maxTop, e);
                b.maxTop = Math.max(b.maxTop, e);
              } else {
                maxKv = Math.max(maxKv, e);
                b.maxKv = Math.max(b.maxKv, e);
              }
            }
            for (const b of Object.values(byPosition)) {
              b.maxKv = r4(b.maxKv);
              b.maxTop = r4(b.maxTop);
            }
            const headroom = tol.kv / Math.max(maxKv, maxTop, 1e-30);
            pairs[`${dtype} ${g}→${v}`] = { agrees: verdict.agrees, maxKv: r4(maxKv), maxTop: r4(maxTop), kvThreshold: tol.kv, headroom: r4(headroom), samples: ss.length, byPosition };
            agg.maxKv = Math.max(agg.maxKv, maxKv);
            agg.maxTop = Math.max(agg.maxTop, maxTop);
            agg.minHeadroom = Math.min(agg.minHeadroom, headroom);
            agg.falseAlarms += verdict.agrees ? 0 : 1;
            agg.pairs++;
            if (g === v) {
              agg.pinnedFalseAlarms += verdict.agrees ? 0 : 1;
              agg.pinnedMinHeadroom = Math.min(agg.pinnedMinHeadroom, headroom);
            }
          }
        }
        perDtype[dtype] = { ...agg, maxKv: r4(agg.maxKv), maxTop: r4(agg.maxTop), minHeadroom: r4(agg.minHeadroom), pinnedMinHeadroom: r4(agg.pinnedMinHeadroom) };
      } finally {
        for (const m of Object.values(models)) await m!.release();
      }
    }
    const table: BenchTable = {
      title: `Honest error by graph optimisation pair (${preset}, prompt 32 + output to the context, rate ${ratePpm} ppm)`,
      columns: ["generator → verifier", "agrees", "max KV error", "max top error", "headroom"],
      rows: Object.entries(pairs).map(([k, p]) => [k, p.agrees ? "yes" : "NO", p.maxKv.toExponential(2), p.maxTop.toExponential(2), p.headroom]),
      notes: Object.entries(perDtype).map(
        ([d, a]) =>
          `${d}: ${a.pairs} pairs, ${a.falseAlarms} rejected; largest KV ${a.maxKv.toExponential(2)}, top ${a.maxTop.toExponential(2)}; smallest headroom ${a.minHeadroom}; ` +
          `pinned (the verifier replays at the level the receipt declares, the diagonal): ${a.pinnedFalseAlarms} of ${LEVELS.length} rejected, smallest headroom ${a.pinnedMinHeadroom}`
      ),
    };
    return { data: { preset, ratePpm, pairs, perDtype }, tables: [table] };
  },
};
