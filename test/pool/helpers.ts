/**
 * Shared set-up for the StakePool mocha tests: one in-process network per test file, a fixture that
 * deploys TestToken + MockRandomness + StakePool and funds the actors, and helpers that drive a job
 * through its life cycle with the draws under the test's control.
 */
import { network } from "hardhat";
import type { PoolParams } from "../../scripts/lib/params.js";
import { paramsStruct } from "../../scripts/lib/params.js";
import { bitmapWithMisses, claimBitmap } from "../../scripts/lib/state.js";
import { keepFloatCloseTo } from "./float-close-to.js";

export const E18 = 10n ** 18n;
export const HOUR = 3600;
export const DAY = 24 * HOUR;
export const MODEL_ID = "0x" + "11".repeat(32);
/** A job request hash and where to fetch it (offchain/request); the pool only emits them. */
export const REQUEST_HASH = "0x" + "22".repeat(32);
export const REQUEST_URI = "https://requests.example/0x" + "22".repeat(32);
export const ROOT = "0x" + "22".repeat(32);
export const URI = "http://127.0.0.1:8787/receipts/root";
export const NUM_CHECKS = 20; // 3 bytes, 4 unused trailing bits

/** α = 0.5, β = 1.5: with Cg = 100 and Cv = 20 tokens the amounts are 50, 10, 150 and 30 tokens. */
export const TEST_PARAMS: PoolParams = {
  alphaBps: 5_000,
  betaBps: 15_000,
  commitWindow: HOUR,
  challengeWindow: HOUR,
  verifyWindow: HOUR,
  drawWindow: DAY,
  maxStages: 3,
  unbondDelay: 7 * DAY,
  minBond: 10n * E18,
};
export const CG = 100n * E18;
export const CV = 20n * E18;
export const BOND = 100n * E18;

export const claim = claimBitmap(NUM_CHECKS);
/** A result that differs from the claim (and from other `miss(j)` for j != i): check i unmatched. */
export const miss = (i: number) => bitmapWithMisses(NUM_CHECKS, [i]);

export async function createPoolContext() {
  const connection = await network.create();
  keepFloatCloseTo();
  const { ethers, networkHelpers } = connection;

  async function deployFixture() {
    const signers = await ethers.getSigners();
    const [owner, user, generator, v1, v2, v3, v4, v5, stranger, other] = signers;
    if (!owner || !user || !generator || !v1 || !v2 || !v3 || !v4 || !v5 || !stranger || !other) {
      throw new Error("need 10 accounts");
    }
    const token = await ethers.deployContract("TestToken");
    const rnd = await ethers.deployContract("MockRandomness");
    const pool = await ethers.deployContract("StakePool", [
      await token.getAddress(),
      owner.address,
      paramsStruct(TEST_PARAMS),
      await rnd.getAddress(),
    ]);
    const poolAddress = await pool.getAddress();
    for (const s of [user, generator, v1, v2, v3, v4, v5, stranger, other]) {
      await token.mint(s.address, 1_000_000n * E18);
      await token.connect(s).approve(poolAddress, ethers.MaxUint256);
    }
    // v1..v4 are bonded verifiers (list order v1, v2, v3, v4); v5 is not.
    for (const v of [v1, v2, v3, v4]) await pool.connect(v).bond(BOND);
    return { token, rnd, pool, poolAddress, owner, user, generator, v1, v2, v3, v4, v5, stranger, other, signers };
  }

  type Fixture = Awaited<ReturnType<typeof deployFixture>>;

  /** Make the next draw start at `verifier` (it is drawn if eligible). */
  async function pick(f: Fixture, verifier: { address: string }) {
    const n = await f.pool.verifierCount();
    for (let i = 0n; i < n; i++) {
      if ((await f.pool.verifierAt(i)).toLowerCase() === verifier.address.toLowerCase()) {
        await f.rnd.set(i);
        return;
      }
    }
    throw new Error(`${verifier.address} is not in the verifier set`);
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
  async function challenged(f: Fixture, first: { address: string }, cg = CG, cv = CV) {
    const jobId = await openAndCommit(f, cg, cv);
    await pick(f, first);
    await f.pool.connect(f.user).challenge(jobId);
    return jobId;
  }

  /** The current stage's verifier submits `bitmap`; `next` (if given) is drawn for the next stage. */
  async function submit(f: Fixture, jobId: bigint, bitmap: Uint8Array, next?: { address: string }) {
    if (next) await pick(f, next);
    const [, verifier] = await f.pool.currentStage(jobId);
    const signer = f.signers.find((s) => s.address === verifier);
    if (!signer) throw new Error(`no signer for the current verifier ${verifier}`);
    return f.pool.connect(signer).submitResult(jobId, bitmap);
  }

  /** Everyone withdraws its credit; returns what each got. */
  async function withdrawAll(f: Fixture) {
    const got = new Map<string, bigint>();
    for (const s of f.signers.slice(0, 10)) {
      const c = await f.pool.creditOf(s.address);
      if (c > 0n) {
        await f.pool.connect(s).withdraw();
        got.set(s.address, c);
      }
    }
    return got;
  }

  /** Sum of bonded + unbonding tokens of the first ten accounts. */
  async function totalBonds(f: Fixture) {
    let sum = 0n;
    for (const s of f.signers.slice(0, 10)) {
      const b = await f.pool.bondOf(s.address);
      sum += b.bond + b.unbonding;
    }
    return sum;
  }

  return { connection, ethers, networkHelpers, deployFixture, pick, openJob, openAndCommit, challenged, submit, withdrawAll, totalBonds };
}
