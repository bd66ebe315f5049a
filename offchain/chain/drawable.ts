/**
 * Whether a verifier can be drawn for a model, from its bond view and its weight in that model's
 * tree: what `poc verifier status` prints and the dashboard shows. Pure (no RPC).
 */

/** The largest βCv a job may have: minBond · maxStakeBps / 10⁴ (offchain/chain/pool-params.ts `maxBetaCv`). */
export function largestBetaCv(p: { minBond: bigint; maxStakeBps: number }): bigint {
  return (p.minBond * BigInt(p.maxStakeBps)) / 10_000n;
}

export type DrawStatus =
  /** Weight > 0 and a free bond of at least the largest βCv: drawable for every job of the model. */
  | { kind: "drawable" }
  /** Weight > 0 but the free bond covers only jobs with βCv ≤ `upTo`. */
  | { kind: "limited"; upTo: bigint }
  /** No weight yet: a pending change waits for a sync. */
  | { kind: "awaitingSync" }
  /** No weight: the bond is below the pool's minimum. */
  | { kind: "noWeight" }
  /** Weight, but no free bond left (all locked in jobs or unbonding). */
  | { kind: "noFreeBond" };

/** The draw status of a verifier with free bond `bond` and weight `weight` in one model's tree. */
export function drawStatus(o: { weight: bigint; bond: bigint; needsSync: boolean; largestBetaCv: bigint }): DrawStatus {
  if (o.weight === 0n) return o.needsSync ? { kind: "awaitingSync" } : { kind: "noWeight" };
  if (o.bond >= o.largestBetaCv) return { kind: "drawable" };
  if (o.bond > 0n) return { kind: "limited", upTo: o.bond };
  return { kind: "noFreeBond" };
}

/** Whether a verifier with this status is drawn for at least some jobs. */
export function canBeDrawn(s: DrawStatus): boolean {
  return s.kind === "drawable" || s.kind === "limited";
}
