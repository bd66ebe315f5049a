/**
 * A pool on Hardhat's in-process network with jobs in every kind of state, without a model (the
 * receipts are never fetched): Open, Committed, Cancelled, Finalized, AwaitingVerifier (randomness
 * held back), Answering (nobody answered yet), Verifying, GeneratorUpheld (the drawn verifier
 * agreed), VerifierUpheld (two stages: V2 confirms V1's dissent), a declined and a timed-out
 * assignment each drawn again. Used by jobs.test.ts and package.test.ts.
 */
import { network } from "hardhat";
import { hexlify, keccak256, toUtf8Bytes, type Signer } from "ethers";
import { bitmapWithMisses, claimBitmap, JobState, newSalt, PoolClient, resultCommitment, type PoolEventOf } from "../../offchain/chain/index.js";
import { requestHash, requestToDataUri } from "../../offchain/request/index.js";
import { BOND, CG, CV, E18, WORKER_TEST_PARAMS, bondVerifiers, deployTestPool, tinyRequest } from "../worker/helpers.js";

export const MODEL = "0x" + "a1".repeat(32);
const FP = keccak256(toUtf8Bytes("fingerprint"));

export async function createJobsFixture() {
  const connection = await network.create();
  const { ethers, networkHelpers } = connection;
  const signers = await ethers.getSigners();
  const need = (i: number): Signer => {
    const s = signers[i];
    if (!s) throw new Error(`need account ${i}`);
    return s;
  };
  const [owner, user, generator, stranger] = [need(0), need(1), need(2), need(8)];
  const verifiers = [need(3), need(4), need(5), need(6), need(7)];
  const addr = await Promise.all([owner, user, generator, stranger].map((s) => s.getAddress()));
  const deployed = await deployTestPool(ethers, addr[0]!, WORKER_TEST_PARAMS);
  const client = await PoolClient.create({ runner: ethers.provider, pool: deployed.poolAddress, deployBlock: deployed.deployBlock, pollMs: 20 });
  const as = (s: Signer) => client.connect(s);
  for (const s of [user, generator]) await as(owner).mintTestTokens(await s.getAddress(), 1_000n * E18);
  await bondVerifiers(client, verifiers, [MODEL], BOND);
  const byAddress = new Map(await Promise.all(verifiers.map(async (v) => [await v.getAddress(), v] as const)));

  let seed = 0;
  async function open(): Promise<bigint> {
    const req = tinyRequest(MODEL, ++seed);
    const { jobId } = await as(user).openJob({ generator: addr[2]!, modelId: MODEL, cg: CG, cv: CV, requestHash: requestHash(req), requestUri: requestToDataUri(req), approve: true });
    return jobId;
  }
  const NUM_CHECKS = 20;
  async function commit(jobId: bigint) {
    await as(generator).commit(jobId, { receiptRoot: keccak256(toUtf8Bytes(`root ${jobId}`)), numChecks: NUM_CHECKS, receiptUri: `http://127.0.0.1:1/receipts/${jobId}`, approve: true });
  }
  /** Draw the job's queued stage (the mock gives its word at once): the drawn verifier's signer. */
  async function draw(jobId: bigint): Promise<Signer> {
    for (let i = 0; i < 3 && (await client.getJob(jobId)).state === JobState.AwaitingVerifier; i++) await as(stranger).tryDrawVerifiers();
    const assigned = (await client.jobEvents(jobId)).filter((e): e is PoolEventOf<"VerifierAssigned"> => e.name === "VerifierAssigned").at(-1);
    if (!assigned || (await client.getJob(jobId)).state !== JobState.Verifying) throw new Error(`job ${jobId}: nobody drawn`);
    return byAddress.get(assigned.verifier)!;
  }
  async function challengeAndDraw(jobId: bigint): Promise<Signer> {
    await as(user).challenge(jobId);
    return draw(jobId);
  }
  /** The drawn verifier of `stage` commits to `bitmap` (default: the generator's claim) and fingerprint FP. */
  async function commitResult(jobId: bigint, v: Signer, stage = 1, bitmap = hexlify(claimBitmap(NUM_CHECKS))) {
    const salt = newSalt();
    const verifier = await v.getAddress();
    await as(v).commitResult(jobId, resultCommitment({ jobId, stage, verifier, matchBitmap: bitmap, fingerprint: FP, salt }));
    return { bitmap, salt };
  }
  const commitClaim = (jobId: bigint, v: Signer) => commitResult(jobId, v);
  /** The claim with checks 0 and 5 missed: a dissent. */
  const misses = hexlify(bitmapWithMisses(NUM_CHECKS, [0, 5]));

  const jobs: Record<string, bigint> = {};
  // finalized and cancelled first: the time travel passes their deadlines
  jobs.finalized = await open();
  await commit(jobs.finalized);
  jobs.cancelled = await open();
  await networkHelpers.time.increase(WORKER_TEST_PARAMS.challengeWindow + 1);
  await as(stranger).finalize(jobs.finalized);
  await as(stranger).cancel(jobs.cancelled);
  jobs.open = await open();
  jobs.committed = await open();
  await commit(jobs.committed);
  // upheld: drawn, committed, the generator answers, the verifier reveals the claim
  jobs.upheld = await open();
  await commit(jobs.upheld);
  const vu = await challengeAndDraw(jobs.upheld);
  const r = await commitClaim(jobs.upheld, vu);
  await as(generator).answerFingerprint(jobs.upheld, FP);
  await as(vu).revealResult(jobs.upheld, r.bitmap, FP, r.salt);
  // slashed: V1 dissents, stage 2's verifier confirms V1 (both answered V1's and the generator's seeds)
  jobs.slashed = await open();
  await commit(jobs.slashed);
  const s1 = await challengeAndDraw(jobs.slashed);
  const r1 = await commitResult(jobs.slashed, s1, 1, misses);
  await as(generator).answerFingerprint(jobs.slashed, FP);
  await as(s1).revealResult(jobs.slashed, r1.bitmap, FP, r1.salt);
  const s2 = await draw(jobs.slashed);
  const r2 = await commitResult(jobs.slashed, s2, 2, misses);
  await as(generator).answerFingerprint(jobs.slashed, FP);
  await as(s1).answerFingerprint(jobs.slashed, FP);
  await as(s2).revealResult(jobs.slashed, r2.bitmap, FP, r2.salt);
  // declined: the first verifier gives the assignment back, another is drawn
  jobs.declined = await open();
  await commit(jobs.declined);
  const d1 = await challengeAndDraw(jobs.declined);
  await as(d1).declineAssignment(jobs.declined);
  await draw(jobs.declined);
  // timed out: the drawn verifier never commits; after its window anyone times it out and the stage is drawn again
  jobs.timedOut = await open();
  await commit(jobs.timedOut);
  await challengeAndDraw(jobs.timedOut);
  await networkHelpers.time.increase(WORKER_TEST_PARAMS.verifyWindow + 1);
  await as(stranger).timeoutVerifier(jobs.timedOut);
  await draw(jobs.timedOut);
  // answering and verifying after the time travel above, so that their windows are still open
  // answering: result committed, nobody answered yet
  jobs.answering = await open();
  await commit(jobs.answering);
  const va = await challengeAndDraw(jobs.answering);
  await commitClaim(jobs.answering, va);
  // verifying: drawn, nothing committed
  jobs.verifying = await open();
  await commit(jobs.verifying);
  await challengeAndDraw(jobs.verifying);
  // awaiting: the randomness is held back
  jobs.awaiting = await open();
  await commit(jobs.awaiting);
  await deployed.rnd.setMode(1);
  await as(user).challenge(jobs.awaiting);
  await as(stranger).tryDrawVerifiers();

  return { connection, ethers, networkHelpers, client, deployed, jobs, user: addr[1]!, generator: addr[2]!, NUM_CHECKS };
}

export type JobsFixture = Awaited<ReturnType<typeof createJobsFixture>>;
