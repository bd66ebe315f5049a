/**
 * StakePool parameters as TypeScript sees them, the defaults used by the deploy script, the Ignition
 * module, the benchmark and the tests, and a reader for overrides from environment variables.
 */
import type { PoolParamsRecord } from "../../offchain/chain/events.js";

/** The pool's `Params` struct: the same shape as the chain client reads and writes (type-only import). */
export type PoolParams = PoolParamsRecord;

export const BPS = 10_000n;

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
};

/** DEFAULT_POOL_PARAMS with any POC_* environment overrides applied (see ENV_KEYS). */
export function poolParamsFromEnv(env: NodeJS.ProcessEnv = process.env): PoolParams {
  const out: PoolParams = { ...DEFAULT_POOL_PARAMS };
  for (const [key, name] of Object.entries(ENV_KEYS) as [keyof PoolParams, string][]) {
    const raw = env[name];
    if (raw === undefined || raw === "") continue;
    if (!/^\d+$/.test(raw)) throw new Error(`${name} must be a non-negative integer, got "${raw}"`);
    if (key === "minBond") out.minBond = BigInt(raw);
    else out[key] = Number(raw);
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
  };
}

/** The tuple order of the Solidity `Params` struct. */
export function paramsTuple(p: PoolParams) {
  return [
    p.alphaBps,
    p.betaBps,
    p.commitWindow,
    p.challengeWindow,
    p.verifyWindow,
    p.drawWindow,
    p.maxStages,
    p.unbondDelay,
    p.minBond,
  ] as const;
}

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
