/**
 * Every external function of StakePool called in the wrong state, by the wrong account, too early,
 * too late, or with bad input: each reverts with its custom error and arguments.
 */
import { expect } from "chai";
import { createPoolContext, E18, claim, miss, HOUR, DAY, NUM_CHECKS, ROOT, URI, MODEL_ID, REQUEST_HASH, REQUEST_URI, TEST_PARAMS, BOND, HONEST_FP, GUESSED_FP, SALT } from "./helpers.js";
import { JobState } from "../../scripts/lib/state.js";
import type { TestParams as PoolParams } from "./helpers.js";

const T = (n: number | bigint) => BigInt(n) * E18;

const ctx = await createPoolContext();
const { ethers, networkHelpers, deployFixture, openJob, openAndCommit, challenged, submit, commitResult } = ctx;
const load = () => networkHelpers.loadFixture(deployFixture);
const { time } = networkHelpers;

describe("StakePool: reverts", function () {
  it("openJob rejects a zero or self generator and costs that round to zero or overflow", async function () {
    const f = await load();
    await expect(f.pool.connect(f.user).openJob(ethers.ZeroAddress, MODEL_ID, T(1), T(1), REQUEST_HASH, REQUEST_URI))
      .to.be.revertedWithCustomError(f.pool, "StakePoolInvalidGenerator")
      .withArgs(ethers.ZeroAddress);
    await expect(f.pool.connect(f.user).openJob(f.user.address, MODEL_ID, T(1), T(1), REQUEST_HASH, REQUEST_URI))
      .to.be.revertedWithCustomError(f.pool, "StakePoolInvalidGenerator")
      .withArgs(f.user.address);
    // α = 0.5: a cost of 1 wei gives αC = 0
    await expect(f.pool.connect(f.user).openJob(f.generator.address, MODEL_ID, 1n, T(1), REQUEST_HASH, REQUEST_URI))
      .to.be.revertedWithCustomError(f.pool, "StakePoolCostTooSmall")
      .withArgs(1n, T(1));
    await expect(f.pool.connect(f.user).openJob(f.generator.address, MODEL_ID, T(1), 1n, REQUEST_HASH, REQUEST_URI))
      .to.be.revertedWithCustomError(f.pool, "StakePoolCostTooSmall")
      .withArgs(T(1), 1n);
    const huge = 2n ** 128n;
    await expect(f.pool.connect(f.user).openJob(f.generator.address, MODEL_ID, huge, T(1), REQUEST_HASH, REQUEST_URI))
      .to.be.revertedWithCustomError(f.pool, "StakePoolCostTooLarge")
      .withArgs(huge, T(1));
    // βCg = 1.5 Cg must fit 88 bits
    const big = 2n ** 88n;
    await expect(f.pool.connect(f.user).openJob(f.generator.address, MODEL_ID, T(1), big, REQUEST_HASH, REQUEST_URI))
      .to.be.revertedWithCustomError(f.pool, "StakePoolCostTooLarge")
      .withArgs(T(1), big);
  });

  it("commit: only the generator, only while Open, only by the deadline, with a root and 1..2^18 checks", async function () {
    const f = await load();
    await expect(f.pool.connect(f.generator).commit(7n, ROOT, NUM_CHECKS, URI))
      .to.be.revertedWithCustomError(f.pool, "StakePoolWrongState")
      .withArgs(7n, JobState.None);
    const jobId = await openJob(f);
    await expect(f.pool.connect(f.user).commit(jobId, ROOT, NUM_CHECKS, URI))
      .to.be.revertedWithCustomError(f.pool, "StakePoolNotGenerator")
      .withArgs(jobId, f.user.address);
    await expect(f.pool.connect(f.generator).commit(jobId, ROOT, 0, URI))
      .to.be.revertedWithCustomError(f.pool, "StakePoolInvalidNumChecks")
      .withArgs(jobId, 0);
    await expect(f.pool.connect(f.generator).commit(jobId, ROOT, 2 ** 18 + 1, URI))
      .to.be.revertedWithCustomError(f.pool, "StakePoolInvalidNumChecks")
      .withArgs(jobId, 2 ** 18 + 1);
    await expect(f.pool.connect(f.generator).commit(jobId, ethers.ZeroHash, NUM_CHECKS, URI))
      .to.be.revertedWithCustomError(f.pool, "StakePoolEmptyReceiptRoot")
      .withArgs(jobId);
    const { deadline } = await f.pool.getJob(jobId);
    await time.increaseTo(deadline + 1n);
    await expect(f.pool.connect(f.generator).commit(jobId, ROOT, NUM_CHECKS, URI))
      .to.be.revertedWithCustomError(f.pool, "StakePoolDeadlinePassed")
      .withArgs(jobId, deadline);
    const committed = await openAndCommit(f);
    await expect(f.pool.connect(f.generator).commit(committed, ROOT, NUM_CHECKS, URI))
      .to.be.revertedWithCustomError(f.pool, "StakePoolWrongState")
      .withArgs(committed, JobState.Committed);
  });

  it("cancel: only while Open, only after the commit deadline", async function () {
    const f = await load();
    const jobId = await openJob(f);
    const { deadline } = await f.pool.getJob(jobId);
    await expect(f.pool.connect(f.user).cancel(jobId))
      .to.be.revertedWithCustomError(f.pool, "StakePoolDeadlineNotReached")
      .withArgs(jobId, deadline);
    const committed = await openAndCommit(f);
    await time.increase(2 * HOUR);
    await expect(f.pool.connect(f.user).cancel(committed))
      .to.be.revertedWithCustomError(f.pool, "StakePoolWrongState")
      .withArgs(committed, JobState.Committed);
    await f.pool.cancel(jobId);
    await expect(f.pool.cancel(jobId)).to.be.revertedWithCustomError(f.pool, "StakePoolWrongState").withArgs(jobId, JobState.Cancelled);
  });

  it("finalize: only while Committed, only after the challenge deadline", async function () {
    const f = await load();
    const open = await openJob(f);
    await expect(f.pool.finalize(open)).to.be.revertedWithCustomError(f.pool, "StakePoolWrongState").withArgs(open, JobState.Open);
    const jobId = await openAndCommit(f);
    const { deadline } = await f.pool.getJob(jobId);
    await expect(f.pool.finalize(jobId))
      .to.be.revertedWithCustomError(f.pool, "StakePoolDeadlineNotReached")
      .withArgs(jobId, deadline);
    await time.increase(HOUR + 1);
    await f.pool.finalize(jobId);
    await expect(f.pool.finalize(jobId)).to.be.revertedWithCustomError(f.pool, "StakePoolWrongState").withArgs(jobId, JobState.Finalized);
    const challengedJob = await challenged(f, f.v1);
    await time.increase(HOUR + 1);
    await expect(f.pool.finalize(challengedJob))
      .to.be.revertedWithCustomError(f.pool, "StakePoolWrongState")
      .withArgs(challengedJob, JobState.Verifying);
  });

  it("challenge: only the user, only while Committed, only by the challenge deadline", async function () {
    const f = await load();
    const open = await openJob(f);
    await expect(f.pool.connect(f.user).challenge(open)).to.be.revertedWithCustomError(f.pool, "StakePoolWrongState").withArgs(open, JobState.Open);
    const jobId = await openAndCommit(f);
    await expect(f.pool.connect(f.generator).challenge(jobId))
      .to.be.revertedWithCustomError(f.pool, "StakePoolNotUser")
      .withArgs(jobId, f.generator.address);
    await expect(f.pool.connect(f.stranger).challenge(jobId))
      .to.be.revertedWithCustomError(f.pool, "StakePoolNotUser")
      .withArgs(jobId, f.stranger.address);
    const { deadline } = await f.pool.getJob(jobId);
    await time.increaseTo(deadline + 1n);
    await expect(f.pool.connect(f.user).challenge(jobId))
      .to.be.revertedWithCustomError(f.pool, "StakePoolDeadlinePassed")
      .withArgs(jobId, deadline);
    const twice = await challenged(f, f.v1);
    await expect(f.pool.connect(f.user).challenge(twice))
      .to.be.revertedWithCustomError(f.pool, "StakePoolWrongState")
      .withArgs(twice, JobState.Verifying);
  });

  it("commitResult: only the drawn verifier, only while Verifying, by its deadline, not zero", async function () {
    const f = await load();
    const committed = await openAndCommit(f);
    const c = ethers.keccak256("0x01");
    await expect(f.pool.connect(f.v1).commitResult(committed, c))
      .to.be.revertedWithCustomError(f.pool, "StakePoolWrongState")
      .withArgs(committed, JobState.Committed);
    const jobId = await challenged(f, f.v1);
    for (const s of [f.v2, f.user, f.generator, f.stranger]) {
      await expect(f.pool.connect(s).commitResult(jobId, c))
        .to.be.revertedWithCustomError(f.pool, "StakePoolNotAssignedVerifier")
        .withArgs(jobId, s.address);
    }
    await expect(f.pool.connect(f.v1).commitResult(jobId, ethers.ZeroHash))
      .to.be.revertedWithCustomError(f.pool, "StakePoolEmptyCommitment")
      .withArgs(jobId);
    const { deadline } = await f.pool.getJob(jobId);
    await time.increaseTo(deadline + 1n);
    await expect(f.pool.connect(f.v1).commitResult(jobId, c))
      .to.be.revertedWithCustomError(f.pool, "StakePoolDeadlinePassed")
      .withArgs(jobId, deadline);
    // twice: the job is in Answering after the first commit
    const other = await challenged(f, f.v2);
    await commitResult(f, other, claim);
    await expect(f.pool.connect(f.v2).commitResult(other, c))
      .to.be.revertedWithCustomError(f.pool, "StakePoolWrongState")
      .withArgs(other, JobState.Answering);
  });

  it("answerFingerprint: only the generator and earlier verifiers, once each, by the answer deadline", async function () {
    const f = await load();
    const jobId = await challenged(f, f.v1);
    await expect(f.pool.connect(f.generator).answerFingerprint(jobId, HONEST_FP))
      .to.be.revertedWithCustomError(f.pool, "StakePoolWrongState")
      .withArgs(jobId, JobState.Verifying);
    await submit(f, jobId, miss(0), f.v2);
    await commitResult(f, jobId, miss(0));
    for (const s of [f.v2, f.user, f.stranger, f.v3]) {
      await expect(f.pool.connect(s).answerFingerprint(jobId, HONEST_FP))
        .to.be.revertedWithCustomError(f.pool, "StakePoolNotAnswerer")
        .withArgs(jobId, s.address);
    }
    await f.pool.connect(f.v1).answerFingerprint(jobId, HONEST_FP);
    await expect(f.pool.connect(f.v1).answerFingerprint(jobId, HONEST_FP))
      .to.be.revertedWithCustomError(f.pool, "StakePoolAlreadyAnswered")
      .withArgs(jobId, f.v1.address);
    const { deadline } = await f.pool.getJob(jobId);
    const answerDeadline = deadline - BigInt(TEST_PARAMS.verifyWindow);
    await time.increaseTo(answerDeadline + 1n);
    await expect(f.pool.connect(f.generator).answerFingerprint(jobId, HONEST_FP))
      .to.be.revertedWithCustomError(f.pool, "StakePoolDeadlinePassed")
      .withArgs(jobId, answerDeadline);
  });

  it("revealResult: only the drawn verifier, after the answers, by the reveal deadline, as committed, with a well-formed bitmap", async function () {
    const f = await load();
    const jobId = await challenged(f, f.v1);
    await expect(f.pool.connect(f.v1).revealResult(jobId, claim, HONEST_FP, SALT))
      .to.be.revertedWithCustomError(f.pool, "StakePoolWrongState")
      .withArgs(jobId, JobState.Verifying);
    await commitResult(f, jobId, claim);
    const { deadline } = await f.pool.getJob(jobId);
    const answerDeadline = deadline - BigInt(TEST_PARAMS.verifyWindow);
    await expect(f.pool.connect(f.v1).revealResult(jobId, claim, HONEST_FP, SALT))
      .to.be.revertedWithCustomError(f.pool, "StakePoolRevealTooEarly")
      .withArgs(jobId, answerDeadline);
    await f.pool.connect(f.generator).answerFingerprint(jobId, HONEST_FP);
    for (const s of [f.v2, f.user, f.generator, f.stranger]) {
      await expect(f.pool.connect(s).revealResult(jobId, claim, HONEST_FP, SALT))
        .to.be.revertedWithCustomError(f.pool, "StakePoolNotAssignedVerifier")
        .withArgs(jobId, s.address);
    }
    // NUM_CHECKS = 20: 3 bytes, the last 4 bits unused
    await expect(f.pool.connect(f.v1).revealResult(jobId, claim.slice(0, 2), HONEST_FP, SALT))
      .to.be.revertedWithCustomError(f.pool, "StakePoolBadBitmapLength")
      .withArgs(jobId, 2, 3);
    await expect(f.pool.connect(f.v1).revealResult(jobId, new Uint8Array([0xff, 0xff, 0xf1]), HONEST_FP, SALT))
      .to.be.revertedWithCustomError(f.pool, "StakePoolBitmapTrailingBits")
      .withArgs(jobId);
    // a different bitmap, fingerprint or salt than committed
    for (const [b, fp, salt] of [
      [miss(0), HONEST_FP, SALT],
      [claim, GUESSED_FP, SALT],
      [claim, HONEST_FP, ethers.ZeroHash],
    ] as const) {
      await expect(f.pool.connect(f.v1).revealResult(jobId, b, fp, salt)).to.be.revertedWithCustomError(f.pool, "StakePoolCommitmentMismatch");
    }
    await time.increaseTo(deadline + 1n);
    await expect(f.pool.connect(f.v1).revealResult(jobId, claim, HONEST_FP, SALT))
      .to.be.revertedWithCustomError(f.pool, "StakePoolDeadlinePassed")
      .withArgs(jobId, deadline);
  });

  it("revealResult: an earlier verifier of the job cannot reveal for the current stage", async function () {
    const f = await load();
    const jobId = await challenged(f, f.v1);
    await submit(f, jobId, miss(0), f.v2);
    await commitResult(f, jobId, miss(0));
    await expect(f.pool.connect(f.v1).revealResult(jobId, miss(0), HONEST_FP, SALT))
      .to.be.revertedWithCustomError(f.pool, "StakePoolNotAssignedVerifier")
      .withArgs(jobId, f.v1.address);
  });

  it("timeoutVerifier: only while Verifying, only after the result deadline", async function () {
    const f = await load();
    const committed = await openAndCommit(f);
    await expect(f.pool.timeoutVerifier(committed))
      .to.be.revertedWithCustomError(f.pool, "StakePoolWrongState")
      .withArgs(committed, JobState.Committed);
    const jobId = await challenged(f, f.v1);
    const { deadline } = await f.pool.getJob(jobId);
    await expect(f.pool.timeoutVerifier(jobId))
      .to.be.revertedWithCustomError(f.pool, "StakePoolDeadlineNotReached")
      .withArgs(jobId, deadline);
  });

  it("drawVerifiers: nothing to draw with an empty queue, pending randomness reverts, draws nothing before an epoch starts", async function () {
    const f = await load();
    await expect(f.pool.drawVerifiers(10)).to.be.revertedWithCustomError(f.pool, "StakePoolNothingToDraw");
    const jobId = await openAndCommit(f);
    await f.rnd.setMode(1);
    await f.pool.connect(f.user).challenge(jobId);
    await expect(f.pool.drawVerifiers(10)).to.be.revertedWithCustomError(f.pool, "StakePoolRandomnessPending").withArgs(1n);
    await f.rnd.setMode(0);
    expect(await f.pool.drawVerifiers.staticCall(0)).to.equal(0n); // maxDraws 0 draws nothing
  });

  it("declineAssignment: only the drawn verifier, only while Verifying, only early", async function () {
    const f = await load();
    const committed = await openAndCommit(f);
    await expect(f.pool.connect(f.v1).declineAssignment(committed)).to.be.revertedWithCustomError(f.pool, "StakePoolWrongState").withArgs(committed, JobState.Committed);
    const jobId = await challenged(f, f.v1);
    await expect(f.pool.connect(f.v2).declineAssignment(jobId)).to.be.revertedWithCustomError(f.pool, "StakePoolNotAssignedVerifier").withArgs(jobId, f.v2.address);
    const { deadline } = await f.pool.getJob(jobId);
    const until = deadline - BigInt(HOUR) + BigInt(HOUR / 4);
    await time.increaseTo(until + 1n);
    await expect(f.pool.connect(f.v1).declineAssignment(jobId)).to.be.revertedWithCustomError(f.pool, "StakePoolDeclineTooLate").withArgs(jobId, until);
  });

  it("timeoutDraw: only while AwaitingVerifier, only after the draw deadline", async function () {
    const f = await load();
    const committed = await openAndCommit(f);
    await expect(f.pool.timeoutDraw(committed)).to.be.revertedWithCustomError(f.pool, "StakePoolWrongState").withArgs(committed, JobState.Committed);
    await f.pool.connect(f.user).challenge(committed);
    const { deadline } = await f.pool.getJob(committed);
    await expect(f.pool.timeoutDraw(committed)).to.be.revertedWithCustomError(f.pool, "StakePoolDeadlineNotReached").withArgs(committed, deadline);
    await time.increase(DAY + 1);
    await f.pool.timeoutDraw(committed);
    await expect(f.pool.timeoutDraw(committed)).to.be.revertedWithCustomError(f.pool, "StakePoolWrongState").withArgs(committed, JobState.Unverified);
  });

  it("openJob: rejects amounts where confirming would pay less than agreeing, a βCv above the cap and an underserved model", async function () {
    const f = await load();
    // βCg = 1.5·Cg must exceed 2αCv + βCv = 2.5·Cv: Cg = 50, Cv = 30 gives 75 ≤ 75
    await expect(f.pool.connect(f.user).openJob(f.generator.address, MODEL_ID, T(50), T(30), REQUEST_HASH, REQUEST_URI))
      .to.be.revertedWithCustomError(f.pool, "StakePoolCostRatio")
      .withArgs(T(50), T(30));
    // βCv = 1.5·40 = 60 > 50 (minBond 100 · 50 %)
    await expect(f.pool.connect(f.user).openJob(f.generator.address, MODEL_ID, T(1000), T(40), REQUEST_HASH, REQUEST_URI))
      .to.be.revertedWithCustomError(f.pool, "StakePoolVerifierStakeTooLarge")
      .withArgs(T(60), T(50));
    const unknown = "0x" + "44".repeat(32);
    await expect(f.pool.connect(f.user).openJob(f.generator.address, unknown, T(100), T(20), REQUEST_HASH, REQUEST_URI))
      .to.be.revertedWithCustomError(f.pool, "StakePoolModelUnderserved")
      .withArgs(unknown, 0n, 0n, T(300), 5n);
    await f.pool.connect(f.v1).requestUnbond(BOND);
    await expect(f.pool.connect(f.user).openJob(f.generator.address, MODEL_ID, T(100), T(20), REQUEST_HASH, REQUEST_URI))
      .to.be.revertedWithCustomError(f.pool, "StakePoolModelUnderserved")
      .withArgs(MODEL_ID, T(400), 4n, T(300), 5n);
  });

  it("setModels: at most 8, non-zero, distinct; sync and syncPending refuse during an epoch", async function () {
    const f = await load();
    const ids = Array.from({ length: 9 }, (_, i) => "0x" + (i + 1).toString(16).padStart(64, "0"));
    await expect(f.pool.connect(f.v6).setModels(ids)).to.be.revertedWithCustomError(f.pool, "StakePoolBadModelList").withArgs(9, 8);
    await expect(f.pool.connect(f.v6).setModels([ethers.ZeroHash])).to.be.revertedWithCustomError(f.pool, "StakePoolBadModelList");
    await expect(f.pool.connect(f.v6).setModels([MODEL_ID, MODEL_ID])).to.be.revertedWithCustomError(f.pool, "StakePoolBadModelList");
    const jobId = await openAndCommit(f);
    await f.pool.connect(f.user).challenge(jobId);
    await expect(f.pool.sync(f.v1.address)).to.be.revertedWithCustomError(f.pool, "StakePoolDrawEpochInProgress");
    await expect(f.pool.syncPending(1)).to.be.revertedWithCustomError(f.pool, "StakePoolDrawEpochInProgress");
  });

  it("withdraw: reverts when there is nothing to withdraw", async function () {
    const f = await load();
    await expect(f.pool.connect(f.stranger).withdraw())
      .to.be.revertedWithCustomError(f.pool, "StakePoolNothingToWithdraw")
      .withArgs(f.stranger.address);
  });

  it("bond: rejects zero, a bond below the minimum and a bond beyond 96 bits", async function () {
    const f = await load();
    await expect(f.pool.connect(f.v6).bond(0)).to.be.revertedWithCustomError(f.pool, "StakePoolZeroAmount");
    await expect(f.pool.connect(f.v6).bond(T(99)))
      .to.be.revertedWithCustomError(f.pool, "StakePoolBondBelowMinimum")
      .withArgs(f.v6.address, T(99), T(100));
    const tooMuch = 2n ** 96n;
    await f.token.mint(f.v6.address, tooMuch);
    await expect(f.pool.connect(f.v6).bond(tooMuch))
      .to.be.revertedWithCustomError(f.pool, "StakePoolBondTooLarge")
      .withArgs(f.v6.address, tooMuch);
  });

  it("requestUnbond: rejects zero, more than the bond, and a remainder below the minimum", async function () {
    const f = await load();
    await expect(f.pool.connect(f.v1).requestUnbond(0)).to.be.revertedWithCustomError(f.pool, "StakePoolZeroAmount");
    await expect(f.pool.connect(f.v1).requestUnbond(T(101)))
      .to.be.revertedWithCustomError(f.pool, "StakePoolInsufficientBond")
      .withArgs(f.v1.address, T(100), T(101));
    await expect(f.pool.connect(f.v1).requestUnbond(T(95)))
      .to.be.revertedWithCustomError(f.pool, "StakePoolBondBelowMinimum")
      .withArgs(f.v1.address, T(5), T(100));
    await f.pool.connect(f.v1).bond(T(17));
    for (let i = 0; i < 16; i++) await f.pool.connect(f.v1).requestUnbond(T(1));
    await expect(f.pool.connect(f.v1).requestUnbond(T(1)))
      .to.be.revertedWithCustomError(f.pool, "StakePoolTooManyUnbondRequests")
      .withArgs(f.v1.address, 16);
    await expect(f.pool.connect(f.stranger).requestUnbond(1))
      .to.be.revertedWithCustomError(f.pool, "StakePoolInsufficientBond")
      .withArgs(f.stranger.address, 0n, 1n);
  });

  it("withdrawUnbonded: reverts with nothing pending and before the delay", async function () {
    const f = await load();
    await expect(f.pool.connect(f.v1).withdrawUnbonded())
      .to.be.revertedWithCustomError(f.pool, "StakePoolNothingToWithdraw")
      .withArgs(f.v1.address);
    await f.pool.connect(f.v1).bond(T(10));
    await f.pool.connect(f.v1).requestUnbond(T(10));
    const readyAt = BigInt((await time.latest()) + 7 * DAY);
    await expect(f.pool.connect(f.v1).withdrawUnbonded())
      .to.be.revertedWithCustomError(f.pool, "StakePoolUnbondNotReady")
      .withArgs(f.v1.address, readyAt);
  });

  it("setParams: owner only; every field bounded; β ≥ α", async function () {
    const f = await load();
    await expect(f.pool.connect(f.user).setParams((TEST_PARAMS)))
      .to.be.revertedWithCustomError(f.pool, "OwnableUnauthorizedAccount")
      .withArgs(f.user.address);
    const bad: [keyof PoolParams, number | bigint, bigint, bigint][] = [
      ["alphaBps", 0, 1n, 100_000n],
      ["alphaBps", 100_001, 1n, 100_000n],
      ["betaBps", 1_000_001, 1n, 1_000_000n],
      ["commitWindow", 59, 60n, 30n * 86_400n],
      ["challengeWindow", 30 * 86_400 + 1, 60n, 30n * 86_400n],
      ["verifyWindow", 0, 60n, 30n * 86_400n],
      ["drawWindow", 31 * 86_400, 60n, 30n * 86_400n],
      ["maxStages", 0, 1n, 16n],
      ["maxStages", 17, 1n, 16n],
      ["unbondDelay", 366 * 86_400, 0n, 365n * 86_400n],
      ["minBond", 0n, 1n, 2n ** 96n - 1n],
      ["minModelStake", 0n, 1n, 2n ** 96n - 1n],
      ["maxStakeBps", 0, 1n, 10_000n],
      ["maxStakeBps", 10_001, 1n, 10_000n],
      ["declineFeeBps", 10_001, 0n, 10_000n],
    ];
    for (const [name, value, min, max] of bad) {
      const p = { ...TEST_PARAMS, [name]: value } as PoolParams;
      if (name === "alphaBps" && Number(value) > TEST_PARAMS.betaBps) p.betaBps = 1_000_000;
      await expect(f.pool.connect(f.owner).setParams((p)), name)
        .to.be.revertedWithCustomError(f.pool, "StakePoolParamOutOfRange")
        .withArgs(name, BigInt(value), min, max);
    }
    await expect(f.pool.connect(f.owner).setParams(({ ...TEST_PARAMS, alphaBps: 20_000, betaBps: 19_999 })))
      .to.be.revertedWithCustomError(f.pool, "StakePoolBetaBelowAlpha")
      .withArgs(20_000, 19_999);
  });

  it("setRandomnessSource: owner only, non-zero", async function () {
    const f = await load();
    await expect(f.pool.connect(f.user).setRandomnessSource(f.user.address))
      .to.be.revertedWithCustomError(f.pool, "OwnableUnauthorizedAccount")
      .withArgs(f.user.address);
    await expect(f.pool.connect(f.owner).setRandomnessSource(ethers.ZeroAddress)).to.be.revertedWithCustomError(
      f.pool,
      "StakePoolZeroAddress",
    );
  });

  it("constructor: rejects a zero token, randomness source or treasury and invalid parameters", async function () {
    const f = await load();
    const lib = await ethers.deployContract("RegistryLogic");
    const settlement = await ethers.deployContract("Settlement");
    const factory = await ethers.getContractFactory("StakePool", {
      libraries: { RegistryLogic: await lib.getAddress(), Settlement: await settlement.getAddress() },
    });
    const token = await f.token.getAddress();
    const rnd = await f.rnd.getAddress();
    const t = f.treasury.address;
    await expect(factory.deploy(ethers.ZeroAddress, f.owner.address, TEST_PARAMS, rnd, t)).to.be.revertedWithCustomError(f.pool, "StakePoolZeroAddress");
    await expect(factory.deploy(token, f.owner.address, TEST_PARAMS, ethers.ZeroAddress, t)).to.be.revertedWithCustomError(f.pool, "StakePoolZeroAddress");
    await expect(factory.deploy(token, f.owner.address, TEST_PARAMS, rnd, ethers.ZeroAddress)).to.be.revertedWithCustomError(f.pool, "StakePoolZeroTreasury");
    await expect(factory.deploy(token, f.owner.address, { ...TEST_PARAMS, betaBps: 1 }, rnd, t))
      .to.be.revertedWithCustomError(f.pool, "StakePoolBetaBelowAlpha")
      .withArgs(5_000, 1);
    await expect(factory.deploy(token, ethers.ZeroAddress, TEST_PARAMS, rnd, t))
      .to.be.revertedWithCustomError(f.pool, "OwnableInvalidOwner")
      .withArgs(ethers.ZeroAddress);
  });

  it("setTreasury: owner only, non-zero", async function () {
    const f = await load();
    await expect(f.pool.connect(f.user).setTreasury(f.user.address)).to.be.revertedWithCustomError(f.pool, "OwnableUnauthorizedAccount");
    await expect(f.pool.connect(f.owner).setTreasury(ethers.ZeroAddress)).to.be.revertedWithCustomError(f.pool, "StakePoolZeroTreasury");
    await expect(f.pool.connect(f.owner).setTreasury(f.other.address)).to.emit(f.pool, "TreasuryUpdated").withArgs(f.treasury.address, f.other.address);
    expect(await f.pool.treasury()).to.equal(f.other.address);
  });

  it("ownership: only the owner transfers or renounces, only the pending owner accepts", async function () {
    const f = await load();
    await expect(f.pool.connect(f.user).transferOwnership(f.user.address))
      .to.be.revertedWithCustomError(f.pool, "OwnableUnauthorizedAccount")
      .withArgs(f.user.address);
    await expect(f.pool.connect(f.user).renounceOwnership())
      .to.be.revertedWithCustomError(f.pool, "OwnableUnauthorizedAccount")
      .withArgs(f.user.address);
    await f.pool.connect(f.owner).transferOwnership(f.other.address);
    await expect(f.pool.connect(f.stranger).acceptOwnership())
      .to.be.revertedWithCustomError(f.pool, "OwnableUnauthorizedAccount")
      .withArgs(f.stranger.address);
  });

  it("reverts never move funds: a failed call leaves balances, credits and the job untouched", async function () {
    const f = await load();
    const jobId = await challenged(f, f.v1);
    const snapshot = async () => [
      await f.token.balanceOf(f.poolAddress),
      await f.pool.escrowOf(jobId),
      await f.pool.creditOf(f.user.address),
      (await f.pool.bondOf(f.v1.address)).bond,
      (await f.pool.getJob(jobId)).state,
    ];
    const before = await snapshot();
    await expect(f.pool.connect(f.v1).commitResult(jobId, ethers.ZeroHash)).to.be.revertedWithCustomError(f.pool, "StakePoolEmptyCommitment");
    await expect(f.pool.finalize(jobId)).to.be.revertedWithCustomError(f.pool, "StakePoolWrongState");
    expect(await snapshot()).to.deep.equal(before);
  });
});
