/**
 * Bench section "token-detection" (issue 9, findings 1 and 2): the adaptive token-check attacks and
 * honest runs of offchain/verify/attacks-tokens.ts on the tiny and small presets, fp32 and fp16, plus
 * the cost of the draw and the check on a 151,936-token vocabulary (draw-cost.ts).
 *
 * Environment: BENCH_TOKEN_PRESETS (default "tiny,small"), BENCH_TOKEN_TOKENS (output tokens per
 * receipt, default 256), BENCH_TOKEN_RUNS (receipts per attack variant, default 2), BENCH_MODELS
 * (where the models are built, default bench-out/models).
 *
 * JSON: `attacks[name]` and `honest[name]` = { runs, failures, minSeparation } (failures: attack
 * receipts accepted / honest receipts rejected; minSeparation: see attacks-tokens.ts, null = ∞),
 * `variants[name/model/config]` with the adaptive attacker's steering counts, the totals, `drawCost`.
 */
import { join, resolve } from "node:path";
import { buildModel } from "../../offchain/model/index.js";
import { runTokenAttackSuite } from "../../offchain/verify/attacks-tokens.js";
import { measureDrawCost } from "./draw-cost.js";
import type { BenchContext, BenchSection, BenchSectionResult } from "./types.js";

const num = (v: string | undefined, d: number) => (v && Number.isInteger(Number(v)) && Number(v) > 0 ? Number(v) : d);
const fmt = (x: number) => (Number.isFinite(x) ? Number(x.toPrecision(4)) : "∞");

export const tokenDetectionSection: BenchSection = {
  name: "token-detection",
  description: "adaptive token-check attacks and honest runs (tiny, small; fp32, fp16)",
  async run(ctx: BenchContext): Promise<BenchSectionResult> {
    const presets = (process.env.BENCH_TOKEN_PRESETS ?? "tiny,small").split(",").map((s) => s.trim()) as ("tiny" | "small")[];
    const tokens = num(process.env.BENCH_TOKEN_TOKENS, 256);
    const runs = num(process.env.BENCH_TOKEN_RUNS, 2);
    const base = resolve(process.env.BENCH_MODELS ?? "bench-out/models");
    const models: { name: string; dir: string }[] = [];
    for (const preset of presets)
      for (const dtype of ["fp32", "fp16"] as const) {
        const name = `${preset}-${dtype}`;
        const dir = join(base, `token-${name}`);
        ctx.log(`building ${name} under ${dir}`);
        await buildModel(dir, { preset, dtype }, { force: true });
        models.push({ name, dir });
      }
    const t0 = performance.now();
    const r = await runTokenAttackSuite({ models, tokens, runs, log: ctx.log });
    const seconds = (performance.now() - t0) / 1000;
    const drawCost = measureDrawCost();
    const minSep = Math.min(...Object.values(r.attacks).map((a) => a.minSeparation));
    const rows = Object.entries(r.variants).map(([k, v]) => [
      k,
      v.kind,
      v.runs,
      v.failures,
      fmt(v.minSeparation),
      v.steering ? `${v.steering.steered}/${v.steering.positions}` : "-",
      v.steering ? v.steering.targetSteered : "-",
      v.steering ? fmt(v.steering.bound) : "-",
    ]);
    return {
      data: {
        presets,
        tokens,
        runsPerVariant: runs,
        attacks: r.attacks,
        honest: r.honest,
        variants: r.variants,
        attackRuns: r.attackRuns,
        missed: r.missed,
        honestRuns: r.honestRuns,
        falseAlarms: r.falseAlarms,
        minSeparation: minSep,
        seconds,
        drawCost,
      },
      tables: [
        {
          title: "token-check attacks and honest runs, by name",
          columns: ["name", "kind", "runs", "failures", "minSeparation"],
          rows: [
            ...Object.entries(r.attacks).map(([k, v]) => [k, "attack", v.runs, v.failures, fmt(v.minSeparation)]),
            ...Object.entries(r.honest).map(([k, v]) => [k, "honest", v.runs, v.failures, fmt(v.minSeparation)]),
          ],
          notes: [
            `${r.attackRuns} attack receipts, ${r.missed} missed; ${r.honestRuns} honest receipts, ${r.falseAlarms} false alarms; ${tokens} tokens each; ${seconds.toFixed(0)} s`,
            "minSeparation: attacks min over receipts of max deficit/2δ (> 1 caught); honest min of 2δ/max deficit (∞: every token the verifier's strict draw)",
          ],
        },
        {
          title: "per variant (steered: positions the adaptive attacker moved off the honest draw; bound: Σ (E|A| − 1))",
          columns: ["variant", "kind", "runs", "failures", "minSeparation", "steered", "own text", "bound"],
          rows,
        },
        {
          title: "draw / check cost, V = 151,936, random N(0, 3²) logits (median ms per position)",
          columns: ["config", "drawMs", "checkMs"],
          rows: drawCost.map((d) => [d.config, d.drawMs, d.checkMs]),
        },
      ],
    };
  },
};
