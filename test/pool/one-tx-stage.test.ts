/**
 * One-transaction stages: `submitResult` gives the drawn verifier's result (or the pending draw's
 * pick's, which draws its own stage in the same call) together with the generator's fingerprint
 * answer, signed off-chain by the generator over the verifier's commitment. These tests pin that such
 * a stage is judged and paid exactly as commit, answer and reveal would judge it, which signatures and
 * answers it refuses, and that a verifier that got an answer off-chain and then committed another
 * result on-chain (`reportEquivocation`) is dropped, its stake forfeited (the decline fee's share to
 * the reporter, the rest to the treasury).
 */
import { expect } from "chai";
import { anyValue } from "@nomicfoundation/hardhat-ethers-chai-matchers/withArgs";
import { createPoolContext, E18, claim, miss, HONEST_FP, GUESSED_FP, SALT } from "./helpers.js";
import { JobState, StageStatus } from "../../scripts/lib/state.js";
import { answerStatement, commitmentStatement, resultCommitment } from "../../offchain/chain/commitment.js";

const T = (n: number | bigint) => BigInt(n) * E18;
const ctx = await createPoolContext();
const { ethers, networkHelpers, deployFixture, wordFor, drawFor, openAndCommit, challenged, submit, commitResult, withdrawAll, totalBonds } = ctx;
const load = () => networkHelpers.loadFixture(deployFixture);
type F = Awaited<ReturnType<typeof load>>;
type Signer = F["generator"];
const { time } = networkHelpers;
const chainId = (await ethers.provider.getNetwork()).chainId;
const OTHER_SALT = "0x" + "78".repeat(32);

/** `fingerprint` with its `n` lowest bits flipped (n bits away from it). */
const flipped = (fingerprint: string, n: number) => ethers.toBeHex(BigInt(fingerprint) ^ ((1n << BigInt(n)) - 1n), 32);

function commitmentOf(jobId: bigint, stage: number, verifier: string, bitmap: Uint8Array, fingerprint = HONEST_FP, salt = SALT) {
  return resultCommitment({ jobId, stage, verifier, matchBitmap: bitmap, fingerprint, salt });
}

/** `by`'s EIP-191 signature of the answer statement `answer` for `commitment` (the generator's, normally). */
async function signAnswer(f: F, by: Signer, jobId: bigint, stage: number, commitment: string, answer = HONEST_FP) {
  return by.signMessage(ethers.getBytes(answerStatement({ chainId, pool: f.poolAddress, jobId, stage, commitment, answer })));
}

/** `by`'s EIP-191 signature of the commitment statement for `commitment` (the verifier's, normally). */
async function signCommitment(f: F, by: Signer, jobId: bigint, stage: number, commitment: string) {
  return by.signMessage(ethers.getBytes(commitmentStatement({ chainId, pool: f.poolAddress, jobId, stage, commitment })));
}

interface OneTxOptions {
  /** The verifier's fingerprint (default HONEST_FP) and salt (default SALT). */
  fingerprint?: string;
  salt?: string;
  /** The answer passed to submitResult (default HONEST_FP: the generator replays honestly). */
  answer?: string;
  /** Who signs the answer statement (default the generator). */
  signer?: Signer;
  /** What the statement signed says, where it differs from the submission (a forged or replayed one). */
  signed?: { jobId?: bigint; stage?: number; commitment?: string; answer?: string };
  /** A ready-made signature instead of one made here. */
  signature?: string;
}

/**
 * `verifier` submits `bitmap` for the job's current stage in one transaction, with the generator's
 * signed answer for the commitment the submission hashes to (as the generator sends it off-chain).
 */
async function oneTx(f: F, jobId: bigint, verifier: Signer, bitmap: Uint8Array, o: OneTxOptions = {}) {
  const stage = Number((await f.pool.getJob(jobId)).stage);
  const fingerprint = o.fingerprint ?? HONEST_FP;
  const salt = o.salt ?? SALT;
  const answer = o.answer ?? HONEST_FP;
  const commitment = commitmentOf(jobId, stage, verifier.address, bitmap, fingerprint, salt);
  const s = o.signed ?? {};
  const signature =
    o.signature ?? (await signAnswer(f, o.signer ?? f.generator, s.jobId ?? jobId, s.stage ?? stage, s.commitment ?? commitment, s.answer ?? answer));
  return f.pool.connect(verifier).submitResult(jobId, bitmap, fingerprint, salt, answer, signature);
}

/** The arguments of the JobSettled event of `tx`, as plain values (comparable with deep.equal). */
async function settledArgs(f: F, tx: Promise<{ wait(): Promise<unknown> }> | { wait(): Promise<unknown> }) {
  const receipt = (await (await tx).wait()) as { logs: { topics: string[]; data: string }[] };
  const parsed = receipt.logs.map((l) => f.pool.interface.parseLog(l)).find((p) => p?.name === "JobSettled");
  if (!parsed) throw new Error("no JobSettled");
  const plain = (x: unknown): unknown => (Array.isArray(x) ? [...x].map(plain) : x);
  return plain(parsed.args);
}

/** Run `body` on a snapshot and go back to where it started; returns what `body` returned. */
async function inSnapshot<R>(body: () => Promise<R>): Promise<R> {
  const snap = await networkHelpers.takeSnapshot();
  try {
    return await body();
  } finally {
    await snap.restore();
  }
}

/** Everyone withdraws: the pool then holds exactly the bonds (nothing is owed that it does not hold). */
async function expectSolvent(f: F) {
  await withdrawAll(f);
  expect(await f.token.balanceOf(f.poolAddress)).to.equal(await totalBonds(f));
}

/** Challenge and start the epoch with a word whose first pick for stage 1 is `pick` (not drawn yet). */
async function challengeWithPick(f: F, pick: Signer) {
  const jobId = await openAndCommit(f);
  await f.pool.connect(f.user).challenge(jobId);
  await f.rnd.set(await wordFor(f, jobId, 1n, pick));
  return jobId;
}

describe("StakePool: one-transaction stages (submitResult) and equivocation reports", function () {
  it("settles a stage in one transaction with the generator's signed answer (Table 1 row 2, same payouts as commit–answer–reveal)", async function () {
    // the drawn verifier (Verifying)
    {
      const f = await load();
      const jobId = await challenged(f, f.v3);
      const slow = await inSnapshot(() => settledArgs(f, submit(f, jobId, claim)));
      const tx = oneTx(f, jobId, f.v3, claim);
      await expect(tx)
        .to.emit(f.pool, "JobSettled")
        .withArgs(jobId, JobState.GeneratorUpheld, 1, 0n, T(200), [f.v3.address], [T(40)], 0n);
      await expect(tx)
        .to.emit(f.pool, "ResultSubmitted")
        .withArgs(jobId, 1, f.v3.address, ethers.keccak256(claim), ethers.hexlify(claim), HONEST_FP, 0);
      await expect(tx).to.not.emit(f.pool, "ResultCommitted");
      await expect(tx).to.not.emit(f.pool, "FingerprintAnswered");
      expect(await settledArgs(f, tx)).to.deep.equal(slow);
      expect((await f.pool.getJob(jobId)).state).to.equal(JobState.GeneratorUpheld);
      await expectSolvent(f);
    }
    // the pick of a pending draw (AwaitingVerifier): it draws its own stage in the same transaction
    {
      const f = await load();
      const jobId = await challengeWithPick(f, f.v3);
      const { slow, assigned } = await inSnapshot(async () => {
        const drawn = await (await f.pool.connect(f.stranger).drawVerifiers(100)).wait();
        const assigned = drawn!.logs.map((l) => f.pool.interface.parseLog(l)).find((p) => p?.name === "VerifierAssigned")!;
        return { slow: await settledArgs(f, submit(f, jobId, claim)), assigned };
      });
      expect(assigned.args.verifier).to.equal(f.v3.address);
      expect((await f.pool.getJob(jobId)).state).to.equal(JobState.AwaitingVerifier);
      const tx = oneTx(f, jobId, f.v3, claim);
      await expect(tx).to.emit(f.pool, "VerifierAssigned").withArgs(jobId, 1, f.v3.address, T(30), anyValue, assigned.args.fingerprintSeed);
      await expect(tx)
        .to.emit(f.pool, "JobSettled")
        .withArgs(jobId, JobState.GeneratorUpheld, 1, 0n, T(200), [f.v3.address], [T(40)], 0n);
      await expect(tx).to.not.emit(f.pool, "ResultCommitted");
      expect(await settledArgs(f, tx)).to.deep.equal(slow);
      expect((await f.pool.drawEpoch()).frozen).to.equal(false);
      await expectSolvent(f);
    }
  });

  it("a dissent with a matching signed answer goes to the next stage, and a later one-transaction confirmation upholds the verifier (Table 1 row 4)", async function () {
    const f = await load();
    const jobId = await challenged(f, f.v1);
    const dissent = miss(0);
    // the same game through commit, answer and reveal (v1 dissents, v2 confirms): the reference payouts
    const slow = await inSnapshot(async () => {
      await submit(f, jobId, dissent, f.v2);
      return settledArgs(f, submit(f, jobId, dissent));
    });
    // stage 1: v1 dissents in one transaction (its fingerprint matches the generator's signed answer)
    const first = oneTx(f, jobId, f.v1, dissent);
    await expect(first)
      .to.emit(f.pool, "ResultSubmitted")
      .withArgs(jobId, 1, f.v1.address, ethers.keccak256(dissent), ethers.hexlify(dissent), HONEST_FP, 0);
    await expect(first).to.emit(f.pool, "DrawQueued").withArgs(jobId, 2, anyValue, anyValue);
    await expect(first).to.not.emit(f.pool, "JobSettled");
    let job = await f.pool.getJob(jobId);
    expect(job.state).to.equal(JobState.AwaitingVerifier);
    expect(job.stage).to.equal(2n);
    const [, s1, r1] = await f.pool.getStage(jobId, 1);
    expect(s1).to.equal(StageStatus.Submitted);
    expect(r1).to.equal(ethers.keccak256(dissent));
    // stage 2: v2, the pick of the pending draw, confirms in one transaction
    await f.rnd.set(await wordFor(f, jobId, 2n, f.v2));
    const second = oneTx(f, jobId, f.v2, dissent);
    await expect(second).to.emit(f.pool, "VerifierAssigned").withArgs(jobId, 2, f.v2.address, T(30), anyValue, anyValue);
    // user α(Cg+Cv) = 60, v1 (α+β)Cv = 40, v2 βCg+(β−α)Cv = 170
    await expect(second)
      .to.emit(f.pool, "JobSettled")
      .withArgs(jobId, JobState.VerifierUpheld, 2, T(60), 0n, [f.v1.address, f.v2.address], [T(40), T(170)], 0n);
    expect(await settledArgs(f, second)).to.deep.equal(slow);
    job = await f.pool.getJob(jobId);
    expect(job.state).to.equal(JobState.VerifierUpheld);
    await expectSolvent(f);
  });

  it("refuses an answer the generator did not sign, a far answer, a wrong verifier, a late call, and a stage already committed", async function () {
    const f = await load();
    const settlement = await ethers.getContractAt("Settlement", f.poolAddress); // the ECDSA errors are the library's
    const jobId = await challenged(f, f.v1);
    const c = commitmentOf(jobId, 1, f.v1.address, claim);
    const bad = (tx: Promise<unknown>, signer: string | typeof anyValue) =>
      expect(tx).to.be.revertedWithCustomError(f.pool, "StakePoolBadAnswerSignature").withArgs(jobId, signer);
    // signed by the user, or by the verifier itself
    await bad(oneTx(f, jobId, f.v1, claim, { signer: f.user }), f.user.address);
    await bad(oneTx(f, jobId, f.v1, claim, { signer: f.v1 }), f.v1.address);
    // the generator's signature over another commitment (another salt, another bitmap), another answer, stage or pool
    await bad(oneTx(f, jobId, f.v1, claim, { signed: { commitment: commitmentOf(jobId, 1, f.v1.address, claim, HONEST_FP, OTHER_SALT) } }), anyValue);
    await bad(oneTx(f, jobId, f.v1, claim, { signed: { commitment: commitmentOf(jobId, 1, f.v1.address, miss(0)) } }), anyValue);
    await bad(oneTx(f, jobId, f.v1, claim, { signed: { answer: flipped(HONEST_FP, 1) } }), anyValue);
    await bad(oneTx(f, jobId, f.v1, claim, { signed: { stage: 2 } }), anyValue);
    const otherPool = await f.generator.signMessage(
      ethers.getBytes(answerStatement({ chainId, pool: f.stranger.address, jobId, stage: 1, commitment: c, answer: HONEST_FP })),
    );
    await bad(oneTx(f, jobId, f.v1, claim, { signature: otherPool }), anyValue);
    // a malformed signature (the empty one: see the next test)
    await expect(oneTx(f, jobId, f.v1, claim, { signature: "0x" + "11".repeat(64) })).to.be.revertedWithCustomError(settlement, "ECDSAInvalidSignatureLength").withArgs(64);
    await expect(oneTx(f, jobId, f.v1, claim, { signature: "0x" + "00".repeat(65) })).to.be.revertedWithCustomError(settlement, "ECDSAInvalidSignature");
    // a far answer (17 bits from the fingerprint), signed by the generator
    await expect(oneTx(f, jobId, f.v1, claim, { answer: flipped(HONEST_FP, 17) }))
      .to.be.revertedWithCustomError(f.pool, "StakePoolAnswerFar")
      .withArgs(jobId, 17);
    await expect(oneTx(f, jobId, f.v1, claim, { answer: GUESSED_FP }))
      .to.be.revertedWithCustomError(f.pool, "StakePoolAnswerFar")
      .withArgs(jobId, 128);
    // anyone but the stage's verifier, even with the generator's signature over its own commitment
    for (const other of [f.v2, f.user, f.generator, f.stranger]) {
      await expect(oneTx(f, jobId, other, claim)).to.be.revertedWithCustomError(f.pool, "StakePoolNotAssignedVerifier").withArgs(jobId, other.address);
    }
    expect((await f.pool.getJob(jobId)).state).to.equal(JobState.Verifying);
    // 16 bits away is within tolerance: the stage settles
    await expect(oneTx(f, jobId, f.v1, claim, { answer: flipped(HONEST_FP, 16) }))
      .to.emit(f.pool, "ResultSubmitted")
      .withArgs(jobId, 1, f.v1.address, ethers.keccak256(claim), ethers.hexlify(claim), HONEST_FP, 16)
      .and.to.emit(f.pool, "JobSettled")
      .withArgs(jobId, JobState.GeneratorUpheld, 1, 0n, T(200), [f.v1.address], [T(40)], 0n);
    // a settled job takes no more submissions
    await expect(oneTx(f, jobId, f.v1, claim)).to.be.revertedWithCustomError(f.pool, "StakePoolWrongState").withArgs(jobId, JobState.GeneratorUpheld);

    // a pending draw: only its pick may submit (and the failed calls draw nothing)
    const pending = await challengeWithPick(f, f.v2);
    for (const other of [f.v1, f.v3, f.generator]) {
      await expect(oneTx(f, pending, other, claim)).to.be.revertedWithCustomError(f.pool, "StakePoolNotAssignedVerifier").withArgs(pending, other.address);
    }
    expect((await f.pool.getJob(pending)).state).to.equal(JobState.AwaitingVerifier);
    await f.rnd.setMode(1); // Pending randomness: nothing to draw with
    await expect(oneTx(f, pending, f.v2, claim)).to.be.revertedWithCustomError(f.pool, "StakePoolRandomnessPending");
    await f.rnd.setMode(0);
    await oneTx(f, pending, f.v2, claim);
    expect((await f.pool.getJob(pending)).state).to.equal(JobState.GeneratorUpheld);

    // after the verify deadline
    const late = await challenged(f, f.v3);
    const { deadline } = await f.pool.getJob(late);
    await time.increaseTo(deadline + 1n);
    await expect(oneTx(f, late, f.v3, claim)).to.be.revertedWithCustomError(f.pool, "StakePoolDeadlinePassed").withArgs(late, deadline);

    // a stage already committed with commitResult goes on through answer and reveal only
    const committed = await challenged(f, f.v4);
    await commitResult(f, committed, claim);
    await expect(oneTx(f, committed, f.v4, claim)).to.be.revertedWithCustomError(f.pool, "StakePoolWrongState").withArgs(committed, JobState.Answering);
    await f.pool.connect(f.generator).answerFingerprint(committed, HONEST_FP);
    await f.pool.connect(f.v4).revealResult(committed, claim, HONEST_FP, SALT);
    expect((await f.pool.getJob(committed)).state).to.equal(JobState.GeneratorUpheld);

    // (the late verifier is timed out and a new one settles the job, so every job ends settled)
    await f.pool.timeoutVerifier(late);
    await drawFor(f, late, f.v5);
    await oneTx(f, late, f.v5, claim);
    await expectSolvent(f);
  });

  it("a signed answer cannot be replayed on another job or stage", async function () {
    const f = await load();
    const a = await challenged(f, f.v1);
    const b = await challenged(f, f.v1); // the same verifier, generator, bitmap, fingerprint and salt
    const sigA = await signAnswer(f, f.generator, a, 1, commitmentOf(a, 1, f.v1.address, claim));
    await expect(oneTx(f, b, f.v1, claim, { signature: sigA })).to.be.revertedWithCustomError(f.pool, "StakePoolBadAnswerSignature");
    // job A's statement for job B's commitment names job A: no good either
    await expect(oneTx(f, b, f.v1, claim, { signed: { jobId: a } })).to.be.revertedWithCustomError(f.pool, "StakePoolBadAnswerSignature");
    // each works on its own job
    await expect(oneTx(f, a, f.v1, claim, { signature: sigA })).to.emit(f.pool, "JobSettled");
    await expect(oneTx(f, b, f.v1, claim)).to.emit(f.pool, "JobSettled");

    // another stage: the stage-1 answer of a dissent does not serve stage 2, not even for the same verifier's words
    const c = await challenged(f, f.v2);
    const sig1 = await signAnswer(f, f.generator, c, 1, commitmentOf(c, 1, f.v2.address, miss(0)));
    await oneTx(f, c, f.v2, miss(0), { signature: sig1 });
    await drawFor(f, c, f.v3);
    await expect(oneTx(f, c, f.v3, miss(0), { signature: sig1 })).to.be.revertedWithCustomError(f.pool, "StakePoolBadAnswerSignature");
    // the generator's answer for stage 2's commitment, stated for stage 1
    await expect(oneTx(f, c, f.v3, miss(0), { signed: { stage: 1 } })).to.be.revertedWithCustomError(f.pool, "StakePoolBadAnswerSignature");
    await expect(oneTx(f, c, f.v3, miss(0)))
      .to.emit(f.pool, "JobSettled")
      .withArgs(c, JobState.VerifierUpheld, 2, T(60), 0n, [f.v2.address, f.v3.address], [T(40), T(170)], 0n);
    await expectSolvent(f);
  });
});

describe("StakePool: attacks on one-transaction stages", function () {
  it("a verifier cannot get the generator's answer off-chain and then commit a copy of it (equivocation is reported and forfeits the stake)", async function () {
    const f = await load();
    const jobId = await challenged(f, f.v1);
    // v1 did not replay: it sends the generator a commitment c1 to the claim with a made-up fingerprint
    const madeUp = ethers.hexlify(ethers.randomBytes(32));
    const c1 = commitmentOf(jobId, 1, f.v1.address, claim, madeUp);
    const vsig = await signCommitment(f, f.v1, jobId, 1, c1);
    // nothing to report while the stage is not committed on-chain
    await expect(f.pool.connect(f.generator).reportEquivocation(jobId, c1, vsig))
      .to.be.revertedWithCustomError(f.pool, "StakePoolWrongState")
      .withArgs(jobId, JobState.Verifying);
    // the generator answers c1 off-chain with its fingerprint (HONEST_FP); v1 cannot use that answer in
    // submitResult (c1's fingerprint is far from it), so it commits a copy of the answer instead: c2
    const answerSig = await signAnswer(f, f.generator, jobId, 1, c1, HONEST_FP);
    await expect(oneTx(f, jobId, f.v1, claim, { fingerprint: madeUp, signature: answerSig })).to.be.revertedWithCustomError(f.pool, "StakePoolAnswerFar");
    await commitResult(f, jobId, claim, HONEST_FP);
    const c2 = commitmentOf(jobId, 1, f.v1.address, claim);
    // not an equivocation: the commitment it made on-chain, or a statement somebody else signed
    await expect(f.pool.reportEquivocation(jobId, c2, await signCommitment(f, f.v1, jobId, 1, c2)))
      .to.be.revertedWithCustomError(f.pool, "StakePoolNoEquivocation")
      .withArgs(jobId, f.v1.address);
    await expect(f.pool.reportEquivocation(jobId, c1, await signCommitment(f, f.v2, jobId, 1, c1)))
      .to.be.revertedWithCustomError(f.pool, "StakePoolNoEquivocation")
      .withArgs(jobId, f.v2.address);
    await expect(f.pool.reportEquivocation(jobId, c1, await signCommitment(f, f.generator, jobId, 1, c1)))
      .to.be.revertedWithCustomError(f.pool, "StakePoolNoEquivocation")
      .withArgs(jobId, f.generator.address);
    // v1's statement for another stage or job is not this stage's
    await expect(f.pool.reportEquivocation(jobId, c1, await signCommitment(f, f.v1, jobId, 2, c1))).to.be.revertedWithCustomError(f.pool, "StakePoolNoEquivocation");
    await expect(f.pool.reportEquivocation(jobId, c1, await signCommitment(f, f.v1, jobId + 1n, 1, c1))).to.be.revertedWithCustomError(f.pool, "StakePoolNoEquivocation");

    // the generator reports v1's statement of c1
    const creditBefore = await f.pool.creditOf(f.generator.address);
    const treasuryBefore = await f.pool.creditOf(f.treasury.address);
    const report = f.pool.connect(f.generator).reportEquivocation(jobId, c1, vsig);
    // the stake (30) is forfeited: the decline fee's share (10 %: 3) to the reporter, 27 to the treasury
    await expect(report).to.emit(f.pool, "VerifierEquivocated").withArgs(jobId, 1, f.v1.address, c1, f.generator.address, T(30), T(3));
    await expect(report).to.emit(f.pool, "DrawQueued").withArgs(jobId, 1, anyValue, anyValue);
    await expect(report).to.not.emit(f.pool, "VerifierTimedOut");
    expect(await f.pool.creditOf(f.generator.address)).to.equal(creditBefore + T(3));
    expect(await f.pool.creditOf(f.treasury.address)).to.equal(treasuryBefore + T(27));
    const job = await f.pool.getJob(jobId);
    expect(job.state).to.equal(JobState.AwaitingVerifier);
    expect(job.stage).to.equal(1n);
    const [dropped, status] = await f.pool.getStage(jobId, 1);
    expect(dropped).to.equal(f.v1.address);
    expect(status).to.equal(StageStatus.NoShow);
    // v1 can no longer reveal, and the report cannot be made twice
    await expect(f.pool.connect(f.v1).revealResult(jobId, claim, HONEST_FP, SALT))
      .to.be.revertedWithCustomError(f.pool, "StakePoolWrongState")
      .withArgs(jobId, JobState.AwaitingVerifier);
    await expect(f.pool.connect(f.generator).reportEquivocation(jobId, c1, vsig)).to.be.revertedWithCustomError(f.pool, "StakePoolWrongState");

    // the next draw never picks v1 again, not even when its word's first attempt lands on it
    await f.rnd.set(await wordFor(f, jobId, 1n, f.v1));
    await expect(oneTx(f, jobId, f.v1, claim)).to.be.revertedWithCustomError(f.pool, "StakePoolNotAssignedVerifier");
    await f.pool.connect(f.stranger).drawVerifiers(100);
    const [, next] = await f.pool.currentStage(jobId);
    expect((await f.pool.getJob(jobId)).state).to.equal(JobState.Verifying);
    expect(next).to.not.equal(ethers.ZeroAddress);
    expect(next).to.not.equal(f.v1.address);
    // v1 lost its stake (bond 100 − 30); the new verifier settles the stage, v1 is not among the paid
    expect((await f.pool.bondOf(f.v1.address)).bond).to.equal(T(70));
    const nextSigner = f.signers.find((s) => s.address === next)!;
    await expect(oneTx(f, jobId, nextSigner, claim))
      .to.emit(f.pool, "JobSettled")
      .withArgs(jobId, JobState.GeneratorUpheld, 1, 0n, T(200), [next], [T(40)], 0n);
    await expectSolvent(f);
  });

  it("a verifier cannot leave a committed stage for free by reporting itself from a second address (it pays more than a decline)", async function () {
    const f = await load();
    const jobId = await challenged(f, f.v1);
    const c = commitmentOf(jobId, 1, f.v1.address, claim, ethers.hexlify(ethers.randomBytes(32)));
    await f.pool.connect(f.v1).commitResult(jobId, c);
    // it sees a far answer coming and wants out: it signs another commitment, its sybil reports it
    const other = commitmentOf(jobId, 1, f.v1.address, claim, HONEST_FP);
    const sybil = f.stranger;
    const before = await f.pool.creditOf(sybil.address);
    await expect(f.pool.connect(sybil).reportEquivocation(jobId, other, await signCommitment(f, f.v1, jobId, 1, other)))
      .to.emit(f.pool, "VerifierEquivocated")
      .withArgs(jobId, 1, f.v1.address, other, sybil.address, T(30), T(3));
    // the pair gets back 3 of the 30 staked: a loss of 27, where a decline costs the fee (3)
    expect((await f.pool.creditOf(sybil.address)) - before).to.equal(T(3));
    expect((await f.pool.bondOf(f.v1.address)).bond).to.equal(T(70));
    expect((await f.pool.getJob(jobId)).state).to.equal(JobState.AwaitingVerifier);
  });

  it("a verifier cannot make the generator forfeit by submitting without its signature (an empty signature is refused, not read as a generator that did not answer)", async function () {
    const f = await load();
    const settlement = await ethers.getContractAt("Settlement", f.poolAddress);
    for (const bitmap of [claim, miss(0)]) {
      const jobId = await challenged(f, f.v1);
      await time.increase(60); // the stage was drawn a while ago
      // no commitment, no answer window: the generator never had a chance to answer
      await expect(oneTx(f, jobId, f.v1, bitmap, { signature: "0x" }))
        .to.be.revertedWithCustomError(settlement, "ECDSAInvalidSignatureLength")
        .withArgs(0);
      expect((await f.pool.getJob(jobId)).state).to.equal(JobState.Verifying);
      expect(await f.pool.creditOf(f.treasury.address)).to.equal(0n);
      await oneTx(f, jobId, f.v1, claim);
    }
  });
});
