/**
 * Replay-fingerprint calibration: `tsx scripts/fingerprint-calibrate.ts [--presets tiny,small] [--seeds 24] [--reps 5]`.
 *
 * For each preset × dtype (fp32, fp16): builds the model and its cheap variants under a temp dir,
 * generates one sampled receipt, and prints
 * - honest distances: generator replay (1 thread, graph "all", chunk 512) vs verifiers with 2 threads,
 *   graph "disabled", and 2 threads + disabled + chunk 16, over `--seeds` seeds (max, mean, histogram);
 * - lazy/cheap distances: prefills of other weights, L−2 layers (missing layers read from the top one),
 *   int8 weights, 1 % weight noise, a KV cache rounded to fp8 / int8 between chunks of 16, a replay of
 *   only the first 75 % / 90 % of positions (a missing row guessed as the last computed one), random bytes32;
 * - timing: medians of verifyReceipt, verifyReceipt with fingerprintSeed, and replayFingerprints (1 seed).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildModel, kvRow, loadModel, prefillChunked, type BuildOptions, type LoadedModel, type PresetName } from "../offchain/model/index.js";
import { generate } from "../offchain/generate/index.js";
import type { Receipt } from "../offchain/receipt/index.js";
import { verifyReceipt } from "../offchain/verify/index.js";
import { withNarrowCache } from "../offchain/verify/cheats.js";
import { fingerprintDistance, fingerprintFromRows, replayFingerprints } from "../offchain/fingerprint/index.js";

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : def;
};
const presets = arg("presets", "tiny,small").split(",") as PresetName[];
const nSeeds = Number(arg("seeds", "24"));
const reps = Number(arg("reps", "5"));
const seeds = Array.from({ length: nSeeds }, (_, i) => (BigInt(i + 1) * 0x9e3779b97f4a7c15n) % (1n << 64n));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function cheapFps(cheap: LoadedModel, r: Receipt, numLayers: number, chunkSize = 512): Promise<string[]> {
  const P = r.promptTokens.length;
  const O = r.outputTokens.length;
  const out = await prefillChunked(cheap, [...r.promptTokens, ...r.outputTokens].slice(0, P + O - 1), { keepLogits: false, chunkSize });
  const top = out.present.layers.length - 1;
  return seeds.map((s) => fingerprintFromRows((l, k, p) => kvRow(out.present, Math.min(l, top), k, p), s, P + O - 1, numLayers));
}

function summary(ref: string[], other: string[]) {
  const d = ref.map((x, i) => fingerprintDistance(x, other[i]!));
  const pass = Object.fromEntries([8, 16, 24, 32].map((t) => [`pass@${t}`, +(d.filter((x) => x <= t).length / d.length).toFixed(3)]));
  return { min: Math.min(...d), max: Math.max(...d), mean: +(d.reduce((a, b) => a + b, 0) / d.length).toFixed(2), ...pass, hist: histogram(d) };
}
function histogram(d: number[]) {
  const h: Record<number, number> = {};
  for (const x of d) h[x] = (h[x] ?? 0) + 1;
  return Object.entries(h).map(([k, v]) => `${k}:${v}`).join(" ");
}

const root = await mkdtemp(join(tmpdir(), "poc-fp-calib-"));
try {
  for (const preset of presets) {
    for (const dtype of ["fp32", "fp16"] as const) {
      const base: BuildOptions = { preset, dtype };
      const L = preset === "tiny" ? 4 : 8;
      const dir = (n: string) => join(root, `${preset}-${dtype}-${n}`);
      await buildModel(dir("real"), base);
      const variants: Record<string, BuildOptions> = {
        "other-weights": { ...base, weightSeed: 1 },
        "fewer-layers": { ...base, layers: L - 2 },
        "int8-weights": { ...base, weightQuantization: "int8" },
        "perturbed-1pct": { ...base, weightPerturbation: 0.01 },
      };
      for (const [n, o] of Object.entries(variants)) await buildModel(dir(n), o);
      const gen = await loadModel(dir("real"), { threads: 1 });
      const prompt = Array.from({ length: 48 }, (_, i) => 32 + ((i * 37 + 11) % 95));
      const { receipt } = await generate(gen, {
        promptTokens: prompt,
        decoding: { seed: 5, temperature: 0.8, topK: 40, topP: 0.95, maxTokens: 64 },
        sampler: { seed: "0x" + "3c".repeat(32), ratePpm: 250_000, layersPerToken: 2 },
      });
      const ref = await replayFingerprints(gen, receipt, seeds);
      const tag = `${preset}/${dtype} (P = ${receipt.promptTokens.length + receipt.outputTokens.length - 1})`;
      for (const [name, opts, chunk] of [
        ["threads 2", { threads: 2 }, 512],
        ["graph disabled", { threads: 1, graphOptimizationLevel: "disabled" }, 512],
        ["threads 2 + disabled + chunk 16", { threads: 2, graphOptimizationLevel: "disabled" }, 16],
      ] as const) {
        const v = await loadModel(dir("real"), opts);
        console.log(tag, "honest", name, JSON.stringify(summary(ref, await replayFingerprints(v, receipt, seeds, { chunkSize: chunk }))));
        await v.release();
      }
      for (const n of Object.keys(variants)) {
        const c = await loadModel(dir(n), { threads: 1 });
        console.log(tag, "cheap", n, JSON.stringify(summary(ref, await cheapFps(c, receipt, L))));
        await c.release();
      }
      for (const mode of ["fp8", "int8"] as const)
        console.log(tag, "cheap", `kv-${mode}`, JSON.stringify(summary(ref, await cheapFps(withNarrowCache(gen, mode), receipt, L, 16))));
      for (const frac of [0.75, 0.9]) {
        // a partial replay: the first ⌈frac·P⌉ positions only; a missing row is guessed as the last computed one
        const P = receipt.promptTokens.length + receipt.outputTokens.length - 1;
        const n = Math.ceil(frac * P);
        const out = await prefillChunked(gen, [...receipt.promptTokens, ...receipt.outputTokens].slice(0, n), { keepLogits: false });
        const fps = seeds.map((s) => fingerprintFromRows((l, k, p) => kvRow(out.present, l, k, Math.min(p, n - 1)), s, P, L));
        console.log(tag, "cheap", `first-${frac * 100}pct-positions`, JSON.stringify(summary(ref, fps)));
      }
      const random = seeds.map(() => "0x" + Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("hex"));
      console.log(tag, "random bytes32", JSON.stringify(summary(ref, random)));

      const ver = await loadModel(dir("real"), { threads: 2 });
      const tv: number[] = [];
      const tvf: number[] = [];
      const tr: number[] = [];
      await verifyReceipt(ver, receipt); // warm-up
      for (let i = 0; i < reps; i++) {
        let t = performance.now();
        await verifyReceipt(ver, receipt);
        tv.push(performance.now() - t);
        t = performance.now();
        await verifyReceipt(ver, receipt, { fingerprintSeed: seeds[i % nSeeds]! });
        tvf.push(performance.now() - t);
        t = performance.now();
        await replayFingerprints(ver, receipt, [seeds[i % nSeeds]!]);
        tr.push(performance.now() - t);
      }
      console.log(
        tag,
        "timing ms (median of",
        reps,
        ") verifyReceipt",
        median(tv).toFixed(1),
        "verifyReceipt+fingerprintSeed",
        median(tvf).toFixed(1),
        "replayFingerprints",
        median(tr).toFixed(1),
        "ratio replay/verify",
        (median(tr) / median(tv)).toFixed(3),
      );
      await ver.release();
      await gen.release();
    }
  }
} finally {
  await rm(root, { recursive: true, force: true });
}
