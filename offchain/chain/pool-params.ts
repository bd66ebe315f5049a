/**
 * StakePool parameters as TypeScript sees them, the defaults used by the deploy script, the Ignition
 * module, the benchmark and the tests, and a reader for overrides from environment variables.
 */
import type { PoolParamsRecord } from "./events.js";

/** The pool's `Params` struct: the same shape as the chain client reads and writes (type-only import). */
export type PoolParams = PoolParamsRecord;

export const BPS = 10_000n;

/**
 * Defaults (contracts/IStakePool.sol `Params`): α = 1, β = 2, one-hour windows, a one-day draw window,
 * three stages, a week's unbond delay, a minimum bond of 100 tokens; a model needs 500 tokens of draw
 * weight (five minimum bonds: maxStages + 2 verifiers) before jobs can be opened for it; one job locks
 * at most a quarter of a minimum bond (βCv ≤ 25 tokens); declining an assignment costs 10 % of βCv.
 */
export const DEFAULT_POOL_PARAMS: PoolParams = {
  alphaBps: 10_000,
  betaBps: 20_000,
  commitWindow: 60 * 60,
  challengeWindow: 60 * 60,
  verifyWindow: 60 * 60,
  drawWindow: 24 * 60 * 60,
  maxStages: 3,
  unbondDelay: 7 * 24 * 60 * 60,
  minBond: 100n * 10n ** 18n,
  minModelStake: 500n * 10n ** 18n,
  maxStakeBps: 2_500,
  declineFeeBps: 1_000,
};

const ENV_KEYS: Record<keyof PoolParams, string> = {
  alphaBps: "POC_ALPHA_BPS",
  betaBps: "POC_BETA_BPS",
  commitWindow: "POC_COMMIT_WINDOW",
  challengeWindow: "POC_CHALLENGE_WINDOW",
  verifyWindow: "POC_VERIFY_WINDOW",
  drawWindow: "POC_DRAW_WINDOW",
  maxStages: "POC_MAX_STAGES",
  unbondDelay: "POC_UNBOND_DELAY",
  minBond: "POC_MIN_BOND_WEI",
  minModelStake: "POC_MIN_MODEL_STAKE_WEI",
  maxStakeBps: "POC_MAX_STAKE_BPS",
  declineFeeBps: "POC_DECLINE_FEE_BPS",
};

const BIG_KEYS = new Set<keyof PoolParams>(["minBond", "minModelStake"]);

/** DEFAULT_POOL_PARAMS with any POC_* environment overrides applied (see ENV_KEYS). */
export function poolParamsFromEnv(env: NodeJS.ProcessEnv = process.env): PoolParams {
  const out: PoolParams = { ...DEFAULT_POOL_PARAMS };
  for (const [key, name] of Object.entries(ENV_KEYS) as [keyof PoolParams, string][]) {
    const raw = env[name];
    if (raw === undefined || raw === "") continue;
    if (!/^\d+$/.test(raw)) throw new Error(`${name} must be a non-negative integer, got "${raw}"`);
    if (BIG_KEYS.has(key)) (out as unknown as Record<string, unknown>)[key] = BigInt(raw);
    else (out as unknown as Record<string, unknown>)[key] = Number(raw);
  }
  return out;
}

/** The Solidity `Params` struct as ethers takes it (an object keyed by field name). */
export function paramsStruct(p: PoolParams) {
  return {
    alphaBps: p.alphaBps,
    betaBps: p.betaBps,
    commitWindow: p.commitWindow,
    challengeWindow: p.challengeWindow,
    verifyWindow: p.verifyWindow,
    drawWindow: p.drawWindow,
    maxStages: p.maxStages,
    unbondDelay: p.unbondDelay,
    minBond: p.minBond,
    minModelStake: p.minModelStake,
    maxStakeBps: p.maxStakeBps,
    declineFeeBps: p.declineFeeBps,
  };
}

/** The tuple order of the Solidity `Params` struct (offchain/chain/events.ts). */
export { paramsTuple } from "./events.js";

/** The four amounts the pool stores for a job with cost units cg and cv (same rounding as Solidity). */
export function jobAmounts(p: Pick<PoolParams, "alphaBps" | "betaBps">, cg: bigint, cv: bigint) {
  const a = BigInt(p.alphaBps);
  const b = BigInt(p.betaBps);
  return {
    alphaCg: (cg * a) / BPS,
    alphaCv: (cv * a) / BPS,
    betaCg: (cg * b) / BPS,
    betaCv: (cv * b) / BPS,
  };
}

/** The pool's three checks on a job's amounts at `openJob`, in its order (contracts/StakePool.sol). */
export type AmountRule =
  /** αCg and αCv positive. */
  | "positive"
  /** βCg > 2αCv + βCv: confirming an earlier verifier pays more than agreeing (`StakePoolCostRatio`). */
  | "costRatio"
  /** βCv ≤ minBond · maxStakeBps / 10⁴ (`StakePoolVerifierStakeTooLarge`). */
  | "verifierStakeCap";

export interface AmountProblem {
  rule: AmountRule;
  /** The rule with the amounts in base units, e.g. "βCg (10) must exceed 2αCv + βCv (12)". */
  message: string;
}

/** The first of the pool's checks that `openJob(cg, cv)` would fail under `p`, or undefined. */
export function amountRuleBroken(p: PoolParams | Pick<PoolParams, "alphaBps" | "betaBps" | "minBond" | "maxStakeBps">, cg: bigint, cv: bigint): AmountProblem | undefined {
  const a = jobAmounts(p, cg, cv);
  if (a.alphaCg === 0n || a.alphaCv === 0n) return { rule: "positive", message: "αCg and αCv must be positive" };
  if (a.betaCg <= 2n * a.alphaCv + a.betaCv) return { rule: "costRatio", message: `βCg (${a.betaCg}) must exceed 2αCv + βCv (${2n * a.alphaCv + a.betaCv})` };
  const max = maxBetaCv(p);
  if (a.betaCv > max) return { rule: "verifierStakeCap", message: `βCv (${a.betaCv}) exceeds minBond × maxStakeBps / 10⁴ (${max})` };
  return undefined;
}

const CLI_HINT: Record<AmountRule, string> = {
  positive: " (Cg or Cv too small)",
  costRatio: ": raise Cg or lower Cv",
  verifierStakeCap: ": lower Cv",
};

/**
 * Why `openJob(cg, cv)` would revert on its amounts under `p` (the pool's checks, in its order), or
 * undefined when the amounts are acceptable: αCg and αCv positive, βCg > 2αCv + βCv (confirming an
 * earlier verifier pays more than agreeing), βCv ≤ minBond · maxStakeBps / 10⁴.
 */
export function amountProblem(p: PoolParams, cg: bigint, cv: bigint): string | undefined {
  const broken = amountRuleBroken(p, cg, cv);
  return broken && broken.message + CLI_HINT[broken.rule];
}

/** The largest βCv a job may have: minBond · maxStakeBps / 10⁴. */
export function maxBetaCv(p: Pick<PoolParams, "minBond" | "maxStakeBps">): bigint {
  return (p.minBond * BigInt(p.maxStakeBps)) / BPS;
}
