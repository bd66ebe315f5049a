/**
 * Job life cycle beyond Table 1: cancel, stalemate, no-show, no eligible verifier, the draw's
 * exclusions, parameter snapshots, bonds, views and withdrawals.
 */
import { expect } from "chai";
import { createPoolContext, E18, claim, miss, HOUR, DAY, NUM_CHECKS, ROOT, URI, MODEL_ID, REQUEST_HASH, REQUEST_URI, TEST_PARAMS, BOND } from "./helpers.js";
import { JobState, StageStatus, claimBitmap } from "../../scripts/lib/state.js";
import { paramsStruct } from "../../scripts/lib/params.js";

const T = (n: number | bigint) => BigInt(n) * E18;

const ctx = await createPoolContext();
const { ethers, networkHelpers, deployFixture, pick, openJob, openAndCommit, challenged, submit, withdrawAll, totalBonds } = ctx;
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

  describe("stalemate", function () {
    it("refunds every party exactly what it put in after maxStages without agreement", async function () {
      const f = await load();
      const balances = async () =>
        Promise.all([f.user, f.generator, f.v1, f.v2, f.v3].map((s) => f.token.balanceOf(s.address)));
      const before = await balances();
      const jobId = await challenged(f, f.v1);
      await submit(f, jobId, miss(0), f.v2);
      await submit(f, jobId, miss(1), f.v3);
      expect(await f.pool.escrowOf(jobId)).to.equal(T(50 + 10 + 150 + 90));
      await expect(submit(f, jobId, miss(2)))
        .to.emit(f.pool, "JobSettled")
        .withArgs(
          jobId,
          JobState.Stalemate,
          3,
          T(60),
          T(150),
          [f.v1.address, f.v2.address, f.v3.address],
          [T(30), T(30), T(30)],
        );
      expect((await f.pool.getJob(jobId)).state).to.equal(JobState.Stalemate);
      await withdrawAll(f);
      // verifiers got their stakes back as credit (withdrawn to their wallets), bonds are 70 each
      const after = await balances();
      expect(after[0]).to.equal(before[0]); // user
      expect(after[1]).to.equal(before[1]); // generator
      for (const i of [2, 3, 4]) expect(after[i]! - before[i]!).to.equal(T(30));
      for (const v of [f.v1, f.v2, f.v3]) expect((await f.pool.bondOf(v.address)).bond).to.equal(T(70));
      expect(await f.token.balanceOf(f.poolAddress)).to.equal(await totalBonds(f));
    });

    it("ends at stage 1 when maxStages is 1", async function () {
      const f = await load();
      await f.pool.connect(f.owner).setParams(paramsStruct({ ...TEST_PARAMS, maxStages: 1 }));
      const jobId = await challenged(f, f.v1);
      await submit(f, jobId, miss(0));
      expect((await f.pool.getJob(jobId)).state).to.equal(JobState.Stalemate);
      expect(await f.pool.creditOf(f.v1.address)).to.equal(T(30));
    });
  });

  describe("no-show verifiers", function () {
    it("forfeits the no-show's βCv to the user and draws a new verifier for the same stage", async function () {
      const f = await load();
      const jobId = await challenged(f, f.v1);
      await time.increase(HOUR + 1);
      await pick(f, f.v1); // the draw starts at v1 again, but v1 is excluded now: v2 is next
      const tx = f.pool.connect(f.stranger).timeoutVerifier(jobId);
      await expect(tx).to.emit(f.pool, "VerifierTimedOut").withArgs(jobId, 1, f.v1.address, T(30));
      await expect(tx).to.emit(f.pool, "VerifierAssigned");
      expect(await f.pool.creditOf(f.user.address)).to.equal(T(30));
      const [stage, verifier] = await f.pool.currentStage(jobId);
      expect(stage).to.equal(1n);
      expect(verifier).to.equal(f.v2.address);
      expect((await f.pool.bondOf(f.v1.address)).bond).to.equal(T(70)); // v1's stake is gone
      // the job still holds one verifier stake (v2's)
      expect(await f.pool.escrowOf(jobId)).to.equal(T(50 + 10 + 150 + 30));
      // the new verifier upholds the generator: user got 30 from the no-show, paid αCv = 10 → net +20
      await submit(f, jobId, claim);
      expect(await f.pool.creditOf(f.v2.address)).to.equal(T(40));
      expect(await f.pool.creditOf(f.generator.address)).to.equal(T(200));
      expect(await f.pool.creditOf(f.user.address)).to.equal(T(30));
      await withdrawAll(f);
      expect(await f.token.balanceOf(f.poolAddress)).to.equal(await totalBonds(f));
    });

    it("shows a no-show in getStage until it is replaced", async function () {
      const f = await load();
      // only v1 can serve: v2..v4 leave the set
      for (const v of [f.v2, f.v3, f.v4]) await f.pool.connect(v).requestUnbond(BOND);
      const jobId = await challenged(f, f.v1);
      expect(await f.pool.getStage(jobId, 1)).to.deep.equal([f.v1.address, BigInt(StageStatus.Pending), ethers.ZeroHash]);
      await time.increase(HOUR + 1);
      await expect(f.pool.timeoutVerifier(jobId)).to.emit(f.pool, "VerifierUnavailable");
      const j = await f.pool.getJob(jobId);
      expect(j.state).to.equal(JobState.AwaitingVerifier);
      expect(await f.pool.getStage(jobId, 1)).to.deep.equal([f.v1.address, BigInt(StageStatus.NoShow), ethers.ZeroHash]);
      const [, current] = await f.pool.currentStage(jobId);
      expect(current).to.equal(ethers.ZeroAddress);
      // v5 bonds; a retry draws it, and v1 (the no-show) is never drawn again for this job
      await f.pool.connect(f.v5).bond(BOND);
      await pick(f, f.v1);
      await expect(f.pool.connect(f.stranger).drawVerifier(jobId))
        .to.emit(f.pool, "VerifierAssigned")
        .withArgs(jobId, 1, f.v5.address, T(30), BigInt((await time.latest()) + 1 + HOUR));
      expect(await f.pool.getStage(jobId, 1)).to.deep.equal([f.v5.address, BigInt(StageStatus.Pending), ethers.ZeroHash]);
    });
  });

  describe("no eligible verifier", function () {
    it("waits in AwaitingVerifier when the challenge finds no verifier, and a later draw assigns one", async function () {
      const f = await load();
      for (const v of [f.v1, f.v2, f.v3, f.v4]) await f.pool.connect(v).requestUnbond(BOND);
      expect(await f.pool.verifierCount()).to.equal(0n);
      const jobId = await openAndCommit(f);
      const tx = f.pool.connect(f.user).challenge(jobId);
      await expect(tx).to.emit(f.pool, "JobChallenged").withArgs(jobId, f.user.address);
      await expect(tx).to.emit(f.pool, "VerifierUnavailable").withArgs(jobId, 1, BigInt((await time.latest()) + DAY));
      const j = await f.pool.getJob(jobId);
      expect(j.state).to.equal(JobState.AwaitingVerifier);
      expect(j.stage).to.equal(1n);
      expect(j.escrow).to.equal(T(210));
      await expect(f.pool.drawVerifier(jobId))
        .to.be.revertedWithCustomError(f.pool, "StakePoolNoEligibleVerifier")
        .withArgs(jobId, 1);
      await f.pool.connect(f.v5).bond(BOND);
      await f.pool.connect(f.stranger).drawVerifier(jobId);
      const [, verifier] = await f.pool.currentStage(jobId);
      expect(verifier).to.equal(f.v5.address);
      await submit(f, jobId, claim);
      expect((await f.pool.getJob(jobId)).state).to.equal(JobState.GeneratorUpheld);
    });

    it("settles as a stalemate when no verifier is found before the draw deadline (anyone may call)", async function () {
      const f = await load();
      const jobId = await challenged(f, f.v1);
      // v2..v4 leave: stage 2 finds nobody (v1 is excluded, user and generator are not verifiers)
      for (const v of [f.v2, f.v3, f.v4]) await f.pool.connect(v).requestUnbond(BOND);
      await submit(f, jobId, miss(0));
      const j = await f.pool.getJob(jobId);
      expect(j.state).to.equal(JobState.AwaitingVerifier);
      expect(j.stage).to.equal(2n);
      expect(j.escrow).to.equal(T(240)); // one verifier stake
      await expect(f.pool.timeoutDraw(jobId)).to.be.revertedWithCustomError(f.pool, "StakePoolDeadlineNotReached");
      await time.increase(DAY + 1);
      await expect(f.pool.drawVerifier(jobId)).to.be.revertedWithCustomError(f.pool, "StakePoolDeadlinePassed");
      await expect(f.pool.connect(f.stranger).timeoutDraw(jobId))
        .to.emit(f.pool, "JobSettled")
        .withArgs(jobId, JobState.Stalemate, 2, T(60), T(150), [f.v1.address], [T(30)]);
      await withdrawAll(f);
      expect(await f.token.balanceOf(f.poolAddress)).to.equal(await totalBonds(f));
    });
  });

  describe("the draw", function () {
    it("never draws the user, the generator or an earlier verifier of the job", async function () {
      const f = await load();
      // user and generator are bonded verifiers too: list = v1, v2, v3, v4, user, generator
      await f.pool.connect(f.user).bond(BOND);
      await f.pool.connect(f.generator).bond(BOND);
      const jobId = await openAndCommit(f);
      await pick(f, f.user); // starts at the user (index 4), skips the generator, wraps to v1
      await f.pool.connect(f.user).challenge(jobId);
      expect((await f.pool.currentStage(jobId))[1]).to.equal(f.v1.address);
      await submit(f, jobId, miss(0), f.v1); // starts at v1 (excluded now) → v2
      expect((await f.pool.currentStage(jobId))[1]).to.equal(f.v2.address);
      await submit(f, jobId, miss(1), f.generator); // generator, wrap, v1, v2 excluded → v3
      expect((await f.pool.currentStage(jobId))[1]).to.equal(f.v3.address);
    });

    it("skips verifiers whose bond is below βCv", async function () {
      const f = await load();
      await f.pool.connect(f.v1).requestUnbond(T(80)); // 20 left < βCv = 30
      const jobId = await challenged(f, f.v1);
      expect((await f.pool.currentStage(jobId))[1]).to.equal(f.v2.address);
    });

    it("locks βCv of the drawn verifier's bond, which it cannot unbond while it is in the job", async function () {
      const f = await load();
      const jobId = await challenged(f, f.v1);
      expect((await f.pool.bondOf(f.v1.address)).bond).to.equal(T(70));
      await expect(f.pool.connect(f.v1).requestUnbond(T(100)))
        .to.be.revertedWithCustomError(f.pool, "StakePoolInsufficientBond")
        .withArgs(f.v1.address, T(70), T(100));
      await submit(f, jobId, claim);
      expect(await f.pool.creditOf(f.v1.address)).to.equal(T(40));
    });

    it("drops a verifier from the set when a lock takes its whole bond", async function () {
      const f = await load();
      await f.pool.connect(f.v1).requestUnbond(T(70)); // 30 left = βCv, but minBond is 10 so 30 is fine
      const jobId = await challenged(f, f.v1);
      expect((await f.pool.currentStage(jobId))[1]).to.equal(f.v1.address);
      expect((await f.pool.bondOf(f.v1.address)).listed).to.equal(false);
      expect(await f.pool.verifierCount()).to.equal(3n);
      await submit(f, jobId, claim);
    });

    for (const [mode, what] of [
      [1, "reverts"],
      [2, "burns all its gas"],
    ] as const) {
      it(`treats a randomness source that ${what} as a draw that found nobody: the job waits, then ends`, async function () {
        const f = await load();
        const jobId = await openAndCommit(f);
        await f.rnd.setMode(mode);
        const receipt = await (await f.pool.connect(f.user).challenge(jobId)).wait();
        expect(receipt!.gasUsed).to.be.lessThan(400_000n);
        expect((await f.pool.getJob(jobId)).state).to.equal(JobState.AwaitingVerifier);
        await expect(f.pool.drawVerifier(jobId)).to.be.revertedWithCustomError(f.pool, "StakePoolNoEligibleVerifier");
        await f.rnd.setMode(0); // the source recovers: a retry draws a verifier
        await pick(f, f.v3);
        await f.pool.connect(f.stranger).drawVerifier(jobId);
        expect((await f.pool.currentStage(jobId))[1]).to.equal(f.v3.address);
        // and if it fails again at the next draw, the draw deadline ends the job as a stalemate
        await f.rnd.setMode(mode);
        await submit(f, jobId, miss(0));
        expect((await f.pool.getJob(jobId)).state).to.equal(JobState.AwaitingVerifier);
        await time.increase(DAY + 1);
        await f.pool.connect(f.stranger).timeoutDraw(jobId);
        expect((await f.pool.getJob(jobId)).state).to.equal(JobState.Stalemate);
      });
    }

    it("uses the default PrevrandaoRandomness source and lets the owner replace it", async function () {
      const f = await load();
      const source = await ethers.deployContract("PrevrandaoRandomness");
      await expect(f.pool.connect(f.owner).setRandomnessSource(await source.getAddress()))
        .to.emit(f.pool, "RandomnessSourceUpdated")
        .withArgs(await f.rnd.getAddress(), await source.getAddress());
      expect(await f.pool.randomnessSource()).to.equal(await source.getAddress());
      const jobId = await openAndCommit(f);
      await f.pool.connect(f.user).challenge(jobId);
      const [, verifier] = await f.pool.currentStage(jobId);
      expect([f.v1.address, f.v2.address, f.v3.address, f.v4.address]).to.include(verifier);
    });
  });

  describe("parameters", function () {
    it("does not change the terms of jobs already open when parameters change", async function () {
      const f = await load();
      const oldJob = await openJob(f);
      const newParams = { ...TEST_PARAMS, alphaBps: 10_000, betaBps: 30_000, challengeWindow: 5 * HOUR, maxStages: 1 };
      await expect(f.pool.connect(f.owner).setParams(paramsStruct(newParams))).to.emit(f.pool, "ParamsUpdated");
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
      await pick(f, f.v1);
      await f.pool.connect(f.user).challenge(oldJob);
      await submit(f, oldJob, miss(0), f.v2);
      expect((await f.pool.getJob(oldJob)).state).to.equal(JobState.Verifying); // stage 2 exists
      expect((await f.pool.paramsAt(0)).maxStages).to.equal(3n);
    });
  });

  describe("bonds", function () {
    it("bonds, requests an unbond and withdraws it after the delay", async function () {
      const f = await load();
      await expect(f.pool.connect(f.v5).bond(T(50)))
        .to.emit(f.pool, "Bonded")
        .withArgs(f.v5.address, T(50), T(50))
        .and.to.emit(f.pool, "VerifierListed")
        .withArgs(f.v5.address, true);
      expect(await f.pool.verifierCount()).to.equal(5n);
      expect(await f.pool.verifierAt(4)).to.equal(f.v5.address);
      const tx = f.pool.connect(f.v5).requestUnbond(T(20));
      const readyAt = BigInt((await time.latest()) + 1 + 7 * DAY);
      await expect(tx).to.emit(f.pool, "UnbondRequested").withArgs(f.v5.address, T(20), T(20), readyAt);
      expect(await f.pool.bondOf(f.v5.address)).to.deep.equal([T(30), T(20), readyAt, true]);
      await expect(f.pool.connect(f.v5).withdrawUnbonded())
        .to.be.revertedWithCustomError(f.pool, "StakePoolUnbondNotReady")
        .withArgs(f.v5.address, readyAt);
      await time.increaseTo(readyAt);
      const before = await f.token.balanceOf(f.v5.address);
      await expect(f.pool.connect(f.v5).withdrawUnbonded()).to.emit(f.pool, "UnbondWithdrawn").withArgs(f.v5.address, T(20));
      expect((await f.token.balanceOf(f.v5.address)) - before).to.equal(T(20));
      expect(await f.pool.bondOf(f.v5.address)).to.deep.equal([T(30), 0n, 0n, true]);
    });

    it("leaves the verifier set when the whole bond is unbonded (the last entry moves into the gap)", async function () {
      const f = await load();
      await expect(f.pool.connect(f.v1).requestUnbond(BOND)).to.emit(f.pool, "VerifierListed").withArgs(f.v1.address, false);
      expect(await f.pool.verifierCount()).to.equal(3n);
      expect(await f.pool.verifierAt(0)).to.equal(f.v4.address);
      expect((await f.pool.bondOf(f.v4.address)).listed).to.equal(true);
      // rejoining appends it again
      await f.pool.connect(f.v1).bond(BOND);
      expect(await f.pool.verifierAt(3)).to.equal(f.v1.address);
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
      expect(await f.token.balanceOf(f.poolAddress)).to.equal(T(400));
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
      await pick(f, f.v1);
      await f.pool.connect(f.user).challenge(jobId);
      const result = claimBitmap(n);
      result[100] = 0x7f; // one miss: not the claim, no earlier result → stage 2
      await pick(f, f.v2);
      const receipt = await (await f.pool.connect(f.v1).submitResult(jobId, result)).wait();
      expect(receipt!.gasUsed).to.be.lessThan(1_500_000n);
      const r2 = await (await f.pool.connect(f.v2).submitResult(jobId, claimBitmap(n))).wait();
      expect(r2!.gasUsed).to.be.lessThan(1_500_000n);
      expect((await f.pool.getJob(jobId)).state).to.equal(JobState.GeneratorUpheld);
    });

    it("emits the submitted bitmap and its hash", async function () {
      const f = await load();
      const jobId = await challenged(f, f.v1);
      await expect(submit(f, jobId, miss(2), f.v2))
        .to.emit(f.pool, "ResultSubmitted")
        .withArgs(jobId, 1, f.v1.address, ethers.keccak256(miss(2)), ethers.hexlify(miss(2)));
    });
  });

  describe("ownership", function () {
    it("transfers ownership in two steps", async function () {
      const f = await load();
      await f.pool.connect(f.owner).transferOwnership(f.other.address);
      expect(await f.pool.owner()).to.equal(f.owner.address);
      await expect(f.pool.connect(f.other).setParams(paramsStruct(TEST_PARAMS)))
        .to.be.revertedWithCustomError(f.pool, "OwnableUnauthorizedAccount")
        .withArgs(f.other.address);
      await f.pool.connect(f.other).acceptOwnership();
      expect(await f.pool.owner()).to.equal(f.other.address);
      await f.pool.connect(f.other).setParams(paramsStruct(TEST_PARAMS));
    });
  });
});
