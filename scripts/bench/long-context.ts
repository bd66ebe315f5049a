/**
 * Bench section "long-context" (issue 9, finding 6 and the honest variants `context-8k` /
 * `context-16k`): honest error at positions up to 16k tokens, with the replay level pinned by the
 * receipt and without, and the attacks' errors at the same positions (the position scale of the
 * thresholds loosens them there, so a downgrade must still clear them).
 *
 * It builds the tiny preset (4 layers, 128 hidden: a long context on few weights) with context
 * `max(BENCH_LONG_CONTEXTS)` (default 8192,16384) for each of `BENCH_LONG_DTYPES` (default fp32),
 * generates one greedy receipt per context at graph optimisation "all" (32-token prompt, output to the
 * context, rate `BENCH_LONG_RATE_PPM`, default 1/64, 2 layers per position), and verifies it
 *   - pinned: a verifier loaded at "disabled" replaying at the level the receipt declares (what every
 *     honest verifier does), and
 *   - unpinned: the same verifier replaying at "disabled" (`replayLevel: "model"`, the old behaviour).
 * Attacks (`BENCH_LONG_ATTACKS`, default fp16-weights,lm-head-bf16 on fp32, lm-head-bf16 on fp16) decode
 * `BENCH_LONG_ATTACK_CONTEXT` tokens (default 8192) with the variant and are verified pinned.
 *
 * JSON `longContext[dtype]`: `honest["context-8k"] = { runs, failures, minSeparation, pinned, unpinned }`
 * (minSeparation: the smallest threshold / error over the pinned replay's samples, i.e. headroom;
 * `pinned`/`unpinned`: { agrees, maxKv, maxTop, maxOverThreshold, overBase, byPosition }), and
 * `attacks[name] = { runs, failures, minSeparation, ... }` (minSeparation: largest error over the largest
 * honest error of its stage at that context, as in the detection section).
 */
import { join, resolve } from "node:path";
import { buildModel, loadModel, type BuildOptions, type Dtype, type LoadedModel } from "../../offchain/model/index.js";
import { generate } from "../../offchain/generate/index.js";
import { parseReceipt, type Receipt } from "../../offchain/receipt/index.js";
import { verifyReceipt, type Verdict } from "../../offchain/verify/index.js";
import type { BenchContext, BenchSection, BenchSectionResult, BenchTable } from "./types.js";

const BUCKET = 2048;
const r4 = (x: number) => Number(x.toPrecision(4));
const e2 = (x: number) => (x === 0 ? "0" : x.toExponential(2));

interface ReplayStats {
  agrees: boolean;
  maxKv: number;
  maxTop: number;
  /** Largest error / its sample's (position-scaled) threshold: < 1 is a match. */
  maxOverThreshold: number;
  /** Samples whose error exceeds the base threshold of their stage (the threshold without the position scale). */
  overBase: number;
  samples: number;
  byPosition: Record<string, { maxKv: number; maxTop: number }>;
}

function replayStats(v: Verdict): ReplayStats {
  const s: ReplayStats = { agrees: v.agrees, maxKv: 0, maxTop: 0, maxOverThreshold: 0, overBase: 0, samples: 0, byPosition: {} };
  for (const x of v.samples ?? []) {
    const e = Math.max(x.keyError, x.valueError);
    const lo = Math.floor(x.position / BUCKET) * BUCKET;
    const b = (s.byPosition[`${lo}-${lo + BUCKET - 1}`] ??= { maxKv: 0, maxTop: 0 });
    if (x.top) {
      s.maxTop = Math.max(s.maxTop, e);
      b.maxTop = Math.max(b.maxTop, e);
    } else {
      s.maxKv = Math.max(s.maxKv, e);
      b.maxKv = Math.max(b.maxKv, e);
    }
    s.maxOverThreshold = Math.max(s.maxOverThreshold, e / x.threshold);
    if (e > (x.top ? v.thresholds.top : v.thresholds.kv)) s.overBase++;
    s.samples++;
  }
  for (const b of Object.values(s.byPosition)) {
    b.maxKv = r4(b.maxKv);
    b.maxTop = r4(b.maxTop);
  }
  return { ...s, maxKv: r4(s.maxKv), maxTop: r4(s.maxTop), maxOverThreshold: r4(s.maxOverThreshold) };
}

const VARIANTS: Record<string, Partial<BuildOptions>> = {
  "fp16-weights": { weightQuantization: "fp16" },
  "lm-head-bf16": { weightQuantization: "bf16", variantScope: "lm-head" },
  "bf16-weights": { weightQuantization: "bf16" },
  "lm-head-int8": { weightQuantization: "int8", variantScope: "lm-head" },
};

const list = (s: string | undefined, d: string) => (s ?? d).split(",").map((x) => x.trim()).filter(Boolean);
const kname = (n: number) => (n % 1024 === 0 ? `context-${n / 1024}k` : `context-${n}`);

export const longContextSection: BenchSection = {
  name: "long-context",
  description: "honest error and attack error at positions up to 16k tokens (tiny preset, long context), replay level pinned and not",
  optIn: true, // about 25 minutes on 2 cores
  async run(ctx: BenchContext): Promise<BenchSectionResult> {
    const contexts = list(process.env.BENCH_LONG_CONTEXTS, "8192,16384").map(Number);
    const dtypes = list(process.env.BENCH_LONG_DTYPES, "fp32") as Dtype[];
    const ratePpm = Number(process.env.BENCH_LONG_RATE_PPM ?? 15_625);
    const attackContext = Number(process.env.BENCH_LONG_ATTACK_CONTEXT ?? 8192);
    const base = resolve(process.env.BENCH_MODELS ?? "bench-out/models");
    const maxCtx = Math.max(...contexts, attackContext);
    const promptTokens = Array.from({ length: 32 }, (_, i) => 32 + ((i * 37 + 11) % 95));
    const sampler = { seed: "0x" + "6d".repeat(32), ratePpm, layersPerToken: 2 };
    const decoding = (n: number) => ({ seed: 1, temperature: 0, topK: 0, topP: 1, maxTokens: n - promptTokens.length });
    const out: Record<string, { honest: Record<string, unknown>; attacks: Record<string, unknown> }> = {};
    const rows: (string | number)[][] = [];
    for (const dtype of dtypes) {
      const common: BuildOptions = { preset: "tiny", dtype, maxPositions: maxCtx };
      const dir = join(base, `long-tiny-${dtype}-${maxCtx}`);
      await buildModel(dir, common, { force: true });
      const open: LoadedModel[] = [];
      const honest: Record<string, unknown> = {};
      const attacks: Record<string, unknown> = {};
      const honestMax = new Map<number, { kv: number; top: number }>();
      try {
        const gen = await loadModel(dir, { threads: 1, graphOptimizationLevel: "all" });
        open.push(gen);
        const ver = await loadModel(dir, { threads: 1, graphOptimizationLevel: "disabled" });
        open.push(ver);
        const verify = async (r: Receipt, pinned: boolean) =>
          verifyReceipt(ver, r, { earlyStop: false, collectSamples: true, replayLevel: pinned ? "receipt" : "model" });
        for (const n of [...new Set([...contexts, attackContext])].sort((a, b) => a - b)) {
          ctx.log(`${dtype}: generating ${n - promptTokens.length} tokens (context ${n}) at graph opt all`);
          const t0 = performance.now();
          const g = await generate(gen, { promptTokens, decoding: decoding(n), sampler });
          const genMs = performance.now() - t0;
          const pinned = replayStats(await verify(g.receipt, true));
          const unpinned = replayStats(await verify(g.receipt, false));
          honestMax.set(n, { kv: pinned.maxKv, top: pinned.maxTop });
          if (!contexts.includes(n)) continue;
          const headroom = pinned.maxOverThreshold > 0 ? 1 / pinned.maxOverThreshold : Infinity;
          honest[kname(n)] = { runs: 1, failures: pinned.agrees ? 0 : 1, minSeparation: Number.isFinite(headroom) ? r4(headroom) : null, generateMs: Math.round(genMs), pinned, unpinned };
          ctx.log(`  ${kname(n)}: pinned ${pinned.agrees ? "agrees" : "REJECTED"} (KV ${e2(pinned.maxKv)}, top ${e2(pinned.maxTop)}), unpinned ${unpinned.agrees ? "agrees" : "rejected"} (KV ${e2(unpinned.maxKv)}, top ${e2(unpinned.maxTop)})`);
          rows.push([`${dtype} ${kname(n)} pinned`, pinned.agrees ? "yes" : "NO", e2(pinned.maxKv), e2(pinned.maxTop), pinned.overBase, r4(headroom)]);
          rows.push([`${dtype} ${kname(n)} unpinned (all→disabled)`, unpinned.agrees ? "yes" : "NO", e2(unpinned.maxKv), e2(unpinned.maxTop), unpinned.overBase, r4(1 / unpinned.maxOverThreshold)]);
        }
        const wanted = list(process.env.BENCH_LONG_ATTACKS, dtype === "fp32" ? "fp16-weights,lm-head-bf16" : "lm-head-bf16");
        const hm = honestMax.get(attackContext)!;
        for (const name of wanted) {
          const v = VARIANTS[name];
          if (!v) throw new Error(`unknown long-context attack ${name} (known: ${Object.keys(VARIANTS).join(", ")})`);
          const vdir = join(base, `long-tiny-${dtype}-${maxCtx}-${name}`);
          await buildModel(vdir, { ...common, ...v }, { force: true });
          const m = await loadModel(vdir, { threads: 1, graphOptimizationLevel: "all" });
          ctx.log(`${dtype}: attack ${name}, ${attackContext - promptTokens.length} tokens`);
          let g;
          try {
            g = await generate(m, { promptTokens, decoding: decoding(attackContext), sampler });
          } finally {
            await m.release();
          }
          const r = parseReceipt({ ...g.receipt, modelId: gen.modelId });
          const verdict = await verify(r, true);
          const st = replayStats(verdict);
          let sep = 0;
          for (const x of verdict.samples ?? []) {
            const h = x.top ? hm.top : hm.kv;
            sep = Math.max(sep, h > 0 ? Math.max(x.keyError, x.valueError) / h : Infinity);
          }
          // by position: is every bucket still caught although the thresholds grow with the position?
          const bucketCaught: Record<string, boolean> = {};
          for (const x of verdict.samples ?? []) {
            const lo = Math.floor(x.position / BUCKET) * BUCKET;
            const k = `${lo}-${lo + BUCKET - 1}`;
            bucketCaught[k] = (bucketCaught[k] ?? false) || !x.matched;
          }
          attacks[name] = {
            runs: 1,
            failures: verdict.agrees ? 1 : 0,
            minSeparation: Number.isFinite(sep) ? r4(sep) : null,
            caughtBy: verdict.agrees ? "none" : verdict.firstMismatch?.kind,
            maxOverThreshold: st.maxOverThreshold,
            bucketCaught,
            byPosition: st.byPosition,
          };
          rows.push([`${dtype} attack ${name} (${kname(attackContext)})`, verdict.agrees ? "MISSED" : "caught", e2(st.maxKv), e2(st.maxTop), st.overBase, `sep ${r4(sep)}`]);
        }
        out[dtype] = { honest, attacks };
      } finally {
        for (const m of open) await m.release();
      }
    }
    const table: BenchTable = {
      title: `Long contexts (tiny, context ${maxCtx}, generator at graph opt all, verifier loaded at disabled; rate ${ratePpm} ppm)`,
      columns: ["run", "agrees", "max KV error", "max top error", "samples over the base threshold", "headroom / separation"],
      rows,
      notes: [
        "pinned: the verifier replays at the level the receipt declares (all); unpinned: at its own level (disabled)",
        "headroom: the smallest (position-scaled) threshold / error over the receipt's samples; separation: largest attack error / largest pinned honest error of its stage at the same context",
      ],
    };
    return { data: { preset: "tiny", ratePpm, contexts, attackContext, ...out }, tables: [table] };
  },
};
