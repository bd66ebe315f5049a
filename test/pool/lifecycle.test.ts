/**
 * Job life cycle beyond Table 1: cancel, stalemate, no-show, no eligible verifier, the draw's
 * exclusions, parameter snapshots, bonds, views and withdrawals.
 */
import { expect } from "chai";
import { createPoolContext, E18, claim, miss, HOUR, DAY, NUM_CHECKS, ROOT, URI, MODEL_ID, OTHER_MODEL, REQUEST_HASH, REQUEST_URI, TEST_PARAMS, BOND, HONEST_FP, GUESSED_FP, SALT } from "./helpers.js";
import { JobState, StageStatus, claimBitmap } from "../../scripts/lib/state.js";

const T = (n: number | bigint) => BigInt(n) * E18;

const ctx = await createPoolContext();
const { ethers, networkHelpers, deployFixture, pickOf, wordFor, drawFor, openJob, openAndCommit, challenged, submit, withdrawAll, totalBonds } = ctx;
const load = () => networkHelpers.loadFixture(deployFixture);
const { time } = networkHelpers;

describe("StakePool: life cycle", function () {
  describe("open and cancel", function () {
    it("opens a job with the user's deposit αCg + αCv and emits every amount", async function () {
      const f = await load();
      const before = await f.token.balanceOf(f.user.address);
      const tx = f.pool.connect(f.user).openJob(f.generator.address, MODEL_ID, T(100), T(20), REQUEST_HASH, REQUEST_URI);
      const deadline = BigInt((await time.latest()) + 1 + HOUR);
      await expect(tx)
        .to.emit(f.pool, "JobOpened")
        .withArgs(1n, f.user.address, f.generator.address, MODEL_ID, T(50), T(10), T(150), T(30), deadline, 0, REQUEST_HASH, REQUEST_URI);
      expect(before - (await f.token.balanceOf(f.user.address))).to.equal(T(60));
      const j = await f.pool.getJob(1n);
      expect(j.state).to.equal(JobState.Open);
      expect(j.user).to.equal(f.user.address);
      expect(j.generator).to.equal(f.generator.address);
      expect(j.deadline).to.equal(deadline);
      expect(j.escrow).to.equal(T(60));
      expect(await f.pool.nextJobId()).to.equal(2n);
    });

    it("cancels after the commit deadline (anyone may call) and refunds the user in full", async function () {
      const f = await load();
      const jobId = await openJob(f);
      await time.increase(HOUR + 1);
      await expect(f.pool.connect(f.stranger).cancel(jobId))
        .to.emit(f.pool, "JobCancelled")
        .withArgs(jobId, f.user.address, T(60));
      expect(await f.pool.creditOf(f.user.address)).to.equal(T(60));
      const j = await f.pool.getJob(jobId);
      expect(j.state).to.equal(JobState.Cancelled);
      expect(j.deadline).to.equal(0n);
      expect(j.escrow).to.equal(0n);
      // the generator can no longer commit
      await expect(f.pool.connect(f.generator).commit(jobId, ROOT, NUM_CHECKS, URI))
        .to.be.revertedWithCustomError(f.pool, "StakePoolWrongState")
        .withArgs(jobId, JobState.Cancelled);
    });

    it("commits with the generator's stake βCg, stores numChecks, emits the root and the URI", async function () {
      const f = await load();
      const jobId = await openJob(f);
      const tx = f.pool.connect(f.generator).commit(jobId, ROOT, NUM_CHECKS, URI);
      const deadline = BigInt((await time.latest()) + 1 + HOUR);
      await expect(tx)
        .to.emit(f.pool, "JobCommitted")
        .withArgs(jobId, f.generator.address, ROOT, NUM_CHECKS, URI, T(150), deadline);
      const j = await f.pool.getJob(jobId);
      expect(j.state).to.equal(JobState.Committed);
      expect(j.numChecks).to.equal(BigInt(NUM_CHECKS));
      expect(j.escrow).to.equal(T(210));
    });

    it("accepts actions exactly at a deadline and opens the way forward one second later", async function () {
      const f = await load();
      const jobId = await openJob(f);
      const { deadline } = await f.pool.getJob(jobId);
      await time.setNextBlockTimestamp(deadline);
      await f.pool.connect(f.generator).commit(jobId, ROOT, NUM_CHECKS, URI); // at the deadline: allowed
      const c = await f.pool.getJob(jobId);
      await time.setNextBlockTimestamp(c.deadline);
      await expect(f.pool.finalize(jobId)).to.be.revertedWithCustomError(f.pool, "StakePoolDeadlineNotReached");
      await time.setNextBlockTimestamp(c.deadline + 1n);
      await f.pool.finalize(jobId);
    });
  });

  describe("stalemate (v2: pays neither the user nor the generator)", function () {
    it("after maxStages mutually different results: user gets αCv back, every other deposit goes to the treasury", async function () {
      const f = await load();
      const userBefore = await f.token.balanceOf(f.user.address);
      const generatorBefore = await f.token.balanceOf(f.generator.address);
      const jobId = await challenged(f, f.v1);
      await submit(f, jobId, miss(0), f.v2);
      await submit(f, jobId, miss(1), f.v3);
      expect(await f.pool.escrowOf(jobId)).to.equal(T(50 + 10 + 150 + 90));
      await expect(submit(f, jobId, miss(2)))
        .to.emit(f.pool, "JobSettled")
        .withArgs(jobId, JobState.Stalemate, 3, T(10), 0n, [f.v1.address, f.v2.address, f.v3.address], [0n, 0n, 0n], T(50 + 150 + 90));
      expect((await f.pool.getJob(jobId)).state).to.equal(JobState.Stalemate);
      expect(await f.pool.creditOf(f.treasury.address)).to.equal(T(290));
      await withdrawAll(f);
      // the user paid αCg for the inference, as without a challenge; the generator lost its stake and its pay
      expect(userBefore - (await f.token.balanceOf(f.user.address))).to.equal(T(50));
      expect(generatorBefore - (await f.token.balanceOf(f.generator.address))).to.equal(T(150));
      expect(await f.token.balanceOf(f.poolAddress)).to.equal(await totalBonds(f));
    });

    it("ends at stage 1 when maxStages is 1", async function () {
      const f = await load();
      await f.pool.connect(f.owner).setParams({ ...TEST_PARAMS, maxStages: 1 });
      const jobId = await challenged(f, f.v1);
      await submit(f, jobId, miss(0));
      expect((await f.pool.getJob(jobId)).state).to.equal(JobState.Stalemate);
      expect(await f.pool.creditOf(f.v1.address)).to.equal(0n);
      expect(await f.pool.creditOf(f.treasury.address)).to.equal(T(50 + 150 + 30));
    });
  });

  describe("no-show and declining verifiers", function () {
    it("forfeits the no-show's βCv to the treasury (not the user) and queues the same stage again", async function () {
      const f = await load();
      const jobId = await challenged(f, f.v1);
      await time.increase(HOUR + 1);
      const tx = f.pool.connect(f.stranger).timeoutVerifier(jobId);
      await expect(tx).to.emit(f.pool, "VerifierTimedOut").withArgs(jobId, 1, f.v1.address, T(30));
      await expect(tx).to.emit(f.pool, "DrawQueued");
      expect(await f.pool.creditOf(f.treasury.address)).to.equal(T(30));
      expect(await f.pool.creditOf(f.user.address)).to.equal(0n);
      expect((await f.pool.getJob(jobId)).state).to.equal(JobState.AwaitingVerifier);
      expect(await f.pool.getStage(jobId, 1)).to.deep.equal([f.v1.address, BigInt(StageStatus.NoShow), ethers.ZeroHash]);
      await drawFor(f, jobId, f.v2);
      expect((await f.pool.currentStage(jobId))[1]).to.equal(f.v2.address);
      // the escrow holds one stake for stage 1 again (v2's)
      expect(await f.pool.escrowOf(jobId)).to.equal(T(50 + 10 + 150 + 30));
      await submit(f, jobId, claim);
      expect(await f.pool.creditOf(f.v2.address)).to.equal(T(40));
      await withdrawAll(f);
      expect(await f.token.balanceOf(f.poolAddress)).to.equal(await totalBonds(f));
    });

    it("never draws a no-show again for the same job", async function () {
      const f = await load();
      const jobId = await challenged(f, f.v1);
      await time.increase(HOUR + 1);
      await f.pool.timeoutVerifier(jobId);
      // a word whose first pick is v1: v1 is excluded, a later attempt picks someone else
      await f.rnd.set(await wordFor(f, jobId, 1n, f.v1));
      await f.pool.drawVerifiers(10);
      const [, drawn] = await f.pool.currentStage(jobId);
      expect(drawn).to.not.equal(f.v1.address);
      expect(drawn).to.not.equal(ethers.ZeroAddress);
    });

    it("lets the drawn verifier decline within a quarter of its window for the decline fee, then redraws", async function () {
      const f = await load();
      const jobId = await challenged(f, f.v1);
      await expect(f.pool.connect(f.v2).declineAssignment(jobId))
        .to.be.revertedWithCustomError(f.pool, "StakePoolNotAssignedVerifier")
        .withArgs(jobId, f.v2.address);
      // fee 10 % of 30 = 3 to the treasury, 27 credited back
      await expect(f.pool.connect(f.v1).declineAssignment(jobId))
        .to.emit(f.pool, "VerifierDeclined")
        .withArgs(jobId, 1, f.v1.address, T(3), T(27));
      expect(await f.pool.creditOf(f.treasury.address)).to.equal(T(3));
      expect(await f.pool.creditOf(f.v1.address)).to.equal(T(27));
      expect(await f.pool.getStage(jobId, 1)).to.deep.equal([f.v1.address, BigInt(StageStatus.Declined), ethers.ZeroHash]);
      await drawFor(f, jobId, f.v3);
      const [, , deadline] = await f.pool.currentStage(jobId);
      await time.increaseTo(Number(deadline) - HOUR + HOUR / 4 + 1);
      await expect(f.pool.connect(f.v3).declineAssignment(jobId)).to.be.revertedWithCustomError(f.pool, "StakePoolDeclineTooLate");
      await submit(f, jobId, claim);
      await withdrawAll(f);
      expect(await f.token.balanceOf(f.poolAddress)).to.equal(await totalBonds(f));
    });
  });

  describe("the draw queue", function () {
    it("queues the challenge, requests randomness at once and draws from a later transaction", async function () {
      const f = await load();
      const jobId = await openAndCommit(f);
      const tx = f.pool.connect(f.user).challenge(jobId);
      await expect(tx).to.emit(f.pool, "JobChallenged").withArgs(jobId, f.user.address);
      await expect(tx).to.emit(f.pool, "DrawQueued").withArgs(jobId, 1, 0n, BigInt((await time.latest()) + DAY));
      await expect(tx).to.emit(f.pool, "DrawEpochStarted").withArgs(1n, 0n, 1n);
      expect((await f.pool.getJob(jobId)).state).to.equal(JobState.AwaitingVerifier);
      expect(await f.pool.drawEpoch()).to.deep.equal([true, 1n, 0n, 1n, 1n]);
      await f.rnd.setMode(1); // Pending
      await expect(f.pool.drawVerifiers(10)).to.be.revertedWithCustomError(f.pool, "StakePoolRandomnessPending").withArgs(1n);
      await f.rnd.setMode(0);
      const word = await wordFor(f, jobId, 1n, f.v4);
      await f.rnd.set(word);
      // the stage's fingerprint seed: the low 64 bits of keccak256(r), r the draw's value
      const abi = ethers.AbiCoder.defaultAbiCoder();
      const r = ethers.keccak256(abi.encode(["uint256", "uint256", "uint256", "uint256"], [word, jobId, 1n, 0n]));
      const seed = BigInt(ethers.keccak256(abi.encode(["uint256"], [r]))) & ((1n << 64n) - 1n);
      await expect(f.pool.connect(f.stranger).drawVerifiers(10))
        .to.emit(f.pool, "VerifierAssigned")
        .withArgs(jobId, 1, f.v4.address, T(30), BigInt((await time.latest()) + 1 + HOUR), seed);
      expect(await f.pool.stageRound(jobId, 1)).to.deep.equal([ethers.ZeroHash, seed, 0n]);
      // the queue drained: its indices start again at 0 (drawn slots are reused)
      expect(await f.pool.drawEpoch()).to.deep.equal([false, 1n, 0n, 0n, 0n]);
      await expect(f.pool.drawVerifiers(10)).to.be.revertedWithCustomError(f.pool, "StakePoolNothingToDraw");
    });

    it("requests again when the word expired, keeping the same entries", async function () {
      const f = await load();
      const jobId = await openAndCommit(f);
      await f.pool.connect(f.user).challenge(jobId);
      await f.rnd.setMode(2); // Expired
      await expect(f.pool.drawVerifiers(10)).to.emit(f.pool, "DrawEpochStarted").withArgs(2n, 0n, 1n);
      await f.rnd.setMode(0);
      await drawFor(f, jobId, f.v2);
      expect((await f.pool.currentStage(jobId))[1]).to.equal(f.v2.address);
    });

    it("draws queued stages strictly in queue order, in batches of any size", async function () {
      const f = await load();
      const a = await openAndCommit(f);
      const b = await openAndCommit(f);
      await f.pool.connect(f.user).challenge(a); // epoch 1 covers a
      await f.pool.connect(f.user).challenge(b); // waits for epoch 2
      expect((await f.pool.drawEpoch()).epochEnd).to.equal(1n);
      await f.rnd.set(await wordFor(f, a, 1n, f.v1));
      expect(await f.pool.drawVerifiers.staticCall(10)).to.equal(1n);
      await f.pool.drawVerifiers(10);
      expect((await f.pool.getJob(b)).state).to.equal(JobState.AwaitingVerifier);
      await drawFor(f, b, f.v2);
      expect((await f.pool.currentStage(a))[1]).to.equal(f.v1.address);
      expect((await f.pool.currentStage(b))[1]).to.equal(f.v2.address);
    });

    it("puts a stage back in the queue when nobody eligible is drawn, and a later epoch assigns one", async function () {
      const f = await load();
      const jobId = await openAndCommit(f);
      // every verifier unbonds down to 0 free bond but v1..v5 keep their (stale) weights until synced
      await f.pool.connect(f.user).challenge(jobId); // epoch frozen: the unbonds below do not move weights
      for (const v of [f.v1, f.v2, f.v3, f.v4, f.v5]) await f.pool.connect(v).requestUnbond(BOND);
      await expect(f.pool.drawVerifiers(10)).to.emit(f.pool, "VerifierUnavailable").withArgs(jobId, 1, (await f.pool.getJob(jobId)).deadline);
      expect((await f.pool.drawEpoch()).tail).to.equal(2n);
      expect((await f.pool.getJob(jobId)).state).to.equal(JobState.AwaitingVerifier);
      // v6 joins and is drawn in the next epoch
      await f.pool.connect(f.v6).setModels([MODEL_ID]);
      await f.pool.connect(f.v6).bond(BOND);
      await f.pool.syncPending(10);
      await drawFor(f, jobId, f.v6);
      expect((await f.pool.currentStage(jobId))[1]).to.equal(f.v6.address);
    });

    it("settles as Unverified when stage 1 finds nobody by the draw deadline: generator paid, the user's αCv to the treasury (anyone may call)", async function () {
      const f = await load();
      const jobId = await openAndCommit(f);
      await f.pool.connect(f.user).challenge(jobId);
      for (const v of [f.v1, f.v2, f.v3, f.v4, f.v5]) await f.pool.connect(v).requestUnbond(BOND);
      await f.pool.drawVerifiers(10);
      await expect(f.pool.timeoutDraw(jobId)).to.be.revertedWithCustomError(f.pool, "StakePoolDeadlineNotReached");
      await time.increase(DAY + 1);
      await expect(f.pool.connect(f.stranger).timeoutDraw(jobId))
        .to.emit(f.pool, "JobSettled")
        .withArgs(jobId, JobState.Unverified, 1, 0n, T(200), [], [], T(10));
      expect((await f.pool.getJob(jobId)).state).to.equal(JobState.Unverified);
      // the stale queue entry is skipped
      await f.pool.syncPending(10);
      await f.pool.drawVerifiers(10);
      await f.pool.drawVerifiers(10);
      expect((await f.pool.getJob(jobId)).state).to.equal(JobState.Unverified);
      await withdrawAll(f);
      expect(await f.token.balanceOf(f.poolAddress)).to.equal(await totalBonds(f));
    });

    it("settles as a stalemate when a later stage finds nobody in time: dissenters refunded, generator's deposits to the treasury", async function () {
      const f = await load();
      const jobId = await challenged(f, f.v1);
      await submit(f, jobId, miss(0)); // stage 2 queued, epoch started
      for (const v of [f.v2, f.v3, f.v4, f.v5]) await f.pool.connect(v).requestUnbond(BOND);
      await f.pool.drawVerifiers(10);
      await time.increase(DAY + 1);
      await expect(f.pool.timeoutDraw(jobId))
        .to.emit(f.pool, "JobSettled")
        .withArgs(jobId, JobState.Stalemate, 2, T(10), 0n, [f.v1.address], [T(30)], T(200));
      await withdrawAll(f);
      expect(await f.token.balanceOf(f.poolAddress)).to.equal(await totalBonds(f));
    });
  });

  describe("the draw", function () {
    it("never draws the user, the generator or an earlier verifier of the job", async function () {
      const f = await load();
      // the user and the generator are verifiers too
      for (const s of [f.user, f.generator]) {
        await f.pool.connect(s).setModels([MODEL_ID]);
        await f.pool.connect(s).bond(BOND);
      }
      const jobId = await openAndCommit(f);
      await f.pool.connect(f.user).challenge(jobId);
      await f.rnd.set(await wordFor(f, jobId, 1n, f.user));
      await f.pool.drawVerifiers(1);
      const [, first] = await f.pool.currentStage(jobId);
      expect([f.user.address, f.generator.address, ethers.ZeroAddress]).to.not.include(first);
      const signer = f.signers.find((s) => s.address === first)!;
      await submit(f, jobId, miss(0));
      await f.rnd.set(await wordFor(f, jobId, 2n, signer));
      await f.pool.drawVerifiers(1);
      const [, second] = await f.pool.currentStage(jobId);
      expect([f.user.address, f.generator.address, first, ethers.ZeroAddress]).to.not.include(second);
    });

    it("draws in proportion to stake: a verifier with 3× the bond is picked about 3× as often", async function () {
      const f = await load();
      await f.pool.connect(f.v6).setModels([MODEL_ID]);
      await f.pool.connect(f.v6).bond(3n * BOND); // weights 100 ×5 and 300: v6 has 3/8
      let v6 = 0;
      const N = 400;
      for (let w = 0; w < N; w++) {
        if ((await pickOf(f, 1n, 1n, BigInt(w))) === f.v6.address) v6++;
      }
      // expected 150; a binomial standard deviation is ~9.7
      expect(v6).to.be.within(110, 190);
    });

    it("draws only verifiers that declared the job's model", async function () {
      const f = await load();
      await f.pool.connect(f.v6).setModels([OTHER_MODEL]);
      await f.pool.connect(f.v6).bond(10n * BOND);
      expect(await f.pool.weightOf(OTHER_MODEL, f.v6.address)).to.equal(10n * BOND);
      expect(await f.pool.weightOf(MODEL_ID, f.v6.address)).to.equal(0n);
      for (let w = 0n; w < 50n; w++) expect(await pickOf(f, 1n, 1n, w)).to.not.equal(f.v6.address);
    });

    it("skips a verifier whose free bond is below βCv (its weight is stale until synced)", async function () {
      const f = await load();
      for (let i = 0; i < 3; i++) await challenged(f, f.v1); // v1: 100 → 70 → 40 → 10 free
      expect((await f.pool.bondOf(f.v1.address)).bond).to.equal(T(10));
      const b = await openAndCommit(f);
      await f.pool.connect(f.user).challenge(b);
      await f.rnd.set(await wordFor(f, b, 1n, f.v1)); // the first pick is v1 (weight still 100 or 70)
      await f.pool.drawVerifiers(10);
      const [, drawn] = await f.pool.currentStage(b);
      expect(drawn).to.not.equal(f.v1.address);
      expect(drawn).to.not.equal(ethers.ZeroAddress);
    });

    it("locks βCv of the drawn verifier's bond, which it cannot unbond while it is in the job", async function () {
      const f = await load();
      await challenged(f, f.v1);
      expect((await f.pool.bondOf(f.v1.address)).bond).to.equal(T(70));
      await expect(f.pool.connect(f.v1).requestUnbond(T(71)))
        .to.be.revertedWithCustomError(f.pool, "StakePoolInsufficientBond")
        .withArgs(f.v1.address, T(70), T(71));
    });
  });

  describe("randomness sources", function () {
    for (const [mode, what] of [
      [3n, "reverts"],
      [4n, "burns all its gas"],
      [5n, "returns short data"],
    ] as const) {
      it(`treats a source that ${what} as a word not yet there: the job waits, then settles at the draw deadline`, async function () {
        const f = await load();
        const jobId = await openAndCommit(f);
        await f.pool.connect(f.user).challenge(jobId);
        await f.rnd.setMode(mode);
        await expect(f.pool.drawVerifiers(10)).to.be.revertedWithCustomError(f.pool, "StakePoolRandomnessPending");
        await time.increase(DAY + 1);
        await f.pool.timeoutDraw(jobId);
        expect((await f.pool.getJob(jobId)).state).to.equal(JobState.Unverified);
      });
    }

    it("a source whose request fails leaves the epoch unstarted; the queue is served once it works", async function () {
      const f = await load();
      const jobId = await openAndCommit(f);
      await f.rnd.setRequestReverts(true);
      await f.pool.connect(f.user).challenge(jobId); // the challenge itself succeeds
      expect((await f.pool.drawEpoch()).frozen).to.equal(false);
      await f.pool.drawVerifiers(10); // tries to start the epoch, fails quietly
      await f.rnd.setRequestReverts(false);
      await drawFor(f, jobId, f.v3);
      expect((await f.pool.currentStage(jobId))[1]).to.equal(f.v3.address);
    });

    it("uses FutureBlockRandomness: the word is the hash of the block after the request", async function () {
      const f = await load();
      const src = await ethers.deployContract("FutureBlockRandomness");
      await expect(f.pool.connect(f.owner).setRandomnessSource(await src.getAddress()))
        .to.emit(f.pool, "RandomnessSourceUpdated")
        .withArgs(await f.rnd.getAddress(), await src.getAddress());
      const jobId = await openAndCommit(f);
      await f.pool.connect(f.user).challenge(jobId);
      const { requestId } = await f.pool.drawEpoch();
      expect(requestId).to.equal(BigInt(await ethers.provider.getBlockNumber()) + 1n);
      const [status] = await src.randomness(requestId);
      expect(status).to.equal(0n); // Pending: the block does not exist yet
      await networkHelpers.mine(1);
      await f.pool.drawVerifiers(10);
      expect((await f.pool.getJob(jobId)).state).to.equal(JobState.Verifying);
      await networkHelpers.mine(300);
      const [late] = await src.randomness(requestId);
      expect(late).to.equal(2n); // Expired after 256 blocks
    });
  });

  describe("parameters", function () {
    it("does not change the terms of jobs already open when parameters change", async function () {
      const f = await load();
      const oldJob = await openJob(f);
      const newParams = { ...TEST_PARAMS, alphaBps: 10_000, betaBps: 30_000, challengeWindow: 5 * HOUR, maxStages: 1, maxStakeBps: 10_000 };
      await expect(f.pool.connect(f.owner).setParams(newParams)).to.emit(f.pool, "ParamsUpdated");
      const [current, id] = await f.pool.params();
      expect(id).to.equal(1n);
      expect(current.alphaBps).to.equal(10_000n);
      const newJob = await openJob(f);
      const a = await f.pool.getJob(oldJob);
      const b = await f.pool.getJob(newJob);
      expect([a.alphaCg, a.alphaCv, a.betaCg, a.betaCv, a.paramsId]).to.deep.equal([T(50), T(10), T(150), T(30), 0n]);
      expect([b.alphaCg, b.alphaCv, b.betaCg, b.betaCv, b.paramsId]).to.deep.equal([T(100), T(20), T(300), T(60), 1n]);
      // the old job keeps its 1-hour challenge window and its 3 stages
      await f.pool.connect(f.generator).commit(oldJob, ROOT, NUM_CHECKS, URI);
      const committedAt = await time.latest();
      expect((await f.pool.getJob(oldJob)).deadline).to.equal(BigInt(committedAt + HOUR));
      await f.pool.connect(f.user).challenge(oldJob);
      await drawFor(f, oldJob, f.v1);
      await submit(f, oldJob, miss(0), f.v2);
      expect((await f.pool.getJob(oldJob)).state).to.equal(JobState.Verifying); // stage 2 exists
      expect((await f.pool.paramsAt(0)).maxStages).to.equal(3n);
    });
  });

  describe("bonds and models", function () {
    it("bonds, declares models, requests an unbond and withdraws it after the delay", async function () {
      const f = await load();
      await expect(f.pool.connect(f.v6).setModels([MODEL_ID, OTHER_MODEL])).to.emit(f.pool, "ModelsSet").withArgs(f.v6.address, [MODEL_ID, OTHER_MODEL]);
      await expect(f.pool.connect(f.v6).bond(T(150)))
        .to.emit(f.pool, "Bonded")
        .withArgs(f.v6.address, T(150), T(150), 0n, false)
        .and.to.emit(f.pool, "VerifierSynced")
        .withArgs(f.v6.address, T(150));
      expect(await f.pool.modelStake(MODEL_ID)).to.deep.equal([T(650), 6n]);
      expect(await f.pool.modelStake(OTHER_MODEL)).to.deep.equal([T(150), 1n]);
      const tx = f.pool.connect(f.v6).requestUnbond(T(20));
      const readyAt = BigInt((await time.latest()) + 1 + 7 * DAY);
      await expect(tx).to.emit(f.pool, "UnbondRequested").withArgs(f.v6.address, T(20), T(130), readyAt);
      expect(await f.pool.weightOf(MODEL_ID, f.v6.address)).to.equal(T(130));
      const view = await f.pool.bondOf(f.v6.address);
      expect([view.bond, view.pendingBond, view.unbonding, view.unbondable, view.needsSync]).to.deep.equal([T(130), 0n, T(20), 0n, false]);
      expect(view.models).to.deep.equal([MODEL_ID, OTHER_MODEL]);
      await expect(f.pool.connect(f.v6).withdrawUnbonded())
        .to.be.revertedWithCustomError(f.pool, "StakePoolUnbondNotReady")
        .withArgs(f.v6.address, readyAt);
      await time.increaseTo(readyAt);
      const before = await f.token.balanceOf(f.v6.address);
      await expect(f.pool.connect(f.v6).withdrawUnbonded()).to.emit(f.pool, "UnbondWithdrawn").withArgs(f.v6.address, T(20));
      expect((await f.token.balanceOf(f.v6.address)) - before).to.equal(T(20));
      expect((await f.pool.bondOf(f.v6.address)).unbonding).to.equal(0n);
    });

    it("leaves the trees when the whole bond is unbonded or a model is dropped, and rejoins on bonding", async function () {
      const f = await load();
      await f.pool.connect(f.v1).requestUnbond(BOND);
      expect(await f.pool.weightOf(MODEL_ID, f.v1.address)).to.equal(0n);
      expect(await f.pool.modelStake(MODEL_ID)).to.deep.equal([T(400), 4n]);
      await f.pool.connect(f.v1).bond(BOND);
      expect(await f.pool.modelStake(MODEL_ID)).to.deep.equal([T(500), 5n]);
      await f.pool.connect(f.v2).setModels([OTHER_MODEL]);
      expect(await f.pool.weightOf(MODEL_ID, f.v2.address)).to.equal(0n);
      expect(await f.pool.weightOf(OTHER_MODEL, f.v2.address)).to.equal(BOND);
      expect(await f.pool.serves(f.v2.address, MODEL_ID)).to.equal(false);
    });

    it("keeps bonds pending and weights unchanged during a draw epoch, and applies them after it", async function () {
      const f = await load();
      const jobId = await openAndCommit(f);
      await f.pool.connect(f.user).challenge(jobId); // epoch frozen
      await f.pool.connect(f.v6).setModels([MODEL_ID]);
      await expect(f.pool.connect(f.v6).bond(T(1000))).to.emit(f.pool, "Bonded").withArgs(f.v6.address, T(1000), 0n, T(1000), false);
      await f.pool.connect(f.v1).bond(T(1000));
      expect(await f.pool.weightOf(MODEL_ID, f.v6.address)).to.equal(0n);
      expect(await f.pool.weightOf(MODEL_ID, f.v1.address)).to.equal(BOND);
      await expect(f.pool.sync(f.v6.address)).to.be.revertedWithCustomError(f.pool, "StakePoolDrawEpochInProgress");
      expect(await f.pool.pendingSyncs()).to.equal(2n);
      await drawFor(f, jobId, f.v2);
      // the epoch is over: anyone synchronises
      await f.pool.connect(f.stranger).syncPending(10);
      expect(await f.pool.weightOf(MODEL_ID, f.v6.address)).to.equal(T(1000));
      expect(await f.pool.weightOf(MODEL_ID, f.v1.address)).to.equal(T(1100));
      expect((await f.pool.bondOf(f.v6.address)).bond).to.equal(T(1000));
    });

    it("re-bonds payouts from credit without a transfer", async function () {
      const f = await load();
      const jobId = await challenged(f, f.v1);
      await submit(f, jobId, claim);
      expect(await f.pool.creditOf(f.v1.address)).to.equal(T(40));
      await expect(f.pool.connect(f.v1).bondFromCredit(T(41))).to.be.revertedWithCustomError(f.pool, "StakePoolInsufficientCredit");
      await expect(f.pool.connect(f.v1).bondFromCredit(T(40))).to.emit(f.pool, "Bonded").withArgs(f.v1.address, T(40), T(110), 0n, true);
      expect(await f.pool.creditOf(f.v1.address)).to.equal(0n);
      await withdrawAll(f);
      expect(await f.token.balanceOf(f.poolAddress)).to.equal(await totalBonds(f));
    });

    it("L-3: a later unbond request does not delay an earlier one", async function () {
      const f = await load();
      await f.pool.connect(f.v1).bond(BOND);
      await f.pool.connect(f.v1).requestUnbond(BOND / 2n);
      const firstReady = BigInt(await time.latest()) + BigInt(7 * DAY);
      await time.increase(6 * DAY);
      await f.pool.connect(f.v1).requestUnbond(BOND / 2n);
      await time.increaseTo(firstReady);
      await expect(f.pool.connect(f.v1).withdrawUnbonded()).to.emit(f.pool, "UnbondWithdrawn").withArgs(f.v1.address, BOND / 2n);
      const view = await f.pool.bondOf(f.v1.address);
      expect([view.unbonding, view.unbondable]).to.deep.equal([BOND / 2n, 0n]);
    });
  });

  describe("withdrawals and views", function () {
    it("zeroes the credit before transferring, and the token balance after all withdrawals equals the bonds", async function () {
      const f = await load();
      const jobId = await openAndCommit(f);
      await time.increase(HOUR + 1);
      await f.pool.finalize(jobId);
      const before = await f.token.balanceOf(f.generator.address);
      await expect(f.pool.connect(f.generator).withdraw()).to.emit(f.pool, "Withdrawn").withArgs(f.generator.address, T(200));
      expect((await f.token.balanceOf(f.generator.address)) - before).to.equal(T(200));
      expect(await f.pool.creditOf(f.generator.address)).to.equal(0n);
      await expect(f.pool.connect(f.generator).withdraw())
        .to.be.revertedWithCustomError(f.pool, "StakePoolNothingToWithdraw")
        .withArgs(f.generator.address);
      await f.pool.connect(f.user).withdraw();
      expect(await f.token.balanceOf(f.poolAddress)).to.equal(T(500));
      expect(await f.token.balanceOf(f.poolAddress)).to.equal(await totalBonds(f));
    });

    it("reports the current stage, each stage's verifier and result hash, and the claim hash", async function () {
      const f = await load();
      const jobId = await challenged(f, f.v1);
      const [stage, verifier, deadline] = await f.pool.currentStage(jobId);
      expect([stage, verifier, deadline]).to.deep.equal([1n, f.v1.address, BigInt((await time.latest()) + HOUR)]);
      await submit(f, jobId, miss(5), f.v2);
      expect(await f.pool.getStage(jobId, 1)).to.deep.equal([
        f.v1.address,
        BigInt(StageStatus.Submitted),
        ethers.keccak256(miss(5)),
      ]);
      expect(await f.pool.getStage(jobId, 3)).to.deep.equal([ethers.ZeroAddress, BigInt(StageStatus.None), ethers.ZeroHash]);
      expect(await f.pool.claimHash(NUM_CHECKS)).to.equal(ethers.keccak256(claim));
      for (const n of [1, 7, 8, 9, 255, 256, 257, 1000]) {
        expect(await f.pool.claimHash(n)).to.equal(ethers.keccak256(claimBitmap(n)));
      }
      const j = await f.pool.getJob(jobId);
      expect(j.stage).to.equal(2n);
      expect(j.escrow).to.equal(T(270));
      const none = await f.pool.getJob(999n);
      expect(none.state).to.equal(JobState.None);
      expect(none.user).to.equal(ethers.ZeroAddress);
      expect(await f.pool.stakeToken()).to.equal(await f.token.getAddress());
    });

    it("accepts the largest receipt (2^18 checks) and its 32 KiB result fits one transaction", async function () {
      const f = await load();
      const n = 2 ** 18;
      expect(await f.pool.MAX_NUM_CHECKS()).to.equal(BigInt(n));
      const jobId = await openJob(f);
      await f.pool.connect(f.generator).commit(jobId, ROOT, n, URI);
      await f.pool.connect(f.user).challenge(jobId);
      await drawFor(f, jobId, f.v1);
      const result = claimBitmap(n);
      result[100] = 0x7f; // one miss: not the claim, no earlier result → stage 2
      const receipt = await (await submit(f, jobId, result)).wait();
      expect(receipt!.gasUsed).to.be.lessThan(1_500_000n);
      await drawFor(f, jobId, f.v2);
      const r2 = await (await submit(f, jobId, claimBitmap(n))).wait();
      expect(r2!.gasUsed).to.be.lessThan(1_500_000n);
      expect((await f.pool.getJob(jobId)).state).to.equal(JobState.GeneratorUpheld);
    });

    it("emits the revealed bitmap, its hash, the fingerprint and its distance from the generator's answer", async function () {
      const f = await load();
      const jobId = await challenged(f, f.v1);
      await expect(submit(f, jobId, miss(2), f.v2))
        .to.emit(f.pool, "ResultSubmitted")
        .withArgs(jobId, 1, f.v1.address, ethers.keccak256(miss(2)), ethers.hexlify(miss(2)), HONEST_FP, 0);
      await expect(submit(f, jobId, miss(3), undefined, { fingerprint: GUESSED_FP }))
        .to.emit(f.pool, "ResultSubmitted")
        .withArgs(jobId, 2, f.v2.address, ethers.keccak256(miss(3)), ethers.hexlify(miss(3)), GUESSED_FP, 128);
    });
  });

  describe("ownership", function () {
    it("transfers ownership in two steps", async function () {
      const f = await load();
      await f.pool.connect(f.owner).transferOwnership(f.other.address);
      expect(await f.pool.owner()).to.equal(f.owner.address);
      await expect(f.pool.connect(f.other).setParams({ ...TEST_PARAMS }))
        .to.be.revertedWithCustomError(f.pool, "OwnableUnauthorizedAccount")
        .withArgs(f.other.address);
      await f.pool.connect(f.other).acceptOwnership();
      expect(await f.pool.owner()).to.equal(f.other.address);
      await f.pool.connect(f.other).setParams({ ...TEST_PARAMS });
    });
  });
});
