/**
 * A job's cost units from a price: Cg = pricePerToken × max_tokens, Cv = `--cv` or `cvFraction` of
 * Cg (default 1/10, lowered to what the pool allows: βCv ≤ minBond · maxStakeBps / 10⁴). The pool's
 * checks at `openJob` (docs/PROTOCOL.md "Chain, version 2") are applied before anything is sent, so
 * a request the pool would refuse gets a 400 naming the rule: αCg and αCv positive, βCg > 2αCv + βCv
 * (`StakePoolCostRatio`), βCv ≤ minBond · maxStakeBps / 10⁴ (`StakePoolVerifierStakeTooLarge`).
 * Amounts use the pool's own rounding (x · bps / 10⁴, floored).
 */
import type { PoolParamsRecord } from "../chain/index.js";
import { type AmountRule, amountRuleBroken, jobAmounts, maxBetaCv } from "../chain/pool-params.js";
import { GatewayError } from "./errors.js";

const BPS = 10_000n;
const PPM = 1_000_000n;
export const DEFAULT_CV_FRACTION = 0.1;

export interface CostPolicy {
  /** A fixed Cv in base units (overrides cvFraction). */
  cv?: bigint;
  /** Cv as a fraction of Cg in (0, 1) (default 0.1). */
  cvFraction?: number;
}

export interface JobCosts {
  cg: bigint;
  cv: bigint;
  alphaCg: bigint;
  alphaCv: bigint;
  betaCg: bigint;
  betaCv: bigint;
  /** αCg + αCv: what the user pays into the pool. */
  deposit: bigint;
}

type Params = Pick<PoolParamsRecord, "alphaBps" | "betaBps" | "minBond" | "maxStakeBps">;

export function costsOf(p: Params, cg: bigint, cv: bigint): JobCosts {
  const c = { cg, cv, ...jobAmounts(p, cg, cv) };
  return { ...c, deposit: c.alphaCg + c.alphaCv };
}

const HINT: Record<AmountRule, string> = {
  positive: ": the price per token or max_tokens is too small",
  costRatio: ": Cv is too large for this Cg",
  verifierStakeCap: ": Cv is too large",
};

/** Why the pool would refuse these amounts (its checks, offchain/chain/pool-params.ts), or undefined. */
export function costProblem(p: Params, c: JobCosts): string | undefined {
  const broken = amountRuleBroken(p, c.cg, c.cv);
  return broken && broken.message + HINT[broken.rule];
}

/** Cg and Cv for a job of `maxTokens` at `pricePerToken` (module comment); 400 when the pool would refuse them. */
export function jobCosts(p: Params, o: { pricePerToken: bigint; maxTokens: number } & CostPolicy): JobCosts {
  const cg = o.pricePerToken * BigInt(o.maxTokens);
  let cv: bigint;
  if (o.cv !== undefined) cv = o.cv;
  else {
    const f = o.cvFraction ?? DEFAULT_CV_FRACTION;
    cv = (cg * BigInt(Math.round(f * 1e6))) / PPM;
    const maxCv = p.betaBps > 0 ? (maxBetaCv(p) * BPS) / BigInt(p.betaBps) : cv;
    if (cv > maxCv) cv = maxCv;
  }
  const c = costsOf(p, cg, cv);
  const problem = costProblem(p, c);
  if (problem) throw new GatewayError(400, `the pool would refuse this job's amounts (Cg ${cg}, Cv ${cv}): ${problem}`, { code: "amounts_rejected", param: "max_tokens" });
  return c;
}
