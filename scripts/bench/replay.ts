/**
 * Bench sections "replay", "receipt" and "detection" (issue 4): the verifier on the `small` preset.
 * The three share one measurement (run once, on the first of them that is selected).
 *
 * - replay: generate `BENCH_TOKENS` (default 256) tokens after a 32-token prompt with the CLI's sampler
 *   defaults (rate 1/16, 2 layers per sampled position, fp32 samples), greedy, then verify the receipt.
 *   Generator and verifier both run on the CPU with the same thread count (`BENCH_THREADS`, default 2),
 *   each model loaded and warmed up first (one forward pass; the verifier's probe session built by
 *   `prepareVerifier`, as a worker would at start-up).
 *   generateMs = `generate()`'s totalMs: prompt prefill + every decoding step with its KV capture +
 *   encoding and root (prefillMs / decodeMs are listed too). replayMs = `verifyReceipt()`'s replayMs
 *   (mean of 3 per round): the probe (pruned graph, layer 0) + one prefill over prompt + output[0..n−2] in
 *   chunks of 512 with logits + every KV comparison and token check; parsing, plan and root excluded
 *   (listed as verifyTotalMs). 7 rounds of (generate, then verify) close together, so that load from other
 *   processes on the machine hits both alike; costRatio = the median of the per-round replayMs / generateMs.
 *   Each of the two starts after a 100 ms pause: onnxruntime's intra-op threads spin for a while after a
 *   run, and in this one process the generator's spinning threads took the verifier's cores (2-core
 *   machine: probe 6.6–7.1 ms right after generate() vs 2.3–2.8 ms after a pause; replay 107–131 ms vs
 *   107–109 ms). A verifier and a generator do not share a CPU in a deployment.
 *   In each round the receipt is replayed 3 times and their mean counts: one replay is a single ~100 ms
 *   run that a stall on this shared VM stretches by 30–80 % (single replays 90–173 ms within one run);
 *   the mean keeps the stalls in at their rate, as generation's total over 256 steps does.
 *   earlyExitMs: the same for a receipt decoded by another weight seed and relabelled with the real
 *   model id — the replay stops after the probe (median of 3); fullMismatchReplayMs is the same receipt
 *   with early stop off.
 * - receipt: bytes of that receipt, bytes per generated token, samples (and the same with float16).
 * - detection: the attack and honesty suite (offchain/verify/attacks.ts) on the same model with
 *   `BENCH_SUITE_TOKENS` (default 256) generated tokens per receipt and a 1/8 sample rate.
 *   JSON (issue 9's stable keys): `attacks[name]` and `honest[name]` = { runs, failures, minSeparation }
 *   (failures: attack receipts accepted / honest receipts rejected; minSeparation, null = ∞: attacks
 *   caught by a KV or top sample, the receipt's largest sample error over the largest honest error of
 *   its stage; caught by a token check, the first failed token's deficit / 2δ; caught by the plan or
 *   the root, null (structural); honest runs, the threshold over the receipt's largest sample error).
 *   `splits`: the straddle-threshold attack (offchain/verify/straddle.ts) on the same model,
 *   `BENCH_SPLIT_RECEIPTS` (default 3) receipts × `BENCH_SPLIT_SEEDS` (default 30) threshold seeds,
 *   verified at graph opt all / disabled × 1 / 2 threads: `withoutSeed` / `withSeed` split rates,
 *   `runs` receipts; `BENCH_SPLIT_FP16=1` adds the same on the fp16 build (`splitsFp16`).
 */
import { mkdir } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { join, resolve } from "node:path";
import { buildModel, GRAPH_OPTIMIZATION_LEVELS, loadModel, type GraphOptimizationLevel, type LoadedModel } from "../../offchain/model/index.js";
import { generate } from "../../offchain/generate/index.js";
import { parseReceipt } from "../../offchain/receipt/index.js";
import { prepareVerifier, verifyReceipt } from "../../offchain/verify/index.js";
import { runSuite, sampleErrors, type RunRecord, type SuiteReport } from "../../offchain/verify/attacks.js";
import { runStraddleSuite, type StraddleSuiteReport } from "../../offchain/verify/straddle.js";
import type { BenchContext, BenchSection, BenchSectionResult, BenchTable } from "./types.js";

export const REPLAY_TARGETS = { costRatio: 0.05, costRatioAim: 0.01, falseAlarms: 0, missed: 0, attackRuns: 8, minSeparation: 10 } as const;

const ROUNDS = 7;
const SETTLE_MS = 100;
const REPLAYS_PER_ROUND = 3;
const num = (v: string | undefined, d: number) => (v && Number.isFinite(Number(v)) && Number(v) > 0 ? Number(v) : d);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const r2 = (x: number) => Math.round(x * 100) / 100;
const r4 = (x: number) => Number(x.toPrecision(4));

/** Proof data per generated token (issue 9's `bytesPerToken`): the encoded receipt but the 4 bytes of each output token id. */
export const proofPerToken = (x: { bytes: Uint8Array; receipt: { outputTokens: readonly number[] } }) =>
  r2((x.bytes.length - 4 * x.receipt.outputTokens.length) / x.receipt.outputTokens.length);

interface Measured {
  replay: Record<string, unknown>;
  receipt: Record<string, unknown>;
  detection: Record<string, unknown>;
  tables: { replay: BenchTable[]; receipt: BenchTable[]; detection: BenchTable[] };
}

let shared: Promise<Measured> | null = null;

async function measure(ctx: BenchContext): Promise<Measured> {
  const tokens = num(process.env.BENCH_TOKENS, 256);
  const suiteTokens = num(process.env.BENCH_SUITE_TOKENS, 256);
  const threads = num(process.env.BENCH_THREADS, 2);
  // BENCH_GRAPH_OPT=disabled|basic|extended|all (default all), as --graph-opt of the poc commands
  const graphOpt = (process.env.BENCH_GRAPH_OPT ?? "all") as GraphOptimizationLevel;
  if (!GRAPH_OPTIMIZATION_LEVELS.includes(graphOpt)) throw new Error(`BENCH_GRAPH_OPT must be one of ${GRAPH_OPTIMIZATION_LEVELS.join(", ")}`);
  const base = resolve(process.env.BENCH_MODELS ?? "bench-out/models");
  const realDir = join(base, "small");
  const otherDir = join(base, "small-seed1");
  await mkdir(base, { recursive: true });
  ctx.log(`building small models under ${base}`);
  await buildModel(realDir, { preset: "small" }, { force: true });
  await buildModel(otherDir, { preset: "small", weightSeed: 1 }, { force: true });

  const promptTokens = Array.from({ length: 32 }, (_, i) => 32 + ((i * 37 + 11) % 95));
  const decoding = { seed: 0, temperature: 0, topK: 0, topP: 1, maxTokens: tokens };
  const sampler = { seed: "0x" + "5a".repeat(32), ratePpm: 62_500, layersPerToken: 2 };

  const warm = async (m: LoadedModel) => {
    await m.forward({ tokens: promptTokens, past: null });
    return m;
  };
  const gen = await warm(await loadModel(realDir, { threads, graphOptimizationLevel: graphOpt }));
  const ver = await warm(await loadModel(realDir, { threads, graphOptimizationLevel: graphOpt }));
  const other = await warm(await loadModel(otherDir, { threads, graphOptimizationLevel: graphOpt }));
  let replay: Record<string, unknown>;
  let receipt: Record<string, unknown>;
  try {
    await prepareVerifier(ver);
    // interleaved rounds (generate, then verify), medians: load from other processes hits both alike
    ctx.log(`generating ${tokens} tokens and replaying them, ${ROUNDS} rounds (small, ${threads} threads)`);
    const rounds: { generateMs: number; prefillMs: number; decodeMs: number; replayMs: number; probeMs: number; totalMs: number }[] = [];
    let g: Awaited<ReturnType<typeof generate>> | null = null;
    for (let i = 0; i < ROUNDS; i++) {
      await sleep(SETTLE_MS);
      g = await generate(gen, { promptTokens, decoding, sampler });
      await sleep(SETTLE_MS);
      const reps: { replayMs: number; probeMs: number; totalMs: number }[] = [];
      for (let r = 0; r < REPLAYS_PER_ROUND; r++) {
        const t = performance.now();
        const v = await verifyReceipt(ver, g.receipt);
        const totalMs = performance.now() - t;
        if (!v.agrees) throw new Error(`bench: the honest receipt did not verify: ${v.firstMismatch?.detail}`);
        reps.push({ replayMs: v.replayMs, probeMs: v.probeMs, totalMs });
      }
      const mean = (k: keyof (typeof reps)[number]) => reps.reduce((acc, r) => acc + r[k], 0) / reps.length;
      rounds.push({
        generateMs: g.timings.totalMs,
        prefillMs: g.timings.prefillMs,
        decodeMs: g.timings.decodeMs,
        replayMs: mean("replayMs"),
        probeMs: mean("probeMs"),
        totalMs: mean("totalMs"),
      });
    }
    const g16 = await generate(gen, { promptTokens, decoding, sampler, kvDtype: "float16" });
    const gFull = await generate(gen, { promptTokens, decoding, sampler: { ...sampler, projectionDim: 0 }, kvDtype: "float32" });
    const med = (k: keyof (typeof rounds)[number]) => median(rounds.map((r) => r[k]));
    const f = await generate(other, { promptTokens, decoding, sampler });
    const forged = parseReceipt({ ...f.receipt, modelId: ver.modelId });
    const early: number[] = [];
    const full: number[] = [];
    let stopped = false;
    for (let i = 0; i < 3; i++) {
      const v = await verifyReceipt(ver, forged);
      early.push(v.replayMs);
      stopped = v.earlyStopped && !v.agrees;
      full.push((await verifyReceipt(ver, forged, { earlyStop: false })).replayMs);
    }
    const replayMs = med("replayMs");
    const generateMs = med("generateMs");
    g = g!;
    replay = {
      preset: "small",
      threads,
      graphOptimizationLevel: graphOpt,
      promptTokens: promptTokens.length,
      generatedTokens: g.receipt.outputTokens.length,
      generateMs: r2(generateMs),
      generatePrefillMs: r2(med("prefillMs")),
      generateDecodeMs: r2(med("decodeMs")),
      replayMs: r2(replayMs),
      probeMs: r2(med("probeMs")),
      verifyTotalMs: r2(med("totalMs")),
      rounds: rounds.map((r) => ({ generateMs: r2(r.generateMs), replayMs: r2(r.replayMs), costRatio: r4(r.replayMs / r.generateMs) })),
      // per round (generation, then replay), median over rounds
      costRatio: r4(median(rounds.map((r) => r.replayMs / r.generateMs))),
      earlyExitMs: r2(median(early)),
      earlyExitStopped: stopped,
      fullMismatchReplayMs: r2(median(full)),
      earlyStopSaving: r4(1 - median(early) / median(full)),
      measured:
        "generateMs = generate() totalMs (32-token prompt prefill + decode loop with KV capture + encode/root); " +
        "replayMs = verifyReceipt() replayMs (probe + prefill of prompt + output[0..n-2] with logits + KV and token checks); " +
        "7 rounds of (generate, verify ×3 → mean), each after a 100 ms pause; costRatio = median of the per-round ratios, the ms figures medians; " +
        "same model files, CPU, same thread count, both warmed up",
    };
    receipt = {
      bytes: g.bytes.length,
      bytesPerToken: proofPerToken(g),
      totalBytesPerToken: r2(g.bytes.length / g.receipt.outputTokens.length),
      samples: g.receipt.samples.length,
      kvDtype: g.receipt.kvDtype,
      vectorLength: g.receipt.vectorLength,
      projectionDim: g.receipt.sampler.projectionDim,
      minPositions: g.receipt.sampler.minPositions,
      sampleRatePpm: sampler.ratePpm,
      layersPerToken: sampler.layersPerToken,
      float16Bytes: g16.bytes.length,
      float16BytesPerToken: proofPerToken(g16),
      fullRowFloat32Bytes: gFull.bytes.length,
      fullRowFloat32BytesPerToken: proofPerToken(gFull),
      note:
        "bytesPerToken = (receipt bytes − 4 · output tokens) / output tokens: header (132 B + 4 B per prompt token) and samples, amortised; " +
        "default generator settings: seeded projections of r = 32 numbers per key and value, one top sample (logits projections) per sampled position, " +
        "float32 storage on an fp32 model (float16 halves the sample bytes); fullRow* = the version-1 layout (projectionDim 0, whole K/V rows)",
    };
  } finally {
    await gen.release();
    await ver.release();
    await other.release();
  }

  ctx.log(`attack and honesty suite (small, ${suiteTokens} tokens per receipt)`);
  const suite: SuiteReport = await runSuite({
    modelDir: realDir,
    workDir: join(base, "variants"),
    maxTokens: suiteTokens,
    promptLen: 32,
    ratePpm: 125_000,
    layersPerToken: 2,
    smallChunk: 64,
    log: ctx.log,
  });
  const splitOpts = { receipts: num(process.env.BENCH_SPLIT_RECEIPTS, 3), seeds: num(process.env.BENCH_SPLIT_SEEDS, 30), maxTokens: 64, promptLen: 32, log: ctx.log };
  ctx.log(`straddle-threshold splits (small fp32, ${splitOpts.receipts} receipts × ${splitOpts.seeds} seeds)`);
  const splits = await runStraddleSuite({ modelDir: realDir, ...splitOpts });
  let splits16: StraddleSuiteReport | null = null;
  if (process.env.BENCH_SPLIT_FP16 === "1") {
    const dir16 = join(base, "small-fp16");
    await buildModel(dir16, { preset: "small", dtype: "fp16" }, { force: true });
    ctx.log(`straddle-threshold splits (small fp16)`);
    splits16 = await runStraddleSuite({ modelDir: dir16, ...splitOpts });
  }
  const detection = {
    attacks: Object.fromEntries(suite.attacks.map((a) => [a.name, { runs: 1, failures: a.ok ? 0 : 1, minSeparation: finite(attackSeparation(a)), caughtBy: a.caughtBy }])),
    honest: Object.fromEntries(suite.honest.map((h) => [h.name, { runs: 1, failures: h.ok ? 0 : 1, minSeparation: finite(honestHeadroom(h, suite)) }])),
    splits: splitsJson(splits),
    ...(splits16 ? { splitsFp16: splitsJson(splits16) } : {}),
    honestRuns: suite.honestRuns,
    falseAlarms: suite.falseAlarms,
    attackRuns: suite.attackRuns,
    missed: suite.missed,
    minSeparation: r2(suite.minSeparation),
    minSampleSeparation: r2(suite.minSampleSeparation),
    maxHonestError: r4(suite.maxHonestError),
    minAttackError: r4(suite.minAttackError),
    kvThreshold: suite.threshold,
    canonicalBitmaps: suite.canonical,
    generatedTokensPerReceipt: suiteTokens,
    runs: [...suite.honest, ...suite.attacks].map((r) => ({
      name: r.name,
      kind: r.kind,
      agrees: r.agrees,
      caughtBy: r.caughtBy,
      matched: r.matched,
      checks: r.checks,
      maxKvError: r4(r.maxKvError),
      minSampleError: r.keyErrors.length ? r4(Math.min(...sampleErrors(r))) : null,
    })),
  };

  const e = (x: number) => (x === 0 ? "0" : x.toExponential(2));
  return {
    replay,
    receipt,
    detection,
    tables: {
      replay: [
        {
          title: `Replay vs generation (small, ${threads} threads, ${replay.generatedTokens} generated tokens)`,
          columns: ["measure", "ms"],
          rows: [
            ["generate (prefill + decode + receipt)", replay.generateMs as number],
            ["  of which decode loop", replay.generateDecodeMs as number],
            ["replay (probe + prefill + checks)", replay.replayMs as number],
            ["  of which probe", replay.probeMs as number],
            ["replay of another model, early stop", replay.earlyExitMs as number],
            ["replay of another model, full", replay.fullMismatchReplayMs as number],
          ],
          notes: [
            `costRatio = median over rounds of replayMs / generateMs = ${replay.costRatio} (target ≤ ${REPLAY_TARGETS.costRatio}, aim ≤ ${REPLAY_TARGETS.costRatioAim})`,
            `early stop saves ${(100 * (replay.earlyStopSaving as number)).toFixed(1)} % of a mismatching replay`,
          ],
        },
      ],
      receipt: [
        {
          title: "Receipt size",
          columns: ["layout", "bytes", "proof bytes/token", "samples"],
          rows: [
            ["projected r=32, float32", receipt.bytes as number, receipt.bytesPerToken as number, receipt.samples as number],
            ["projected r=32, float16", receipt.float16Bytes as number, receipt.float16BytesPerToken as number, receipt.samples as number],
            ["full rows, float32 (v1 layout)", receipt.fullRowFloat32Bytes as number, receipt.fullRowFloat32BytesPerToken as number, "-"],
          ],
          notes: [receipt.note as string],
        },
      ],
      detection: [
        {
          title: `Detection suite (small, ${suiteTokens} tokens/receipt, KV threshold ${suite.threshold})`,
          columns: ["run", "kind", "verdict", "caught by", "matched", "max KV error"],
          rows: [...suite.honest, ...suite.attacks].map((r) => [
            r.name,
            r.kind,
            r.agrees ? "agrees" : "disagrees",
            r.caughtBy,
            `${r.matched}/${r.checks}`,
            r.keyErrors.length ? e(r.maxKvError) : "-",
          ]),
          notes: [
            `honest ${suite.honestRuns} (false alarms ${suite.falseAlarms}), attacks ${suite.attackRuns} (missed ${suite.missed})`,
            `minSeparation ${r2(suite.minSeparation)} (per receipt), ${r2(suite.minSampleSeparation)} (per sample, whole-model attacks); largest honest error ${e(suite.maxHonestError)}`,
          ],
        },
        {
          title: `straddle-threshold: split rates of honest verifiers (${splits.verifiers.join(", ")})`,
          columns: ["model", "placement", "seed", "split", "harmful", "analytic"],
          rows: [splits, ...(splits16 ? [splits16] : [])].flatMap((x) => [
            [`small ${x.dtype}`, "at the fixed threshold", "none", r4(x.withoutSeed), r4(x.harmfulWithoutSeed), "-"],
            [`small ${x.dtype}`, "at the fixed threshold", "drawn", r4(x.withSeedAtThreshold), r4(x.reports.threshold.harmfulWithSeed), r4(x.reports.threshold.analyticWithSeed)],
            [`small ${x.dtype}`, "bottom of the seeded range", "drawn", r4(x.withSeed), r4(x.harmfulWithSeed), r4(x.analyticWithSeed)],
            [`small ${x.dtype}`, `tiled over the range`, "drawn", r4(x.tiledWithSeed), r4(x.tiledHarmfulWithSeed), r4(x.reports.tiled.analyticWithSeed)],
          ]),
          notes: [
            `${splits.runs} receipts × ${splits.seedsPerReceipt} seeds per placement; split: two verifiers' bitmaps differ; harmful: one agrees with the generator, another does not`,
            "analytic: the probability over the seed that τ falls between two verifiers' errors of some sample (an upper bound of the split rate)",
          ],
        },
      ],
    },
  };
}

/** null for ±∞ / NaN (JSON has no infinity; the token-detection section's convention: null = ∞). */
const finite = (x: number) => (Number.isFinite(x) ? r4(x) : null);

/** An attack's per-receipt separation (module comment, "detection"). */
function attackSeparation(a: RunRecord): number {
  if (a.caughtBy === "kv" || a.caughtBy === "top") return a.separation;
  if (a.caughtBy === "token" && a.firstMismatch) return a.firstMismatch.error / a.firstMismatch.threshold;
  if (a.caughtBy === "plan" || a.caughtBy === "root") return Infinity;
  return a.keyErrors.length ? a.separation : 0; // not caught
}

/** An honest run's headroom: the threshold over its largest sample error of either stage. */
function honestHeadroom(h: RunRecord, suite: SuiteReport): number {
  const errs = sampleErrors(h);
  let m = Infinity;
  errs.forEach((e, i) => (m = Math.min(m, (h.sampleTop[i] ? suite.topThreshold : suite.threshold) / e)));
  return m;
}

function splitsJson(x: StraddleSuiteReport) {
  return {
    withoutSeed: x.withoutSeed,
    withSeed: x.withSeed,
    harmfulWithoutSeed: x.harmfulWithoutSeed,
    harmfulWithSeed: x.harmfulWithSeed,
    analyticWithSeed: r4(x.analyticWithSeed),
    withSeedAtThreshold: x.withSeedAtThreshold,
    tiledWithSeed: x.tiledWithSeed,
    tiledHarmfulWithSeed: x.tiledHarmfulWithSeed,
    runs: x.runs,
    seedsPerReceipt: x.seedsPerReceipt,
    verifiers: x.verifiers,
    gaps: x.gaps.map((g) => ({ placement: g.placement, top: g.top, level: r4(g.level), errorTarget: r4(g.errorTarget), errorOther: r4(g.errorOther) })),
    note:
      "withoutSeed: one sample just below the fixed threshold against a replay at graph opt all (moved towards the opt-disabled replay); " +
      "withSeed: the attacker's best placement against a seeded threshold (just below base/spread); split = two of the verifiers' bitmaps differ, " +
      "harmful = one agrees with the generator and another does not",
  };
}

const section = (name: "replay" | "receipt" | "detection", description: string): BenchSection => ({
  name,
  description,
  async run(ctx: BenchContext): Promise<BenchSectionResult> {
    shared ??= measure(ctx);
    const m = await shared;
    return { data: m[name], tables: m.tables[name] };
  },
});

export const replaySection = section("replay", "verifier replay vs generation on the small preset (CPU)");
export const receiptSection = section("receipt", "receipt size on the small preset");
export const detectionSection = section("detection", "attack and honesty suite on the small preset");
