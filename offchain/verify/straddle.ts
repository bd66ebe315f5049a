/**
 * The `straddle-threshold` attack (issue 9, finding 3) and the measurement of how often it splits
 * honest verifiers.
 *
 * ## The attack
 * The generator chooses its sample values. It replays its own receipt twice — with graph optimisation
 * "all" (`target`) and "disabled" (`other`), the two settings honest verifiers are known to differ by
 * float noise — and rewrites chosen samples so that their error against the "all" replay sits just
 * *below* a chosen level e, moved in the direction that separates the two replays:
 *
 *     a = ref_all + s · n̂,   n = ref_all − ref_disabled,   s the largest with error(a, ref_all) ≤ e
 *
 * so that against the "disabled" replay the error is ≈ e + ‖n‖/‖ref‖ > e. Every other sample is the
 * "all" replay's own value (error 0 there). Placed at the fixed threshold (e = τ, no threshold seed),
 * a verifier at "all" matches every check and a verifier at "disabled" does not: two honest
 * verifiers submit different bitmaps for the same receipt.
 *
 * Strategies (`StraddlePlacement`):
 * - `single`: one sample (the one whose two replays differ most, relative to its norm, among the
 *   layers the probe never computes, so every verifier compares it against a full replay) at e = the
 *   fixed threshold of that sample (`threshold`: without a seed a deterministic split), or at the
 *   bottom of the seeded range, base/spread (`lowest`: against a seeded τ, which the generator does not
 *   know, the placement that splits most often; see StraddlePlacement).
 * - `tiled`: k samples at levels spread geometrically over the seeded range [base/spread, base·spread]
 *   (the best a generator that does not know τ can do to meet it somewhere). For any τ the samples
 *   above τ fail at every verifier, so the generator is caught; a split still happens when τ falls
 *   between one sample's two errors.
 *
 * ## What is measured (`measureSplits`)
 * Each receipt is verified by every honest verifier configuration (graph opt all / disabled × 1 / 2
 * threads, `SplitVerifier`) without a threshold seed and with each of `seeds` (seeds that did not exist
 * when the receipt was made). A trial **splits** when two configurations give different bitmaps; it is
 * **harmful** when at least one configuration agrees with the generator's claim (all checks matched)
 * while another does not (the case where the pool's game slashes an honest verifier).
 *
 * Next to the empirical rates, `analyticSplitBound` is the exact probability over the seed's
 * distribution that τ falls between two verifiers' values of any one sample's decision statistic
 * (max of key and value error), from the errors each verifier measured: an upper bound of the split
 * rate (the canonical early-stop rule can only mask a difference).
 */
import { keccak256, toUtf8Bytes } from "ethers";
import type { LoadedModel } from "../model/index.js";
import { samplePlan } from "../sampling/index.js";
import { type Receipt, type KvDtype, parseReceipt, roundToF16 } from "../receipt/index.js";
import { VerifyError } from "./errors.js";
import { jobThresholds, kvVectorError, resolveTolerances, sampleThreshold, type Tolerances } from "./metric.js";
import { PROBE_MAX_LAYER_FRACTION, verifyReceipt, type Verdict, type VerifyOptions } from "./verify.js";
import { samplesFromPrefill } from "./attacks.js";

/**
 * `single` at `threshold`: one sample just below the fixed threshold (a generator's best without a
 * seed); `single` at `lowest`: just below base/spread, the bottom of the seeded range (its best against
 * a seeded τ: the chance that τ falls between the two replays' errors e and e + g is
 * ln(1 + g/e) / (2 ln spread), largest for the smallest e that every τ still accepts); `tiled`: `count`
 * samples over the seeded range.
 */
export type StraddlePlacement = { kind: "single"; level: "threshold" | "lowest" } | { kind: "tiled"; count: number };

export interface StraddleCraftOptions {
  /** The model at graph optimisation "all" (the level the samples are placed against). */
  target: LoadedModel;
  /** The same model at another level ("disabled"): the direction the samples are moved in. */
  other: LoadedModel;
  placement: StraddlePlacement;
  /** Tolerance overrides, as the verifiers use them. */
  tolerances?: VerifyOptions["tolerances"];
}

export interface StraddledSample {
  /** Index in receipt.samples. */
  index: number;
  position: number;
  layer: number;
  /** Which vector was moved. */
  vector: "key" | "value";
  /** The level the error against the target replay was placed just below. */
  level: number;
  /** The error of the crafted vector against the target replay and against the other replay. */
  errorTarget: number;
  errorOther: number;
}

export interface StraddleResult {
  receipt: Receipt;
  straddled: StraddledSample[];
}

export class StraddleError extends VerifyError {
  override name = "StraddleError";
}

const norm = (v: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i]! * v[i]!;
  return Math.sqrt(s);
};

/**
 * The vector `round(ref + s·dir)` with the largest s whose error against `ref` is ≤ `level`
 * (bisection on s; `round` is the receipt's storage). `dir` has unit norm.
 */
export function placeAtLevel(ref: Float32Array, dir: Float64Array, level: number, storage: KvDtype): Float32Array {
  const make = (s: number) => {
    const a = new Float32Array(ref.length);
    for (let i = 0; i < ref.length; i++) a[i] = ref[i]! + s * dir[i]!;
    return storage === "float16" ? a.map((x) => roundToF16(x)) : a;
  };
  const scale = norm(ref);
  let lo = 0;
  let hi = 4 * level * Math.max(scale, 1e-6);
  while (kvVectorError(make(hi), ref, storage) <= level) hi *= 2;
  for (let it = 0; it < 60; it++) {
    const mid = (lo + hi) / 2;
    if (kvVectorError(make(mid), ref, storage) <= level) lo = mid;
    else hi = mid;
  }
  return make(lo);
}

/** The unit direction ref_target − ref_other (a fixed ±1 pattern when the two are identical). */
function splitDirection(refTarget: Float32Array, refOther: Float32Array): Float64Array {
  const d = new Float64Array(refTarget.length);
  for (let i = 0; i < d.length; i++) d[i] = refTarget[i]! - refOther[i]!;
  let n = norm(d);
  if (n === 0) {
    for (let i = 0; i < d.length; i++) d[i] = i % 2 ? 1 : -1;
    n = norm(d);
  }
  for (let i = 0; i < d.length; i++) d[i]! /= n;
  return d;
}

/** Craft a straddling receipt from an honest one (module comment). */
export async function craftStraddle(honest: Receipt, o: StraddleCraftOptions): Promise<StraddleResult> {
  const r = parseReceipt(honest);
  const tol = resolveTolerances(o.target.config.dtype, o.tolerances);
  const tokens = [...r.promptTokens, ...r.outputTokens];
  const plan = samplePlan(r.sampler, tokens, r.promptTokens.length);
  // the replays' own numbers (unrounded: a verifier compares against them), and as the receipt stores them
  const refT = await samplesFromPrefill(o.target, tokens, plan, "float32", r.sampler);
  const refO = await samplesFromPrefill(o.other, tokens, plan, "float32", r.sampler);
  const stored = r.kvDtype === "float16" ? refT.map((s) => ({ ...s, key: s.key.map((x) => roundToF16(x)), value: s.value.map((x) => roundToF16(x)) })) : refT;
  // the layers a probe may compute (pruned graph: other float noise) are left alone
  const L = o.target.config.layers;
  const probeMax = Math.max(1, Math.floor(L * PROBE_MAX_LAYER_FRACTION));
  const candidates = refT
    .map((s, index) => {
      const gap = (v: "key" | "value") => {
        const a = s[v];
        const b = refO[index]![v];
        let d = 0;
        for (let i = 0; i < a.length; i++) d += (a[i]! - b[i]!) ** 2;
        return Math.sqrt(d) / Math.max(norm(a), 1e-30);
      };
      const vector: "key" | "value" = gap("key") >= gap("value") ? "key" : "value";
      return { index, vector, gap: gap(vector), layer: s.layer, position: s.position };
    })
    .filter((c) => c.layer >= probeMax)
    .sort((a, b) => b.gap - a.gap);
  const count = o.placement.kind === "single" ? 1 : o.placement.count;
  if (candidates.length < count)
    throw new StraddleError(`the receipt has ${candidates.length} samples above the probe's layers, ${count} needed`, {
      details: "generate more tokens or sample at a higher rate",
    });
  const job = jobThresholds(tol, undefined);
  const chosen = candidates.slice(0, count);
  const samples = stored.map((s) => ({ ...s }));
  const straddled: StraddledSample[] = chosen.map((c, k) => {
    const top = c.layer === r.sampler.numLayers;
    const base = sampleThreshold(tol, job, top, c.position);
    // single: at the fixed threshold or the bottom of the seeded range; tiled: geometric levels over it
    const p = o.placement;
    const level = p.kind === "single" ? (p.level === "threshold" ? base : base / tol.spread) : base * tol.spread ** (-1 + (2 * (k + 0.5)) / count);
    const ref = refT[c.index]![c.vector];
    const crafted = placeAtLevel(ref, splitDirection(ref, refO[c.index]![c.vector]), level, r.kvDtype);
    samples[c.index] = { ...samples[c.index]!, [c.vector]: crafted };
    return {
      index: c.index,
      position: c.position,
      layer: c.layer,
      vector: c.vector,
      level,
      errorTarget: kvVectorError(crafted, ref, r.kvDtype),
      errorOther: kvVectorError(crafted, refO[c.index]![c.vector], r.kvDtype),
    };
  });
  return { receipt: parseReceipt({ ...r, samples }), straddled };
}

export interface SplitVerifier {
  /** e.g. "opt-all/1-thread". */
  name: string;
  model: LoadedModel;
}

export interface SplitTrial {
  /** undefined: the fixed thresholds (no seed). */
  seed?: string;
  /** Per verifier (SplitVerifier order): bitmap hex and whether it agrees with the claim. */
  bitmaps: string[];
  agrees: boolean[];
  split: boolean;
  harmful: boolean;
}

export interface ReceiptSplits {
  withoutSeed: SplitTrial;
  withSeed: SplitTrial[];
  /** analyticSplitBound of this receipt (probability over the seed). */
  analyticBound: number;
}

export interface SplitReport {
  verifiers: string[];
  receipts: ReceiptSplits[];
  /** Fractions of trials (receipts, resp. receipts × seeds) that split / were harmful. */
  withoutSeed: number;
  withSeed: number;
  harmfulWithoutSeed: number;
  harmfulWithSeed: number;
  /** Mean over receipts of analyticBound: the expected split rate over seeds, bounded from the measured errors. */
  analyticWithSeed: number;
  runs: number;
  seedsPerReceipt: number;
}

/** `n` threshold seeds, deterministic per label (stand-ins for randomness drawn after the commit). */
export function trialSeeds(label: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => keccak256(toUtf8Bytes(`poc.bench.threshold-seed/${label}/${i}`)));
}

async function trial(
  receipt: Receipt,
  verifiers: readonly SplitVerifier[],
  seed: string | undefined,
  tolerances: VerifyOptions["tolerances"],
  replayLevel: "receipt" | "model",
): Promise<SplitTrial> {
  const vs: Verdict[] = [];
  for (const v of verifiers)
    vs.push(await verifyReceipt(v.model, receipt, { ...(tolerances ? { tolerances } : {}), ...(seed ? { thresholdSeed: seed } : {}), replayLevel }));
  const bitmaps = vs.map((v) => v.matchBitmapHex);
  const agrees = vs.map((v) => v.agrees);
  return { ...(seed ? { seed } : {}), bitmaps, agrees, split: new Set(bitmaps).size > 1, harmful: agrees.some(Boolean) && agrees.some((a) => !a) };
}

/**
 * The probability over the threshold seed that τ of some sample falls between two verifiers' decision
 * statistics of that sample (module comment). `stats[v][i]` = max(key, value error) of sample i at
 * verifier v, `scales[i]` the sample's threshold without the seed's factor, `top[i]` its stage: the
 * KV and the top stage draw independent factors, so P = 1 − (1 − P_kv)(1 − P_top), each P the measure
 * of the union of the samples' intervals of u.
 */
export function analyticSplitBound(stats: readonly (readonly number[])[], scales: readonly number[], top: readonly boolean[], spread: number): number {
  if (spread <= 1) return 0;
  // the sample is matched iff f ≥ stat / scale, f = spread^(2u−1): in u the boundary is
  // u* = (log_spread(stat/scale) + 1) / 2, and a split needs u between two verifiers' u*
  const uOf = (x: number) => Math.min(1, Math.max(0, (Math.log(x) / Math.log(spread) + 1) / 2));
  const stage = (wantTop: boolean) => {
    const intervals: [number, number][] = [];
    for (let i = 0; i < scales.length; i++) {
      if (top[i] !== wantTop) continue;
      const us = stats.map((s) => uOf(s[i]! / scales[i]!));
      const lo = Math.min(...us);
      const hi = Math.max(...us);
      if (hi > lo) intervals.push([lo, hi]);
    }
    intervals.sort((a, b) => a[0] - b[0]);
    let total = 0;
    let end = -Infinity;
    for (const [lo, hi] of intervals) {
      if (hi <= end) continue;
      total += hi - Math.max(lo, end);
      end = hi;
    }
    return total;
  };
  return 1 - (1 - stage(false)) * (1 - stage(true));
}

/** Verify each receipt with every verifier, without a seed and with each seed (module comment). */
export async function measureSplits(
  receipts: readonly Receipt[],
  verifiers: readonly SplitVerifier[],
  seeds: (receiptIndex: number) => readonly string[],
  opts: {
    tolerances?: VerifyOptions["tolerances"];
    /**
     * "model" (default here): each verifier replays at its own model's level, whatever the receipt
     * declares — the setting of finding 3; "receipt": every verifier follows the receipt's level, as
     * honest verifiers do since the pinned replay level (docs/PROTOCOL.md).
     */
    replayLevel?: "receipt" | "model";
  } = {},
): Promise<SplitReport> {
  if (verifiers.length < 2) throw new StraddleError("a split needs at least two verifiers");
  const replayLevel = opts.replayLevel ?? "model";
  const out: ReceiptSplits[] = [];
  let perReceipt = 0;
  for (const [ri, r] of receipts.entries()) {
    const withoutSeed = await trial(r, verifiers, undefined, opts.tolerances, replayLevel);
    const withSeed: SplitTrial[] = [];
    const rs = seeds(ri);
    perReceipt = rs.length;
    for (const s of rs) withSeed.push(await trial(r, verifiers, s, opts.tolerances, replayLevel));
    // every sample's errors at every verifier (full replay), for the analytic bound
    const tol: Tolerances = resolveTolerances(verifiers[0]!.model.config.dtype, opts.tolerances);
    const job = jobThresholds(tol, undefined);
    const stats: number[][] = [];
    let scales: number[] = [];
    let tops: boolean[] = [];
    for (const v of verifiers) {
      const full = await verifyReceipt(v.model, r, { ...(opts.tolerances ? { tolerances: opts.tolerances } : {}), earlyStop: false, collectSamples: true, replayLevel });
      const ss = full.samples ?? [];
      stats.push(ss.map((s) => Math.max(s.keyError, s.valueError)));
      scales = ss.map((s) => sampleThreshold(tol, job, s.top, s.position));
      tops = ss.map((s) => s.top);
    }
    out.push({ withoutSeed, withSeed, analyticBound: analyticSplitBound(stats, scales, tops, tol.spread) });
  }
  const frac = (xs: boolean[]) => (xs.length ? xs.filter(Boolean).length / xs.length : NaN);
  const seeded = out.flatMap((r) => r.withSeed);
  return {
    verifiers: verifiers.map((v) => v.name),
    receipts: out,
    withoutSeed: frac(out.map((r) => r.withoutSeed.split)),
    withSeed: frac(seeded.map((t) => t.split)),
    harmfulWithoutSeed: frac(out.map((r) => r.withoutSeed.harmful)),
    harmfulWithSeed: frac(seeded.map((t) => t.harmful)),
    analyticWithSeed: out.length ? out.reduce((a, r) => a + r.analyticBound, 0) / out.length : NaN,
    runs: out.length,
    seedsPerReceipt: perReceipt,
  };
}

export interface StraddleSuiteOptions {
  /** The model directory (any model loadModel reads). */
  modelDir: string;
  /** Honest receipts crafted per placement (default 3). */
  receipts?: number;
  /** Threshold seeds per receipt (default 40). */
  seeds?: number;
  /** Generated tokens per receipt (default 48), prompt tokens (default 24), sampler rate (default 1/8). */
  maxTokens?: number;
  promptLen?: number;
  ratePpm?: number;
  /** Samples of the tiled placement (default 6). */
  tiledCount?: number;
  tolerances?: VerifyOptions["tolerances"];
  log?: (line: string) => void;
}

export interface StraddleSuiteReport {
  dtype: string;
  verifiers: string[];
  /** Split rate without a seed, samples at the fixed threshold (the attack of finding 3). */
  withoutSeed: number;
  harmfulWithoutSeed: number;
  /** Split rate with seeds drawn after the commit, sample at the bottom of the seeded range (the attacker's best). */
  withSeed: number;
  harmfulWithSeed: number;
  /** The analytic expectation (analyticSplitBound) of withSeed from the errors each verifier measured. */
  analyticWithSeed: number;
  /** With seeds, sample left at the fixed threshold (what the unseeded attack gives against a seeded pool). */
  withSeedAtThreshold: number;
  /** With seeds, `tiledCount` samples over the seeded range: any split / a harmful one. */
  tiledWithSeed: number;
  tiledHarmfulWithSeed: number;
  /** The crafted samples' two errors (relative to their level), per placement. */
  gaps: { placement: string; errorTarget: number; errorOther: number; level: number; top: boolean }[];
  runs: number;
  seedsPerReceipt: number;
  /** The full reports, per placement. */
  reports: Record<"threshold" | "lowest" | "tiled", SplitReport>;
  /**
   * The `threshold` placement, without seeds, when every verifier follows the receipt's declared level
   * (what honest verifiers do): the split rate of the attack of finding 3 under the pinned replay level.
   */
  pinnedWithoutSeed: number;
}

/**
 * Generate honest receipts (graph optimisation all, 1 thread), craft the three placements from each,
 * and measure their splits across graph opt all / disabled × 1 / 2 threads (module comment).
 */
export async function runStraddleSuite(o: StraddleSuiteOptions): Promise<StraddleSuiteReport> {
  const { loadModel } = await import("../model/index.js");
  const { generate } = await import("../generate/index.js");
  const log = o.log ?? (() => undefined);
  const R = o.receipts ?? 3;
  const N = o.seeds ?? 40;
  const open: LoadedModel[] = [];
  const load = async (threads: number, level: "all" | "disabled") => {
    const m = await loadModel(o.modelDir, { threads, graphOptimizationLevel: level });
    open.push(m);
    return m;
  };
  try {
    const all1 = await load(1, "all");
    const all2 = await load(2, "all");
    const dis1 = await load(1, "disabled");
    const dis2 = await load(2, "disabled");
    const verifiers: SplitVerifier[] = [
      { name: "opt-all/1-thread", model: all1 },
      { name: "opt-all/2-threads", model: all2 },
      { name: "opt-disabled/1-thread", model: dis1 },
      { name: "opt-disabled/2-threads", model: dis2 },
    ];
    const placements: Record<"threshold" | "lowest" | "tiled", StraddlePlacement> = {
      threshold: { kind: "single", level: "threshold" },
      lowest: { kind: "single", level: "lowest" },
      tiled: { kind: "tiled", count: o.tiledCount ?? 6 },
    };
    const crafted: Record<string, Receipt[]> = { threshold: [], lowest: [], tiled: [] };
    const gaps: StraddleSuiteReport["gaps"] = [];
    const P = o.promptLen ?? 24;
    for (let i = 0; i < R; i++) {
      const promptTokens = Array.from({ length: P }, (_, j) => 32 + ((j * 37 + 11 + i * 13) % 95));
      const g = await generate(all1, {
        promptTokens,
        decoding: { seed: 3 + i, temperature: 0.8, topK: 40, topP: 0.95, maxTokens: o.maxTokens ?? 48 },
        sampler: { seed: keccak256(toUtf8Bytes(`poc.straddle.sampler/${i}`)), ratePpm: o.ratePpm ?? 125_000, layersPerToken: 2 },
      });
      for (const [name, placement] of Object.entries(placements)) {
        const c = await craftStraddle(g.receipt, { target: all1, other: dis1, placement, ...(o.tolerances ? { tolerances: o.tolerances } : {}) });
        crafted[name]!.push(c.receipt);
        for (const s of c.straddled)
          gaps.push({ placement: name, errorTarget: s.errorTarget, errorOther: s.errorOther, level: s.level, top: s.layer === g.receipt.sampler.numLayers });
      }
    }
    // independent seeds per receipt (one seed shared by every receipt would correlate their trials)
    const seeds = (i: number) => trialSeeds(`straddle/${i}`, N);
    const reports = {} as Record<"threshold" | "lowest" | "tiled", SplitReport>;
    for (const name of ["threshold", "lowest", "tiled"] as const) {
      reports[name] = await measureSplits(crafted[name]!, verifiers, seeds, o.tolerances ? { tolerances: o.tolerances } : {});
      const r = reports[name];
      log(`straddle-threshold (${name}): split without seed ${r.withoutSeed}, with seed ${r.withSeed} (harmful ${r.harmfulWithSeed}; analytic ${r.analyticWithSeed.toPrecision(3)}) over ${R} receipts × ${N} seeds`);
    }
    const pinned = await measureSplits(crafted.threshold!, verifiers, () => [], { ...(o.tolerances ? { tolerances: o.tolerances } : {}), replayLevel: "receipt" });
    log(`straddle-threshold (threshold) with every verifier at the receipt's level: split ${pinned.withoutSeed} over ${R} receipts`);
    return {
      pinnedWithoutSeed: pinned.withoutSeed,
      dtype: all1.config.dtype,
      verifiers: verifiers.map((v) => v.name),
      withoutSeed: reports.threshold.withoutSeed,
      harmfulWithoutSeed: reports.threshold.harmfulWithoutSeed,
      withSeed: reports.lowest.withSeed,
      harmfulWithSeed: reports.lowest.harmfulWithSeed,
      analyticWithSeed: reports.lowest.analyticWithSeed,
      withSeedAtThreshold: reports.threshold.withSeed,
      tiledWithSeed: reports.tiled.withSeed,
      tiledHarmfulWithSeed: reports.tiled.harmfulWithSeed,
      gaps,
      runs: R,
      seedsPerReceipt: N,
      reports,
    };
  } finally {
    for (const m of open) await m.release();
  }
}
