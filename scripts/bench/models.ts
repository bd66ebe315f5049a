/**
 * `models` section (issue 11, "Benchmark"): for each built shape × precision — llama and qwen2 ×
 * fp32, fp16, int8 (dynamic: DynamicQuantizeLinear + MatMulInteger), q4 (MatMulNBits) at the small
 * preset by default — load time, decode tokens/s, replay ms of a 256-token receipt, cost ratio
 * (replay / generation), the largest honest KV error and the smallest whole-model attack error
 * (the attack suite's threads/optimisation honest runs and other-weights / int8 / 1 % noise / fewer
 * layers attacks, 64 tokens), and receipt bytes per output token.
 *
 * Env: BENCH_MODELS (build dir, default bench-out/models), BENCH_MODELS_PRESET (small|tiny),
 * BENCH_TOKENS (default 256), BENCH_THREADS (default 2). Timings are medians of 3 on a shared machine.
 */
import { mkdir, rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import { buildModel, loadModel, type BuildOptions } from "../../offchain/model/index.js";
import { generate } from "../../offchain/generate/index.js";
import { verifyReceipt } from "../../offchain/verify/index.js";
import { runSuite } from "../../offchain/verify/attacks.js";
import type { BenchContext, BenchSection, BenchSectionResult } from "./types.js";
import { proofPerToken } from "./replay.js";

const num = (v: string | undefined, d: number) => (v === undefined || v === "" ? d : Number(v));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const r2 = (x: number) => Math.round(x * 100) / 100;

const PRECISIONS: [string, Partial<BuildOptions>][] = [
  ["fp32", {}],
  ["fp16", { dtype: "fp16" }],
  ["int8", { quantized: "int8" }],
  ["q4", { quantized: "q4" }],
];
const SUITE_RUNS = ["threads-1-to-2", "opt-all-to-disabled", "other-weights", "int8-weights", "perturbed-1pct", "fewer-layers"];

export const modelsSection: BenchSection = {
  name: "models",
  description: "built shapes × precisions: load, decode, replay, cost ratio, honest vs attack error, receipt bytes",
  async run(ctx: BenchContext): Promise<BenchSectionResult> {
    const preset = (process.env.BENCH_MODELS_PRESET ?? "small") as "small" | "tiny";
    const tokens = num(process.env.BENCH_TOKENS, 256);
    const threads = num(process.env.BENCH_THREADS, 2);
    const base = resolve(process.env.BENCH_MODELS ?? "bench-out/models", "shapes");
    await mkdir(base, { recursive: true });
    const promptTokens = Array.from({ length: 32 }, (_, i) => 32 + ((i * 37 + 11) % 95));
    const decoding = { seed: 0, temperature: 0, topK: 0, topP: 1, maxTokens: tokens };
    const sampler = { seed: "0x" + "5a".repeat(32), ratePpm: 62_500, layersPerToken: 2 };
    const rows: (string | number)[][] = [];
    const data: Record<string, unknown> = { preset, tokens, threads };
    for (const arch of ["llama", "qwen2"] as const)
      for (const [precision, o] of PRECISIONS) {
        const name = `${arch}-${precision}`;
        const dir = join(base, name);
        ctx.log(`models: ${name} (${preset})`);
        await buildModel(dir, { preset, architecture: arch, ...o }, { force: true });
        const t0 = performance.now();
        const gen = await loadModel(dir, { threads });
        const loadMs = performance.now() - t0;
        const ver = await loadModel(dir, { threads });
        try {
          const gens: number[] = [];
          const decodeTps: number[] = [];
          const replays: number[] = [];
          let bytesPerToken = 0;
          let outputTokens = 0;
          let honest = 0;
          for (let i = 0; i < 3; i++) {
            const g = await generate(gen, { promptTokens, decoding, sampler });
            const v = await verifyReceipt(ver, g.receipt, { earlyStop: false });
            if (!v.agrees) throw new Error(`bench models: ${name}: the honest receipt did not verify: ${v.firstMismatch?.detail}`);
            gens.push(g.timings.totalMs);
            decodeTps.push((g.receipt.outputTokens.length / g.timings.decodeMs) * 1000);
            replays.push(v.replayMs);
            honest = Math.max(honest, v.errors.key.max, v.errors.value.max);
            bytesPerToken = proofPerToken(g);
            outputTokens = g.receipt.outputTokens.length;
          }
          const suite = await runSuite({ modelDir: dir, workDir: join(base, `${name}-work`), maxTokens: 64, only: SUITE_RUNS });
          await rm(join(base, `${name}-work`), { recursive: true, force: true });
          const rec = {
            loadMs: r2(loadMs),
            decodeTokensPerS: r2(median(decodeTps)),
            generateMs: r2(median(gens)),
            replayMs: r2(median(replays)),
            costRatio: Math.round((median(replays) / median(gens)) * 1e4) / 1e4,
            stepwise: ver.config.stepwise,
            maxHonestError: Math.max(honest, suite.maxHonestError),
            minAttackError: suite.minAttackError,
            threshold: suite.threshold,
            falseAlarms: suite.falseAlarms,
            missed: suite.missed,
            proofBytesPerToken: bytesPerToken,
            outputTokens,
          };
          data[name] = rec;
          rows.push([
            arch,
            precision,
            rec.loadMs,
            rec.decodeTokensPerS,
            rec.replayMs,
            rec.costRatio,
            rec.maxHonestError.toExponential(2),
            rec.minAttackError.toExponential(2),
            `${rec.falseAlarms}/${rec.missed}`,
            `${rec.proofBytesPerToken} (${rec.outputTokens} tokens)`,
          ]);
        } finally {
          await gen.release();
          await ver.release();
        }
      }
    return {
      data,
      tables: [
        {
          title: `Models (${preset}, ${tokens} tokens, ${threads} threads; medians of 3)`,
          columns: ["arch", "precision", "load ms", "decode tok/s", "replay ms", "cost ratio", "max honest err", "min attack err", "false alarms/missed", "proof B/token"],
          rows,
          notes: [
            "int8 graphs are stepwise (offchain/model/README.md, \"Quantised graphs\"): the replay runs the generator's passes, so its cost ratio is near 1",
            "errors: relative L2 of the KV samples; attack = other weights, int8 weights, 1 % weight noise, two layers fewer (the attack suite, 64 tokens)",
          ],
        },
      ],
    };
  },
};
