/**
 * Dispute records are recycled (issue 10, gas): a challenge takes the record a settled dispute freed,
 * so its stage, result and answer writes go to used slots. These tests pin that the reuse happens,
 * that a live job never shows or uses an earlier job's stages, and that the history stays in events.
 */
import { expect } from "chai";
import { ZeroAddress } from "ethers";
import { createPoolContext, claim, miss, HOUR, HONEST_FP, SALT } from "./helpers.js";
import { JobState } from "../../scripts/lib/state.js";

const ctx = await createPoolContext();
const { networkHelpers, deployFixture, challenged, submit, commitResult, drawFor, openAndCommit, wordFor } = ctx;
const load = () => networkHelpers.loadFixture(deployFixture);
const StageStatus = { None: 0n, Pending: 1n, Submitted: 2n, NoShow: 3n, Declined: 4n, Committed: 5n } as const;

describe("StakePool: dispute records are reused across jobs", function () {
  it("a challenge after a settlement writes used slots (cheaper commit), and sees none of the earlier job's stages", async function () {
    const f = await load();
    // job A: two stages (v1 dissents, v2 agrees), settled: its record is freed
    const a = await challenged(f, f.v1);
    const commitA = await (await commitResult(f, a, miss(1))).wait();
    await f.pool.connect(f.generator).answerFingerprint(a, HONEST_FP);
    await f.pool.connect(f.v1).revealResult(a, miss(1), HONEST_FP, SALT);
    await drawFor(f, a, f.v2);
    await submit(f, a, claim);
    expect((await f.pool.getJob(a)).state).to.equal(JobState.GeneratorUpheld);
    // the settled job's stage views are empty; its history is in the events
    const [va, sa] = await f.pool.getStage(a, 1);
    expect([va, sa]).to.deep.equal([ZeroAddress, StageStatus.None]);
    expect((await f.pool.queryFilter(f.pool.filters.ResultSubmitted(a))).length).to.equal(2);

    // job B takes A's record: before its draw none of A's stages show
    const b = await openAndCommit(f);
    await f.pool.connect(f.user).challenge(b);
    for (const stage of [1, 2, 3]) {
      const [v, st, h] = await f.pool.getStage(b, stage);
      expect([v, st, h], `stage ${stage} before the draw`).to.deep.equal([ZeroAddress, StageStatus.None, "0x" + "00".repeat(32)]);
      const [commitment, seed, answered] = await f.pool.stageRound(b, stage);
      expect([commitment, seed, answered]).to.deep.equal(["0x" + "00".repeat(32), 0n, 0n]);
      expect(await f.pool.answerOf(b, stage, 0)).to.equal("0x" + "00".repeat(32));
    }
    // A's stage-1 verifier cannot commit for B's waiting stage with A's old slot (the draw picks v3)
    await f.rnd.set(await wordFor(f, b, 1n, f.v3));
    await expect(f.pool.connect(f.v1).commitResult(b, "0x" + "00".repeat(31) + "01")).to.be.revertedWithCustomError(f.pool, "StakePoolNotAssignedVerifier");
    await drawFor(f, b, f.v3);
    const [v1b, s1b] = await f.pool.getStage(b, 1);
    expect([v1b, s1b]).to.deep.equal([f.v3.address, StageStatus.Pending]);
    const [v2b, s2b] = await f.pool.getStage(b, 2);
    expect([v2b, s2b], "A's stage 2 is not B's").to.deep.equal([ZeroAddress, StageStatus.None]);
    // B's commit overwrites A's stage-1 result slot: a used slot, no fresh-slot write
    const commitB = await (await commitResult(f, b, claim)).wait();
    expect(Number(commitA!.gasUsed - commitB!.gasUsed)).to.be.greaterThan(15_000);
    // and B settles by Table 1 as usual
    await f.pool.connect(f.generator).answerFingerprint(b, HONEST_FP);
    await expect(f.pool.connect(f.v3).revealResult(b, claim, HONEST_FP, SALT)).to.emit(f.pool, "JobSettled");
    expect((await f.pool.getJob(b)).state).to.equal(JobState.GeneratorUpheld);
  });

  it("while a stage waits for a new draw, its dropped verifier still shows (NoShow), and nothing stale does", async function () {
    const f = await load();
    const a = await challenged(f, f.v1);
    await submit(f, a, claim); // settles at stage 1, frees the record
    const b = await challenged(f, f.v2);
    await networkHelpers.time.increase(HOUR + 1);
    await f.pool.timeoutVerifier(b);
    expect((await f.pool.getJob(b)).state).to.equal(JobState.AwaitingVerifier);
    const [v, st] = await f.pool.getStage(b, 1);
    expect([v, st]).to.deep.equal([f.v2.address, StageStatus.NoShow]);
    await drawFor(f, b, f.v4);
    const [v2, st2] = await f.pool.getStage(b, 1);
    expect([v2, st2]).to.deep.equal([f.v4.address, StageStatus.Pending]);
  });
});
