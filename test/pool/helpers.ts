/**
 * Shared set-up for the StakePool mocha tests: one in-process network per test file, a fixture that
 * deploys TestToken + MockRandomness + StakePool, funds the actors and registers five verifiers for
 * MODEL_ID, and helpers that drive a job through its life cycle with the draws under the test's
 * control (a draw word is searched so that the stake-weighted pick lands on the verifier a test names).
 */
import { network } from "hardhat";
import { bitmapWithMisses, claimBitmap } from "../../scripts/lib/state.js";
import type { PoolParams } from "../../scripts/lib/params.js";
import { keepFloatCloseTo } from "./float-close-to.js";
import { deployStakePool } from "../../scripts/lib/pool-deploy.js";
import { resultCommitment } from "../../offchain/chain/commitment.js";

export const E18 = 10n ** 18n;
export const HOUR = 3600;
export const DAY = 24 * HOUR;
export const MODEL_ID = "0x" + "11".repeat(32);
export const OTHER_MODEL = "0x" + "33".repeat(32);
/** A job request hash and where to fetch it (offchain/request); the pool only emits them. */
export const REQUEST_HASH = "0x" + "22".repeat(32);
export const REQUEST_URI = "https://requests.example/0x" + "22".repeat(32);
export const ROOT = "0x" + "22".repeat(32);
export const URI = "http://127.0.0.1:8787/receipts/root";
export const NUM_CHECKS = 20; // 3 bytes, 4 unused trailing bits

/** The pool's Params struct, as the tests write it. */
export type TestParams = PoolParams;

/**
 * α = 0.5, β = 1.5: with Cg = 100 and Cv = 20 tokens the amounts are 50, 10, 150 and 30 tokens
 * (βCg = 150 > 2αCv + βCv = 50; βCv = 30 ≤ minBond · 50 % = 50).
 */
export const TEST_PARAMS: TestParams = {
  alphaBps: 5_000,
  betaBps: 15_000,
  commitWindow: HOUR,
  challengeWindow: HOUR,
  verifyWindow: HOUR,
  drawWindow: DAY,
  maxStages: 3,
  unbondDelay: 7 * DAY,
  minBond: 100n * E18,
  minModelStake: 300n * E18,
  maxStakeBps: 5_000,
  declineFeeBps: 1_000,
};
export const CG = 100n * E18;
export const CV = 20n * E18;
export const BOND = 100n * E18;

export const claim = claimBitmap(NUM_CHECKS);
/** A result that differs from the claim (and from other `miss(j)` for j != i): check i unmatched. */
export const miss = (i: number) => bitmapWithMisses(NUM_CHECKS, [i]);

export type Addressable = { address: string };

/** The replay fingerprint every honest party of these tests has (the pool only compares them). */
export const HONEST_FP = "0x" + "5a".repeat(32);
/** A fingerprint 128 bits away from HONEST_FP: what a verifier that did not replay might commit. */
export const GUESSED_FP = "0x" + "a5".repeat(16) + "5a".repeat(16);
export const SALT = "0x" + "77".repeat(32);

/** How a stage's result goes through commit, answers and reveal (see `submit`). */
export interface SubmitOptions {
  /** The verifier's fingerprint (default HONEST_FP). */
  fingerprint?: string;
  /** The generator's answer; null = it does not answer (default HONEST_FP). */
  generatorAnswer?: string | null;
  /** Answers of the earlier stages' verifiers by stage; null = no answer (default HONEST_FP each). */
  earlierAnswers?: Record<number, string | null>;
}

export async function createPoolContext() {
  const connection = await network.create();
  keepFloatCloseTo();
  const { ethers, networkHelpers } = connection;
  const abi = ethers.AbiCoder.defaultAbiCoder();

  async function deployFixture() {
    const signers = await ethers.getSigners();
    const [owner, user, generator, v1, v2, v3, v4, v5, stranger, other, treasury, v6] = signers;
    if (!owner || !user || !generator || !v1 || !v2 || !v3 || !v4 || !v5 || !stranger || !other || !treasury || !v6) {
      throw new Error("need 12 accounts");
    }
    const token = await ethers.deployContract("TestToken");
    const rnd = await ethers.deployContract("MockRandomness");
    const pool = await deployStakePool(ethers, [
      await token.getAddress(),
      owner.address,
      { ...TEST_PARAMS },
      await rnd.getAddress(),
      treasury.address,
    ]);
    const poolAddress = await pool.getAddress();
    for (const s of [user, generator, v1, v2, v3, v4, v5, stranger, other, v6]) {
      await token.mint(s.address, 1_000_000n * E18);
      await token.connect(s).approve(poolAddress, ethers.MaxUint256);
    }
    // v1..v5 serve MODEL_ID with BOND each (tree order v1..v5); v6 is not bonded.
    for (const v of [v1, v2, v3, v4, v5]) {
      await pool.connect(v).setModels([MODEL_ID]);
      await pool.connect(v).bond(BOND);
    }
    return { token, rnd, pool, poolAddress, owner, user, generator, v1, v2, v3, v4, v5, v6, stranger, other, treasury, signers };
  }

  type Fixture = Awaited<ReturnType<typeof deployFixture>>;

  /** The tree pick of attempt `attempt` for stage `stage` of job `jobId` with epoch word `word`. */
  async function pickOf(f: Fixture, jobId: bigint, stage: bigint, word: bigint, attempt = 0n, model = MODEL_ID) {
    const r = BigInt(ethers.keccak256(abi.encode(["uint256", "uint256", "uint256", "uint256"], [word, jobId, stage, attempt])));
    return (await f.pool.drawAt(model, r)) as string;
  }

  /** A word whose first attempt for (jobId, stage) picks `verifier` (the trees must be as at the draw). */
  async function wordFor(f: Fixture, jobId: bigint, stage: bigint, verifier: Addressable, model = MODEL_ID) {
    for (let w = 0n; w < 4096n; w++) {
      if ((await pickOf(f, jobId, stage, w, 0n, model)).toLowerCase() === verifier.address.toLowerCase()) return w;
    }
    throw new Error(`no word picks ${verifier.address} for job ${jobId} stage ${stage}`);
  }

  /**
   * Draw the job's waiting stage with `verifier` as the first pick: starts an epoch if none runs,
   * sets the mock's word and calls drawVerifiers (by `caller`, default the stranger).
   */
  async function drawFor(f: Fixture, jobId: bigint, verifier: Addressable, caller?: Addressable) {
    const by = f.signers.find((s) => s.address === (caller ?? f.stranger).address)!;
    if (!(await f.pool.drawEpoch()).frozen) await f.pool.connect(by).drawVerifiers(0);
    const job = await f.pool.getJob(jobId);
    await f.rnd.set(await wordFor(f, jobId, job.stage, verifier));
    return f.pool.connect(by).drawVerifiers(100);
  }

  async function openJob(f: Fixture, cg = CG, cv = CV) {
    await f.pool.connect(f.user).openJob(f.generator.address, MODEL_ID, cg, cv, REQUEST_HASH, REQUEST_URI);
    return (await f.pool.nextJobId()) - 1n;
  }

  async function openAndCommit(f: Fixture, cg = CG, cv = CV) {
    const jobId = await openJob(f, cg, cv);
    await f.pool.connect(f.generator).commit(jobId, ROOT, NUM_CHECKS, URI);
    return jobId;
  }

  /** Open, commit and challenge with `first` drawn for stage 1. */
  async function challenged(f: Fixture, first: Addressable, cg = CG, cv = CV) {
    const jobId = await openAndCommit(f, cg, cv);
    await f.pool.connect(f.user).challenge(jobId);
    await drawFor(f, jobId, first);
    return jobId;
  }

  const signerOf = (f: Fixture, address: string) => {
    const signer = f.signers.find((s) => s.address === address);
    if (!signer) throw new Error(`no signer for ${address}`);
    return signer;
  };

  /** The current stage's verifier commits `bitmap` with its fingerprint; returns the commit tx. */
  async function commitResult(f: Fixture, jobId: bigint, bitmap: Uint8Array, fingerprint = HONEST_FP) {
    const [stage, verifier] = await f.pool.currentStage(jobId);
    const commitment = resultCommitment({ jobId, stage: Number(stage), verifier, matchBitmap: bitmap, fingerprint, salt: SALT });
    return f.pool.connect(signerOf(f, verifier)).commitResult(jobId, commitment);
  }

  /** In Answering: the generator and the earlier verifiers answer as `opts` says. */
  async function answer(f: Fixture, jobId: bigint, opts: SubmitOptions = {}) {
    const [stage] = await f.pool.currentStage(jobId);
    const g = opts.generatorAnswer === undefined ? HONEST_FP : opts.generatorAnswer;
    if (g !== null) await f.pool.connect(f.generator).answerFingerprint(jobId, g);
    for (let i = 1; i < Number(stage); i++) {
      const a = opts.earlierAnswers?.[i] === undefined ? HONEST_FP : opts.earlierAnswers[i]!;
      if (a === null) continue;
      const [earlier] = await f.pool.getStage(jobId, i);
      await f.pool.connect(signerOf(f, earlier)).answerFingerprint(jobId, a);
    }
  }

  /**
   * The current stage's verifier submits `bitmap`: commit, answers (honest by default), a wait for the
   * answer deadline if someone did not answer, reveal; `next` (if given) is drawn for the next stage.
   * Returns the reveal transaction.
   */
  async function submit(f: Fixture, jobId: bigint, bitmap: Uint8Array, next?: Addressable, opts: SubmitOptions = {}) {
    const [, verifier] = await f.pool.currentStage(jobId);
    await commitResult(f, jobId, bitmap, opts.fingerprint);
    await answer(f, jobId, opts);
    const [stage] = await f.pool.currentStage(jobId);
    const [, , answered] = await f.pool.stageRound(jobId, stage);
    if (Number(answered) !== (1 << Number(stage)) - 1) {
      const job = await f.pool.getJob(jobId);
      await networkHelpers.time.increaseTo(Number(job.deadline) - TEST_PARAMS.verifyWindow + 1);
    }
    const tx = await f.pool.connect(signerOf(f, verifier)).revealResult(jobId, bitmap, opts.fingerprint ?? HONEST_FP, SALT);
    if (next) await drawFor(f, jobId, next);
    return tx;
  }

  /** Everyone withdraws its credit; returns what each got. */
  async function withdrawAll(f: Fixture) {
    const got = new Map<string, bigint>();
    for (const s of f.signers.slice(0, 12)) {
      const c = await f.pool.creditOf(s.address);
      if (c > 0n) {
        await f.pool.connect(s).withdraw();
        got.set(s.address, c);
      }
    }
    return got;
  }

  /** Sum of bonded, pending and unbonding tokens of the first twelve accounts. */
  async function totalBonds(f: Fixture) {
    let sum = 0n;
    for (const s of f.signers.slice(0, 12)) {
      const b = await f.pool.bondOf(s.address);
      sum += b.bond + b.pendingBond + b.unbonding;
    }
    return sum;
  }

  return { connection, ethers, networkHelpers, deployFixture, pickOf, wordFor, drawFor, openJob, openAndCommit, challenged, submit, commitResult, answer, withdrawAll, totalBonds };
}
