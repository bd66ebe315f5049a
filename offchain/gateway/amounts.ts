/**
 * A job's cost units from a price: Cg = pricePerToken × max_tokens, Cv = `--cv` or `cvFraction` of
 * Cg (default 1/10, lowered to what the pool allows: βCv ≤ minBond · maxStakeBps / 10⁴). The pool's
 * checks at `openJob` (docs/PROTOCOL.md "Chain, version 2") are applied before anything is sent, so
 * a request the pool would refuse gets a 400 naming the rule: αCg and αCv positive, βCg > 2αCv + βCv
 * (`StakePoolCostRatio`), βCv ≤ minBond · maxStakeBps / 10⁴ (`StakePoolVerifierStakeTooLarge`).
 * Amounts use the pool's own rounding (x · bps / 10⁴, floored).
 */
import type { PoolParamsRecord } from "../chain/index.js";
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
  const a = BigInt(p.alphaBps);
  const b = BigInt(p.betaBps);
  const c = { cg, cv, alphaCg: (cg * a) / BPS, alphaCv: (cv * a) / BPS, betaCg: (cg * b) / BPS, betaCv: (cv * b) / BPS };
  return { ...c, deposit: c.alphaCg + c.alphaCv };
}

/** Why the pool would refuse these amounts, or undefined. */
export function costProblem(p: Params, c: JobCosts): string | undefined {
  if (c.alphaCg === 0n || c.alphaCv === 0n) return "αCg and αCv must be positive: the price per token or max_tokens is too small";
  if (c.betaCg <= 2n * c.alphaCv + c.betaCv) return `βCg (${c.betaCg}) must exceed 2αCv + βCv (${2n * c.alphaCv + c.betaCv}): Cv is too large for this Cg`;
  const max = (p.minBond * BigInt(p.maxStakeBps)) / BPS;
  if (c.betaCv > max) return `βCv (${c.betaCv}) exceeds minBond × maxStakeBps / 10⁴ (${max}): Cv is too large`;
  return undefined;
}

/** Cg and Cv for a job of `maxTokens` at `pricePerToken` (module comment); 400 when the pool would refuse them. */
export function jobCosts(p: Params, o: { pricePerToken: bigint; maxTokens: number } & CostPolicy): JobCosts {
  const cg = o.pricePerToken * BigInt(o.maxTokens);
  let cv: bigint;
  if (o.cv !== undefined) cv = o.cv;
  else {
    const f = o.cvFraction ?? DEFAULT_CV_FRACTION;
    cv = (cg * BigInt(Math.round(f * 1e6))) / PPM;
    const maxBetaCv = (p.minBond * BigInt(p.maxStakeBps)) / BPS;
    const maxCv = p.betaBps > 0 ? (maxBetaCv * BPS) / BigInt(p.betaBps) : cv;
    if (cv > maxCv) cv = maxCv;
  }
  const c = costsOf(p, cg, cv);
  const problem = costProblem(p, c);
  if (problem) throw new GatewayError(400, `the pool would refuse this job's amounts (Cg ${cg}, Cv ${cv}): ${problem}`, { code: "amounts_rejected", param: "max_tokens" });
  return c;
}
