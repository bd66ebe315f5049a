/**
 * A pool on Hardhat's in-process network with jobs in every kind of state, without a model (the
 * receipts are never fetched): Open, Committed, Cancelled, Finalized, AwaitingVerifier (randomness
 * held back), Answering (nobody answered yet), GeneratorUpheld (the drawn verifier agreed) and
 * Verifying; the settlement paths of Table 1 are the pool tests' (test/pool/). Used by jobs.test.ts
 * and package.test.ts.
 */
import { network } from "hardhat";
import { hexlify, keccak256, toUtf8Bytes, type Signer } from "ethers";
import { claimBitmap, newSalt, PoolClient, resultCommitment, type PoolEventOf } from "../../offchain/chain/index.js";
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
  /** Challenge and draw (the mock gives its word at once): the drawn verifier's signer. */
  async function challengeAndDraw(jobId: bigint): Promise<Signer> {
    await as(user).challenge(jobId);
    for (let i = 0; i < 3; i++) {
      const job = await client.getJob(jobId);
      if (job.state !== 4) break;
      await as(stranger).tryDrawVerifiers();
    }
    const assigned = (await client.jobEvents(jobId)).filter((e): e is PoolEventOf<"VerifierAssigned"> => e.name === "VerifierAssigned").at(-1);
    if (!assigned) throw new Error(`job ${jobId}: nobody drawn`);
    return byAddress.get(assigned.verifier)!;
  }
  async function commitClaim(jobId: bigint, v: Signer) {
    const salt = newSalt();
    const bitmap = hexlify(claimBitmap(NUM_CHECKS));
    const verifier = await v.getAddress();
    await as(v).commitResult(jobId, resultCommitment({ jobId, stage: 1, verifier, matchBitmap: bitmap, fingerprint: FP, salt }));
    return { bitmap, salt };
  }

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
