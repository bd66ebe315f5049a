/** Mirrors of the StakePool enums (contracts/IStakePool.sol), in declaration order. */
export enum JobState {
  None = 0,
  Open = 1,
  Committed = 2,
  Verifying = 3,
  AwaitingVerifier = 4,
  Finalized = 5,
  Cancelled = 6,
  GeneratorUpheld = 7,
  VerifierUpheld = 8,
  Stalemate = 9,
  Unverified = 10,
  Answering = 11,
  GeneratorForfeited = 12,
}

export enum StageStatus {
  None = 0,
  Pending = 1,
  Submitted = 2,
  NoShow = 3,
  Declined = 4,
  Committed = 5,
}

/** States after which nothing can change any more. */
export const FINAL_STATES: ReadonlySet<JobState> = new Set([
  JobState.Finalized,
  JobState.Cancelled,
  JobState.GeneratorUpheld,
  JobState.VerifierUpheld,
  JobState.Stalemate,
  JobState.Unverified,
  JobState.GeneratorForfeited,
]);

/** The match bitmap of the generator's claim: ceil(n/8) bytes, the first n bits set (MSB first). */
export function claimBitmap(numChecks: number): Uint8Array {
  const out = new Uint8Array(Math.ceil(numChecks / 8)).fill(0xff);
  const rem = numChecks % 8;
  if (rem !== 0) out[out.length - 1] = (0xff << (8 - rem)) & 0xff;
  return out;
}

/** A bitmap of n checks with exactly the checks in `unmatched` cleared (others set). */
export function bitmapWithMisses(numChecks: number, unmatched: Iterable<number>): Uint8Array {
  const out = claimBitmap(numChecks);
  for (const i of unmatched) {
    if (i < 0 || i >= numChecks) throw new RangeError(`check ${i} out of range 0..${numChecks - 1}`);
    out[i >> 3]! &= ~(0x80 >> (i & 7)) & 0xff;
  }
  return out;
}
