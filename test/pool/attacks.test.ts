/**
 * One test per finding of issue 10 (the adversarial review of version 1), named after it. Each
 * failed on version 1 (the behaviour it rules out was measured there) and passes on version 2.
 */
import { expect } from "chai";
import { createPoolContext, E18, claim, miss, HOUR, DAY, MODEL_ID, REQUEST_HASH, REQUEST_URI, TEST_PARAMS, BOND, CG, CV, HONEST_FP, GUESSED_FP, SALT } from "./helpers.js";
import { JobState } from "../../scripts/lib/state.js";

const T = (n: number | bigint) => BigInt(n) * E18;

const ctx = await createPoolContext();
const { ethers, networkHelpers, deployFixture, pickOf, wordFor, drawFor, openAndCommit, challenged, submit, commitResult, withdrawAll, totalBonds } = ctx;
const load = () => networkHelpers.loadFixture(deployFixture);
/** Table 1, row 4 at k = 2 (v2 confirms v1): user α(Cg+Cv) = 60, v1 (α+β)Cv = 40, v2 βCg+(β−α)Cv = 170. */
const expectV2ConfirmsV1 = (f: Awaited<ReturnType<typeof load>>, jobId: bigint, tx: Promise<unknown>) =>
  expect(tx)
    .to.emit(f.pool, "JobSettled")
    .withArgs(jobId, JobState.VerifierUpheld, 2, T(60), 0n, [f.v1.address, f.v2.address], [T(40), T(170)], 0n);
const { time } = networkHelpers;

describe("StakePool v2: the findings of the adversarial review", function () {
  it("C-1: a user cannot farm no-show forfeits (unknown models are refused; forfeits go to the treasury)", async function () {
    const f = await load();
    const nobodyServes = "0x" + "ab".repeat(32);
    await expect(f.pool.connect(f.user).openJob(f.generator.address, nobodyServes, CG, CV, REQUEST_HASH, REQUEST_URI)).to.be.revertedWithCustomError(
      f.pool,
      "StakePoolModelUnderserved",
    );
    // the user (with the generator as its second address) challenges its own job; every drawn verifier no-shows
    const before = (await f.token.balanceOf(f.user.address)) + (await f.token.balanceOf(f.generator.address));
    const jobId = await challenged(f, f.v1);
    for (const next of [f.v2, f.v3, f.v4]) {
      await time.increase(HOUR + 1);
      await f.pool.timeoutVerifier(jobId);
      await drawFor(f, jobId, next);
    }
    expect(await f.pool.creditOf(f.user.address)).to.equal(0n);
    expect(await f.pool.creditOf(f.treasury.address)).to.equal(T(90));
    await submit(f, jobId, claim); // v4 replays and agrees
    await withdrawAll(f);
    const after = (await f.token.balanceOf(f.user.address)) + (await f.token.balanceOf(f.generator.address));
    // the pair paid αCv for the verification and got nothing from the three forfeits
    expect(before - after).to.equal(T(10));
    // a job never locks more than half a minimum bond: the whole set cannot be drained by one job each
    expect((await f.pool.bondOf(f.v1.address)).bond).to.equal(T(70));
  });

  it("H-1: the party that triggers a draw cannot see its outcome first (the word exists only in a later block)", async function () {
    const f = await load();
    const src = await ethers.deployContract("FutureBlockRandomness");
    await f.pool.connect(f.owner).setRandomnessSource(await src.getAddress());
    const jobId = await openAndCommit(f);
    // challenge and draw in the same block: the draw cannot run
    await networkHelpers.mine(1);
    await ethers.provider.send("evm_setAutomine", [false]);
    const c = await f.pool.connect(f.user).challenge(jobId);
    // the draw sent right behind the challenge, in the same block, finds no word
    const d = await f.pool.connect(f.user).drawVerifiers(10, { gasLimit: 500_000 });
    await networkHelpers.mine(1);
    await ethers.provider.send("evm_setAutomine", [true]);
    expect((await c.wait())!.status).to.equal(1);
    let reverted = false;
    try {
      await d.wait();
    } catch {
      reverted = true;
    }
    expect(reverted, "the same-block draw reverted").to.equal(true);
    // nor in the target block itself (its hash is not known inside it)
    await expect(f.pool.drawVerifiers(10)).to.be.revertedWithCustomError(f.pool, "StakePoolRandomnessPending");
    expect((await f.pool.getJob(jobId)).state).to.equal(JobState.AwaitingVerifier);
    await networkHelpers.mine(1); // the target block now exists
    await f.pool.drawVerifiers(10);
    expect((await f.pool.getJob(jobId)).state).to.equal(JobState.Verifying);
  });

  it("H-1: bonding (or unbonding) in front of a draw does not move it", async function () {
    const f = await load();
    const jobId = await openAndCommit(f);
    await f.pool.connect(f.user).challenge(jobId);
    const word = 12345n;
    const expected = await pickOf(f, jobId, 1n, word);
    // a sybil of the user bonds ten times the honest stake after the request, others leave
    await f.pool.connect(f.v6).setModels([MODEL_ID]);
    await f.pool.connect(f.v6).bond(T(5000));
    await f.pool.connect(f.v5).requestUnbond(BOND);
    expect(await pickOf(f, jobId, 1n, word)).to.equal(expected);
    await f.rnd.set(word);
    await f.pool.drawVerifiers(10);
    const [, drawn] = await f.pool.currentStage(jobId);
    if (expected !== f.v5.address) expect(drawn).to.equal(expected);
    else expect(drawn).to.not.equal(f.v6.address); // v5 made itself ineligible: only a re-draw among the frozen weights
  });

  it("H-2 (partly): the generator's second address is drawn only with its share of stake", async function () {
    const f = await load();
    // the generator's sybil holds 1/3 of the model's stake (250 of 750)
    await f.pool.connect(f.v6).setModels([MODEL_ID]);
    await f.pool.connect(f.v6).bond(T(250));
    let sybil = 0;
    const N = 300;
    for (let w = 0n; w < BigInt(N); w++) if ((await pickOf(f, 1n, 1n, w)) === f.v6.address) sybil++;
    // expected 100 (1/3); binomial sd ≈ 8.2
    expect(sybil).to.be.within(70, 130);
  });

  it("H-2: a verifier that agrees without replaying settles nothing and loses its stake when the next verifier confirms the generator", async function () {
    const f = await load();
    const jobId = await challenged(f, f.v1);
    // v1 submits the claim with a fingerprint it guessed (it never replayed); the generator answers honestly
    await submit(f, jobId, claim, f.v2, { fingerprint: GUESSED_FP });
    const job = await f.pool.getJob(jobId);
    expect(job.state).to.equal(JobState.Verifying);
    expect(job.stage).to.equal(2n);
    await expect(submit(f, jobId, claim))
      .to.emit(f.pool, "JobSettled")
      .withArgs(jobId, JobState.GeneratorUpheld, 2, 0n, T(200), [f.v1.address, f.v2.address], [0n, T(70)], 0n);
    // lazy v1: −30 (its stake); honest at stage 1 it would have earned αCv + βCv = 40 for its 30
    await withdrawAll(f);
    expect(await f.token.balanceOf(f.poolAddress)).to.equal(await totalBonds(f));
  });

  it("H-2: a copied dissent is no confirmation: the copier and the liar it copied both lose their stakes", async function () {
    const f = await load();
    const jobId = await challenged(f, f.v1);
    await submit(f, jobId, miss(0), f.v2); // v1 replays (its fingerprint is right) and lies about the result
    // v2 copies v1's public bitmap but cannot know its own stage's fingerprint; v1 answers with its real one
    await submit(f, jobId, miss(0), f.v3, { fingerprint: GUESSED_FP });
    expect((await f.pool.getJob(jobId)).stage).to.equal(3n);
    await expect(submit(f, jobId, claim))
      .to.emit(f.pool, "JobSettled")
      .withArgs(jobId, JobState.GeneratorUpheld, 3, 0n, T(200), [f.v1.address, f.v2.address, f.v3.address], [0n, 0n, T(100)], 0n);
  });

  it("H-2: an honest confirmation of an honest dissent still slashes the generator (Table 1, row 4)", async function () {
    const f = await load();
    const jobId = await challenged(f, f.v1);
    await submit(f, jobId, miss(0), f.v2);
    await expectV2ConfirmsV1(f, jobId, submit(f, jobId, miss(0)));
  });

  it("H-2: a generator that does not answer the fingerprint seed forfeits its stake", async function () {
    const f = await load();
    const jobId = await challenged(f, f.v1);
    await expect(submit(f, jobId, miss(0), undefined, { generatorAnswer: null }))
      .to.emit(f.pool, "JobSettled")
      .withArgs(jobId, JobState.GeneratorForfeited, 1, T(50), 0n, [f.v1.address], [T(40)], T(150));
    await withdrawAll(f);
    expect(await f.token.balanceOf(f.poolAddress)).to.equal(await totalBonds(f));
  });

  it("H-2: a generator that answers a false fingerprint is slashed once two replays agree with each other", async function () {
    const f = await load();
    const jobId = await challenged(f, f.v1);
    await submit(f, jobId, claim, f.v2, { generatorAnswer: GUESSED_FP });
    await expectV2ConfirmsV1(f, jobId, submit(f, jobId, claim, undefined, { generatorAnswer: GUESSED_FP }));
  });

  it("H-2: an honest generator's answer stands for the earlier verifier: a confirmation settles at once without its answer", async function () {
    const f = await load();
    const jobId = await challenged(f, f.v1);
    await submit(f, jobId, miss(0), f.v2); // v1 dissents honestly (the generator cheated)
    await commitResult(f, jobId, miss(0)); // v2 confirms
    // the generator answers its replay honestly; v1's replay is within tolerance of it, so v1 does not answer
    await f.pool.connect(f.generator).answerFingerprint(jobId, HONEST_FP);
    const [, , answered] = await f.pool.stageRound(jobId, 2);
    expect(answered).to.equal(1n);
    await expectV2ConfirmsV1(f, jobId, f.pool.connect(f.v2).revealResult(jobId, miss(0), HONEST_FP, SALT));
  });

  it("H-2: a copied dissent is no confirmation when the earlier verifier leaves the answer to the generator", async function () {
    const f = await load();
    const jobId = await challenged(f, f.v1);
    await submit(f, jobId, miss(0), f.v2);
    await commitResult(f, jobId, miss(0), GUESSED_FP); // v2 copies v1's public bitmap without replaying
    await f.pool.connect(f.generator).answerFingerprint(jobId, HONEST_FP);
    // far from the generator's answer and v1 has not answered: no early reveal
    const { deadline } = await f.pool.getJob(jobId);
    const answerDeadline = deadline - BigInt(TEST_PARAMS.verifyWindow);
    await expect(f.pool.connect(f.v2).revealResult(jobId, miss(0), GUESSED_FP, SALT))
      .to.be.revertedWithCustomError(f.pool, "StakePoolRevealTooEarly")
      .withArgs(jobId, answerDeadline);
    await time.increaseTo(answerDeadline + 1n);
    await f.pool.connect(f.v2).revealResult(jobId, miss(0), GUESSED_FP, SALT);
    expect((await f.pool.getJob(jobId)).state).to.equal(JobState.AwaitingVerifier);
    expect((await f.pool.getJob(jobId)).stage).to.equal(3n);
  });

  it("H-2: a generator that answers falsely to block a confirmation is overruled by the earlier verifier's answer", async function () {
    const f = await load();
    const jobId = await challenged(f, f.v1);
    await submit(f, jobId, miss(0), f.v2);
    await commitResult(f, jobId, miss(0));
    await f.pool.connect(f.generator).answerFingerprint(jobId, GUESSED_FP);
    // far from the generator's answer: v2 must wait for v1 (or the deadline)
    await expect(f.pool.connect(f.v2).revealResult(jobId, miss(0), HONEST_FP, SALT)).to.be.revertedWithCustomError(f.pool, "StakePoolRevealTooEarly");
    await f.pool.connect(f.v1).answerFingerprint(jobId, HONEST_FP);
    await expectV2ConfirmsV1(f, jobId, f.pool.connect(f.v2).revealResult(jobId, miss(0), HONEST_FP, SALT));
  });

  it("H-2: a verifier cannot reveal early to make a generator that has not answered yet forfeit", async function () {
    const f = await load();
    const jobId = await challenged(f, f.v1);
    await commitResult(f, jobId, miss(0));
    await expect(f.pool.connect(f.v1).revealResult(jobId, miss(0), HONEST_FP, SALT)).to.be.revertedWithCustomError(f.pool, "StakePoolRevealTooEarly");
    await f.pool.connect(f.generator).answerFingerprint(jobId, HONEST_FP);
    await f.pool.connect(f.v1).revealResult(jobId, miss(0), HONEST_FP, SALT);
    await drawFor(f, jobId, f.v2);
    // at stage 2 the generator's slot still holds its stage-1 answer: it must not count as this stage's
    await commitResult(f, jobId, miss(0));
    await f.pool.connect(f.v1).answerFingerprint(jobId, HONEST_FP);
    await expect(f.pool.connect(f.v2).revealResult(jobId, miss(0), HONEST_FP, SALT)).to.be.revertedWithCustomError(f.pool, "StakePoolRevealTooEarly");
  });

  it("H-2: a verifier that commits and never reveals forfeits; the re-drawn stage gets a fresh seed and fresh answers", async function () {
    const f = await load();
    const jobId = await challenged(f, f.v1);
    const [, seed1] = await f.pool.stageRound(jobId, 1);
    await commitResult(f, jobId, claim);
    await f.pool.connect(f.generator).answerFingerprint(jobId, HONEST_FP);
    const { deadline } = await f.pool.getJob(jobId);
    await expect(f.pool.timeoutVerifier(jobId))
      .to.be.revertedWithCustomError(f.pool, "StakePoolDeadlineNotReached")
      .withArgs(jobId, deadline);
    await time.increaseTo(deadline + 1n);
    await expect(f.pool.timeoutVerifier(jobId)).to.emit(f.pool, "VerifierTimedOut").withArgs(jobId, 1, f.v1.address, T(30));
    await expect(f.pool.connect(f.v1).revealResult(jobId, claim, HONEST_FP, SALT)).to.be.revertedWithCustomError(f.pool, "StakePoolWrongState");
    await drawFor(f, jobId, f.v2);
    const [, seed2, answered] = await f.pool.stageRound(jobId, 1);
    expect(answered).to.equal(0n);
    expect(seed2).to.not.equal(seed1);
    await expect(submit(f, jobId, claim))
      .to.emit(f.pool, "JobSettled")
      .withArgs(jobId, JobState.GeneratorUpheld, 1, 0n, T(200), [f.v2.address], [T(40)], 0n);
  });

  it("M-1: confirming an earlier verifier always pays more than agreeing with the generator, and more than the stake", async function () {
    const f = await load();
    // v1 amounts (Cg = 100, Cv = 5 at α = 1, β = 2) are refused when βCg ≤ 2αCv + βCv: Cg = 10, Cv = 5 gives 20 ≤ 20
    await f.pool.connect(f.owner).setParams({ ...TEST_PARAMS, alphaBps: 10_000, betaBps: 20_000 });
    await expect(f.pool.connect(f.user).openJob(f.generator.address, MODEL_ID, T(10), T(5), REQUEST_HASH, REQUEST_URI)).to.be.revertedWithCustomError(
      f.pool,
      "StakePoolCostRatio",
    );
    // the smallest Cg allowed for Cv = 5: confirming at k = 2 pays 2·Cg + 5 > agreeing (α + 2β)·5 = 25
    const jobId = await challenged(f, f.v1, T(11), T(5));
    await submit(f, jobId, miss(0), f.v2);
    await submit(f, jobId, miss(0));
    const confirm = await f.pool.creditOf(f.v2.address);
    expect(confirm).to.equal(T(22) + T(10) - T(5));
    expect(confirm).to.be.greaterThan(T(25)); // what agreeing would have paid
    expect(confirm).to.be.greaterThan(T(10)); // its stake
  });

  it("M-2: a user gets no free inference by making its challenge unverifiable", async function () {
    const f = await load();
    const userBefore = await f.token.balanceOf(f.user.address);
    const jobId = await openAndCommit(f);
    await f.pool.connect(f.user).challenge(jobId);
    // every verifier leaves (say, all are the user's sybils) before the draw
    for (const v of [f.v1, f.v2, f.v3, f.v4, f.v5]) await f.pool.connect(v).requestUnbond(BOND);
    await f.pool.drawVerifiers(10);
    await time.increase(DAY + 1);
    await f.pool.timeoutDraw(jobId);
    expect((await f.pool.getJob(jobId)).state).to.equal(JobState.Unverified);
    await withdrawAll(f);
    // the generator was paid (α+β)Cg; the user paid αCg + αCv: more than without a challenge (αCg)
    expect(await f.token.balanceOf(f.generator.address)).to.equal(T(1_000_000) + T(50));
    expect(userBefore - (await f.token.balanceOf(f.user.address))).to.equal(T(60));
    expect(await f.token.balanceOf(f.poolAddress)).to.equal(await totalBonds(f));
  });

  it("I-2: a cheater cannot escape slashing through a small verifier set (jobs need maxStages + 2 verifiers; a stalemate forfeits its stake)", async function () {
    const f = await load();
    await f.pool.connect(f.v5).requestUnbond(BOND); // 4 verifiers left
    await expect(f.pool.connect(f.user).openJob(f.generator.address, MODEL_ID, CG, CV, REQUEST_HASH, REQUEST_URI))
      .to.be.revertedWithCustomError(f.pool, "StakePoolModelUnderserved")
      .withArgs(MODEL_ID, T(400), 4n, T(300), 5n);
    await f.pool.connect(f.v5).bond(BOND);
    // a stalemate does not give the generator its stake back
    const jobId = await challenged(f, f.v1);
    await submit(f, jobId, miss(0), f.v2);
    await submit(f, jobId, miss(1), f.v3);
    await submit(f, jobId, miss(2));
    expect(await f.pool.creditOf(f.generator.address)).to.equal(0n);
  });

  it("I-1: ineligible verifiers do not pass their chance to a neighbour (each attempt is a fresh stake-weighted pick)", async function () {
    const f = await load();
    const jobId = await openAndCommit(f);
    await f.pool.connect(f.user).challenge(jobId);
    // v1..v4 become ineligible (free bond 0) after the request; weights are frozen
    for (const v of [f.v1, f.v2, f.v3, f.v4]) await f.pool.connect(v).requestUnbond(BOND);
    const word = await wordFor(f, jobId, 1n, f.v4); // the first pick is v4, v5 follows it in the tree
    const picks: string[] = [];
    for (let a = 0n; a < 8n; a++) picks.push(await pickOf(f, jobId, 1n, word, a));
    await f.rnd.set(word);
    await f.pool.drawVerifiers(10);
    const [, drawn] = await f.pool.currentStage(jobId);
    if (picks.includes(f.v5.address)) expect(drawn).to.equal(f.v5.address);
    else expect((await f.pool.getJob(jobId)).state).to.equal(JobState.AwaitingVerifier);
    // the attempts are independent picks, not v5 at once because it follows v4
    expect(new Set(picks).size).to.be.greaterThan(1);
  });

  it("L-2: two maximum-size unbond requests do not overflow", async function () {
    const f = await load();
    const max = 2n ** 96n - 1n;
    await f.token.mint(f.v6.address, 2n * max);
    for (let i = 0; i < 2; i++) {
      await f.pool.connect(f.v6).bond(max);
      await f.pool.connect(f.v6).requestUnbond(max);
    }
    expect((await f.pool.bondOf(f.v6.address)).unbonding).to.equal(2n * max);
    await time.increase(7 * DAY + 1);
    await expect(f.pool.connect(f.v6).withdrawUnbonded()).to.emit(f.pool, "UnbondWithdrawn").withArgs(f.v6.address, 2n * max);
  });
});
