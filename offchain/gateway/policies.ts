/**
 * What the gateway does with a committed job, besides returning it (all optional; CLI flags in
 * offchain/cli/gateway.ts, described in README.md here):
 *
 * - `challengeOnMismatch` (`--challenge-on-mismatch`): challenge when the committed receipt does not
 *   answer the job (another prompt, decoding or sampler configuration, a wrong root), cannot be
 *   fetched, or holds other tokens than the generator streamed. Off by default: a challenge costs
 *   the user αCv whenever the receipt itself turns out honest.
 * - `verifyLocally` (`--verify`): when the gateway has the model's graph, replay every receipt (one
 *   prefill pass, offchain/verify) and challenge when the replay disagrees (the base thresholds, not
 *   the job's drawn ones: a disagreement here is a reason to ask the pool, not the pool's verdict).
 * - `challengeFraction` (`--challenge-fraction F`): challenge a random fraction F of the remaining
 *   jobs (spot checks that keep a generator honest even when nothing looks wrong).
 * - `settle` (`--settle`): after the windows, finalize the gateway's unchallenged jobs, cancel those
 *   that were never committed (the refund of a fallback), and withdraw the credit (settle.ts).
 */
import { randomInt } from "node:crypto";

export interface GatewayPolicies {
  challengeOnMismatch: boolean;
  verifyLocally: boolean;
  /** In [0, 1]. */
  challengeFraction: number;
  settle: boolean;
}

export const DEFAULT_POLICIES: GatewayPolicies = Object.freeze({ challengeOnMismatch: false, verifyLocally: false, challengeFraction: 0, settle: false });

export type ChallengeReason = "mismatch" | "local-verify" | "spot-check";

/** Whether a spot check picks this job (`draw` in [0, 1): the random number, injectable for tests). */
export function spotCheck(fraction: number, draw: number = randomInt(0, 1_000_000) / 1_000_000): boolean {
  return fraction > 0 && draw < fraction;
}

/** Why to challenge a committed job, or null (the order of the module comment). */
export function challengeReason(p: GatewayPolicies, o: { problems: readonly string[]; localVerdict?: { agrees: boolean } | undefined; draw?: number }): ChallengeReason | null {
  if (p.challengeOnMismatch && o.problems.length > 0) return "mismatch";
  if (p.verifyLocally && o.localVerdict && !o.localVerdict.agrees) return "local-verify";
  if (spotCheck(p.challengeFraction, o.draw)) return "spot-check";
  return null;
}
