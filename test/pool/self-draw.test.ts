/**
 * The drawn verifier draws its own stage (issue 10, gas): `commitResult` on a job that still waits for
 * its draw draws the queue up to the job's entry and commits in the same transaction. These tests pin
 * that the pick, the seed and the exclusions are the ones `drawVerifiers` gives, that nobody else can
 * use the path, and that the queue order is kept.
 */
import { expect } from "chai";
import { createPoolContext, E18, claim, HONEST_FP, SALT } from "./helpers.js";
import { JobState } from "../../scripts/lib/state.js";
import { resultCommitment } from "../../offchain/chain/commitment.js";

const T = (n: number | bigint) => BigInt(n) * E18;
const ctx = await createPoolContext();
const { ethers, networkHelpers, deployFixture, wordFor, openAndCommit, submit } = ctx;
const load = () => networkHelpers.loadFixture(deployFixture);
type F = Awaited<ReturnType<typeof load>>;
/** Any non-zero commitment: enough to simulate the call and learn the pick. */
const PROBE = "0x" + "00".repeat(31) + "01";

/** Challenge and start the epoch with a word whose first pick for stage 1 is `pick`. */
async function challengeWithPick(f: F, pick: { address: string }) {
  const jobId = await openAndCommit(f);
  await f.pool.connect(f.user).challenge(jobId);
  await f.rnd.set(await wordFor(f, jobId, 1n, pick));
  return jobId;
}

/** Which of v1..v5 the simulated commitResult accepts, with the seed it returns. */
async function simulatedPicks(f: F, jobId: bigint) {
  const found: { address: string; seed: bigint }[] = [];
  for (const v of [f.v1, f.v2, f.v3, f.v4, f.v5]) {
    try {
      found.push({ address: v.address, seed: await f.pool.connect(v).commitResult.staticCall(jobId, PROBE) });
    } catch (e) {
      expect(String(e)).to.contain("StakePoolNotAssignedVerifier");
    }
  }
  return found;
}

function commitmentOf(jobId: bigint, stage: number, verifier: string, bitmap: Uint8Array) {
  return resultCommitment({ jobId, stage, verifier, matchBitmap: bitmap, fingerprint: HONEST_FP, salt: SALT });
}

describe("StakePool: the drawn verifier draws its own stage in commitResult", function () {
  it("gives the pick and the seed drawVerifiers gives, and commits in the same transaction", async function () {
    const f = await load();
    const jobId = await challengeWithPick(f, f.v3);
    const before = await networkHelpers.takeSnapshot();
    const drawn = await (await f.pool.connect(f.stranger).drawVerifiers(100)).wait();
    const assigned = drawn!.logs.map((l) => f.pool.interface.parseLog(l)).find((p) => p?.name === "VerifierAssigned")!;
    await before.restore();

    const picks = await simulatedPicks(f, jobId);
    expect(picks).to.deep.equal([{ address: f.v3.address, seed: assigned.args.fingerprintSeed }]);
    const tx = f.pool.connect(f.v3).commitResult(jobId, commitmentOf(jobId, 1, f.v3.address, claim));
    await expect(tx).to.emit(f.pool, "VerifierAssigned").withArgs(jobId, 1, f.v3.address, assigned.args.stake, assigned.args.deadline + 0n, assigned.args.fingerprintSeed);
    await expect(tx).to.emit(f.pool, "ResultCommitted");
    const job = await f.pool.getJob(jobId);
    expect(job.state).to.equal(JobState.Answering);
    expect((await f.pool.drawEpoch()).frozen).to.equal(false);
    // the rest of the stage as usual: the generator answers, the verifier reveals, Table 1 row 2
    await f.pool.connect(f.generator).answerFingerprint(jobId, HONEST_FP);
    await expect(f.pool.connect(f.v3).revealResult(jobId, claim, HONEST_FP, SALT))
      .to.emit(f.pool, "JobSettled")
      .withArgs(jobId, JobState.GeneratorUpheld, 1, 0n, T(200), [f.v3.address], [T(40)], 0n);
  });

  it("refuses anyone but the pick, and waits for the randomness like drawVerifiers", async function () {
    const f = await load();
    const jobId = await challengeWithPick(f, f.v2);
    await f.rnd.setMode(1); // Pending
    await expect(f.pool.connect(f.v2).commitResult(jobId, PROBE)).to.be.revertedWithCustomError(f.pool, "StakePoolRandomnessPending");
    await f.rnd.setMode(0);
    for (const other of [f.v1, f.v4, f.user, f.generator, f.stranger]) {
      await expect(f.pool.connect(other).commitResult(jobId, PROBE)).to.be.revertedWithCustomError(f.pool, "StakePoolNotAssignedVerifier");
    }
    await expect(f.pool.connect(f.v2).commitResult(jobId, ethers.ZeroHash)).to.be.revertedWithCustomError(f.pool, "StakePoolEmptyCommitment");
    // nothing was drawn by the failed calls
    expect((await f.pool.getJob(jobId)).state).to.equal(JobState.AwaitingVerifier);
  });

  it("keeps the queue order: a later job's pick draws the entries before its own, and no further", async function () {
    const f = await load();
    const a = await openAndCommit(f);
    const b = await openAndCommit(f);
    const c = await openAndCommit(f);
    await f.pool.connect(f.user).challenge(a); // starts the epoch: a
    await f.pool.connect(f.user).challenge(b); // queued behind a, for the next epoch (an epoch covers the queue at its start)
    const e = await f.pool.drawEpoch();
    expect(e.frozen).to.equal(true);
    expect(e.epochEnd).to.equal(1n); // b waits for the next epoch
    await f.pool.connect(f.stranger).drawVerifiers(100); // draws a, ends the epoch
    await f.pool.connect(f.user).challenge(c); // starts the epoch of b and c
    await f.rnd.set(123n);
    // b's pick draws b only: c stays queued
    const [pickB] = await simulatedPicks(f, b);
    const sb = f.signers.find((s) => s.address === pickB!.address)!;
    await f.pool.connect(sb).commitResult(b, commitmentOf(b, 1, sb.address, claim));
    expect((await f.pool.getJob(b)).state).to.equal(JobState.Answering);
    expect((await f.pool.getJob(c)).state).to.equal(JobState.AwaitingVerifier);
    expect((await f.pool.drawEpoch()).head).to.equal(2n);
    // c's pick draws c and the epoch ends
    const picksC = await simulatedPicks(f, c);
    expect(picksC).to.have.length(1);
    const sc = f.signers.find((s) => s.address === picksC[0]!.address)!;
    await f.pool.connect(sc).commitResult(c, commitmentOf(c, 1, sc.address, claim));
    expect((await f.pool.getJob(c)).state).to.equal(JobState.Answering);
    expect((await f.pool.drawEpoch()).frozen).to.equal(false);
  });

  it("a job behind the epoch's end is not drawn by its would-be pick", async function () {
    const f = await load();
    const a = await challengeWithPick(f, f.v1);
    const b = await openAndCommit(f);
    await f.pool.connect(f.user).challenge(b); // after the epoch of a started: the next epoch
    for (const v of [f.v1, f.v2, f.v3, f.v4, f.v5]) {
      await expect(f.pool.connect(v).commitResult(b, PROBE)).to.be.revertedWithCustomError(f.pool, "StakePoolWrongState");
    }
    // those calls drew nothing either (each reverted as a whole)
    expect((await f.pool.getJob(a)).state).to.equal(JobState.AwaitingVerifier);
  });

  it("a later stage's pick draws itself too, never an earlier verifier of the job", async function () {
    const f = await load();
    const jobId = await challengeWithPick(f, f.v1);
    await f.pool.connect(f.stranger).drawVerifiers(100);
    await submit(f, jobId, new Uint8Array(claim.length)); // v1 dissents: stage 2 queued, epoch started
    expect((await f.pool.getJob(jobId)).state).to.equal(JobState.AwaitingVerifier);
    await f.rnd.set(await wordFor(f, jobId, 2n, f.v1)); // the first attempt picks v1 again: excluded
    const picks = await simulatedPicks(f, jobId);
    expect(picks).to.have.length(1);
    expect(picks[0]!.address).to.not.equal(f.v1.address);
    const pick = f.signers.find((s) => s.address === picks[0]!.address)!;
    await expect(f.pool.connect(pick).commitResult(jobId, commitmentOf(jobId, 2, pick.address, claim))).to.emit(f.pool, "VerifierAssigned");
    expect((await f.pool.getJob(jobId)).state).to.equal(JobState.Answering);
  });
});
