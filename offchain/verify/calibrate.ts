/**
 * Calibration of the KV threshold (`poc calibrate`): runs the attack and honesty suite (attacks.ts) on
 * a model built by this project, plus informational probes, and reports the error distributions of
 * honest runs and of attacks, the margins around the threshold in use, and the threshold the
 * measurements suggest (the geometric mean of the largest honest and the smallest attack sample
 * error, which balances the two margins).
 *
 * Probes (counted neither as honest nor as attacks):
 * - `gpu-tf32-proxy`: weights × (1 + N(0, 4e-4)). A GPU running float32 matmuls in TF32 rounds their
 *   inputs to 10 mantissa bits (relative RMS 2^-11/√3 ≈ 2.8e-4 for weights and again for activations,
 *   ≈ 4e-4 together), so this bounds what TF32 would add; the verifier should run fp32 models with
 *   TF32 off, and this row says whether the threshold would survive it anyway.
 * - `perturbed-0.1pct`, `perturbed-0.3pct` (with `sweep`): the detection limit — the KV error grows
 *   linearly with the weight noise.
 */
import type { TokenTolerance } from "../sampling/index.js";
import { resolveTolerances } from "./metric.js";
import { runSuite, sampleErrors, type RunRecord, type SuiteOptions, type SuiteReport } from "./attacks.js";

export interface Distribution {
  count: number;
  min: number;
  p50: number;
  p99: number;
  max: number;
}

export interface RunDistribution {
  name: string;
  kind: RunRecord["kind"];
  description: string;
  agrees: boolean;
  ok: boolean;
  caughtBy: RunRecord["caughtBy"];
  /** Per-sample error (max of key and value), relative-L2 metric. */
  error: Distribution;
  /** The same samples under max-abs/RMS (for comparison). */
  maxAbsOverRms: Distribution;
  tokens?: RunRecord["tokenStats"];
  /** Attacks compared with an honest run of the same decoding (RunRecord.sameOutputAsHonest). */
  sameOutputAsHonest?: boolean;
  sameReceiptAsHonest?: boolean;
}

export interface CalibrationReport {
  modelId: string;
  dtype: string;
  threshold: number;
  /** Threshold of the top samples, the seeded spread and the position scale (metric.ts Tolerances). */
  topThreshold: number;
  spread: number;
  positionScale: number;
  tokenTolerance: TokenTolerance;
  honest: RunDistribution[];
  attacks: RunDistribution[];
  probes: RunDistribution[];
  margins: {
    /** Largest per-sample error of any honest run. */
    maxHonest: number;
    /** Smallest per-sample error of the whole-model attacks (other weights, int8, 1 % noise). */
    minAttackSample: number;
    /** Smallest largest-error of a receipt among the attacks caught by KV. */
    minAttackReceipt: number;
    /** threshold / maxHonest. */
    honestHeadroom: number;
    /** minAttackSample / threshold. */
    attackHeadroom: number;
    /** minAttackSample / maxHonest (per sample) and minAttackReceipt / maxHonest (per receipt). */
    sampleSeparation: number;
    receiptSeparation: number;
    /** The same per-sample separation under max-abs/RMS. */
    maxAbsOverRmsSeparation: number;
    /** √(maxHonest · minAttackSample). */
    suggestedThreshold: number;
  };
  suite: Pick<SuiteReport, "honestRuns" | "falseAlarms" | "attackRuns" | "missed" | "canonical" | "minSeparation" | "minSampleSeparation">;
}

export interface CalibrationOptions extends Omit<SuiteOptions, "modelDir" | "probes"> {
  /** Add the perturbation sweep probes (0.1 %, 0.3 %). */
  sweep?: boolean;
  /** Add the TF32 proxy probe (default true). */
  gpuProxy?: boolean;
}

function distribution(xs: readonly number[]): Distribution {
  if (xs.length === 0) return { count: 0, min: NaN, p50: NaN, p99: NaN, max: NaN };
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * (s.length - 1) + 0.5))]!;
  return { count: s.length, min: s[0]!, p50: q(0.5), p99: q(0.99), max: s[s.length - 1]! };
}

function describe(r: RunRecord): RunDistribution {
  return {
    name: r.name,
    kind: r.kind,
    description: r.description,
    agrees: r.agrees,
    ok: r.ok,
    caughtBy: r.caughtBy,
    error: distribution(sampleErrors(r)),
    maxAbsOverRms: distribution(r.keyMaxAbsOverRms.map((k, i) => Math.max(k, r.valueMaxAbsOverRms[i]!))),
    ...(r.tokenStats ? { tokens: r.tokenStats } : {}),
    ...(r.sameOutputAsHonest !== undefined ? { sameOutputAsHonest: r.sameOutputAsHonest } : {}),
    ...(r.sameReceiptAsHonest !== undefined ? { sameReceiptAsHonest: r.sameReceiptAsHonest } : {}),
  };
}

const WHOLE_MODEL = ["other-weights", "int8-weights", "perturbed-1pct"];

export async function calibrate(modelDir: string, o: CalibrationOptions): Promise<CalibrationReport> {
  const probes: NonNullable<SuiteOptions["probes"]> = [];
  if (o.gpuProxy ?? true)
    probes.push({ name: "gpu-tf32-proxy", description: "weights × (1 + N(0, 4e-4)): the input rounding of TF32 matmuls", build: { weightPerturbation: 4e-4 } });
  if (o.sweep) {
    probes.push({ name: "perturbed-0.1pct", description: "weights × (1 + N(0, 0.1 %))", build: { weightPerturbation: 1e-3 } });
    probes.push({ name: "perturbed-0.3pct", description: "weights × (1 + N(0, 0.3 %))", build: { weightPerturbation: 3e-3 } });
  }
  const suite = await runSuite({ ...o, modelDir, probes });
  const honest = suite.honest.map(describe);
  const attacks = suite.attacks.map(describe);
  const maxHonest = Math.max(0, ...honest.map((h) => h.error.max).filter((x) => !Number.isNaN(x)));
  const whole = attacks.filter((a) => WHOLE_MODEL.includes(a.name));
  const minAttackSample = Math.min(...whole.map((a) => a.error.min));
  const maxHonestAlt = Math.max(0, ...honest.map((h) => h.maxAbsOverRms.max).filter((x) => !Number.isNaN(x)));
  const minAttackAlt = Math.min(...whole.map((a) => a.maxAbsOverRms.min));
  const tol = suite.threshold;
  const tolerances = resolveTolerances(suite.dtype as "fp32" | "fp16", o.verify?.tolerances);
  return {
    modelId: suite.modelId,
    dtype: suite.dtype,
    threshold: tol,
    topThreshold: suite.topThreshold,
    spread: tolerances.spread,
    positionScale: tolerances.positionScale,
    tokenTolerance: tolerances.token,
    honest,
    attacks,
    probes: suite.probes.map(describe),
    margins: {
      maxHonest,
      minAttackSample,
      minAttackReceipt: suite.minAttackError,
      honestHeadroom: tol / maxHonest,
      attackHeadroom: minAttackSample / tol,
      sampleSeparation: minAttackSample / maxHonest,
      receiptSeparation: suite.minAttackError / maxHonest,
      maxAbsOverRmsSeparation: minAttackAlt / maxHonestAlt,
      suggestedThreshold: Math.sqrt(maxHonest * minAttackSample),
    },
    suite: {
      honestRuns: suite.honestRuns,
      falseAlarms: suite.falseAlarms,
      attackRuns: suite.attackRuns,
      missed: suite.missed,
      canonical: suite.canonical,
      minSeparation: suite.minSeparation,
      minSampleSeparation: suite.minSampleSeparation,
    },
  };
}

const e = (x: number) => (Number.isNaN(x) ? "-" : x === 0 ? "0" : x.toExponential(2));
const x = (v: number) => (Number.isFinite(v) ? `${v >= 100 ? v.toFixed(0) : v.toPrecision(3)}×` : String(v));

/** Plain-text report lines. */
export function formatCalibration(r: CalibrationReport): string[] {
  const lines: string[] = [];
  const t = r.tokenTolerance;
  lines.push(`model      ${r.modelId} (${r.dtype})`);
  lines.push(
    `thresholds KV error ≤ ${e(r.threshold)}, top sample (logits projections) ≤ ${e(r.topThreshold)} (relative L2 per key and per value, float16 storage rounding forgiven),`,
    `           × max(1, (position + 1) / ${r.positionScale}); with a threshold seed each stage's threshold is drawn log-uniform over [÷${r.spread}, ×${r.spread}]`,
  );
  lines.push(
    `           token check (Gumbel-max): s_j = l_j + T·g(seed, p, j); token c passes iff it is possibly kept (top-k/top-p under noise δ)`,
    `           and s_c ≥ R − 2δ, R the best score of the surely kept tokens; δ = ${t.logitAbs} + ${t.logitRel}·max{|l_j| : l_j ≥ l_max − T·40.34 − max(1, 4δ)}`,
    `           (masked/padded logits excluded; top-p slack ${t.cdfAbs}); a token of probability p passes with probability ≤ e^{2δ/T}·p, T → 0: l_c ≥ l_max − 2δ`,
  );
  const row = (d: RunDistribution, extra: string) =>
    `  ${d.name.padEnd(24)} ${String(d.error.count).padStart(5)}  ${e(d.error.min).padStart(9)} ${e(d.error.p50).padStart(9)} ${e(d.error.p99).padStart(9)} ${e(d.error.max).padStart(9)}   ${e(d.maxAbsOverRms.max).padStart(9)}  ${extra}`;
  const head = `  ${"run".padEnd(24)} ${"samp".padStart(5)}  ${"min".padStart(9)} ${"p50".padStart(9)} ${"p99".padStart(9)} ${"max".padStart(9)}   ${"maxabs/rms".padStart(9)}`;
  lines.push("", "honest runs (per-sample error = max of key and value; must agree)", head);
  for (const d of r.honest)
    lines.push(row(d, `${d.agrees ? "agrees" : "FALSE ALARM"}; tokens ${d.tokens ? `${d.tokens.exact} exact, ${d.tokens.nearTies} near-ties, ${d.tokens.failed} failed` : "-"}`));
  lines.push("", "attacks (must not agree)", head);
  const same = (d: RunDistribution) =>
    d.sameReceiptAsHonest ? " (its receipt is the honest run's, byte for byte: the real output, by a cheaper path)" : d.sameOutputAsHonest ? " (its output tokens are the honest run's)" : "";
  for (const d of r.attacks) lines.push(row(d, `${d.ok ? `caught by ${d.caughtBy}` : "MISSED"}${same(d)}`));
  if (r.probes.length) {
    lines.push("", "probes (informational)", head);
    for (const d of r.probes) lines.push(row(d, `${d.agrees ? "would agree" : "would disagree"} — ${d.description}`));
  }
  const m = r.margins;
  lines.push(
    "",
    `largest honest sample error   ${e(m.maxHonest)}   → threshold headroom ${x(m.honestHeadroom)}`,
    `smallest whole-model attack sample error ${e(m.minAttackSample)} → ${x(m.attackHeadroom)} the threshold`,
    `separation per sample ${x(m.sampleSeparation)} (max-abs/RMS metric: ${x(m.maxAbsOverRmsSeparation)}), per receipt ${x(m.receiptSeparation)}`,
    `suggested threshold √(honest·attack) = ${e(m.suggestedThreshold)} (in use: ${e(r.threshold)})`,
    `suite: ${r.suite.honestRuns} honest runs, ${r.suite.falseAlarms} false alarms; ${r.suite.attackRuns} attacks, ${r.suite.missed} missed; ` +
      `bitmaps ${r.suite.canonical ? "identical" : "DIFFER"} with early stop on/off`,
  );
  return lines;
}
