/**
 * Shared set-up for the worker fault tests: one in-process Hardhat network per file with TestToken +
 * MockRandomness + StakePool (short windows), the tiny model built once into a temp directory, a
 * receipt store served over HTTP, five verifiers bonded for the tiny model (maxStages + 2, the least a
 * model needs for jobs), and helpers that drive a job to a challenge and draw the verifier of the
 * test's choice (a MockRandomness word found with `drawWordFor`). Every on-chain action goes through
 * the PoolClient (offchain/chain).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { network } from "hardhat";
import type { Signer } from "ethers";
import { buildModel, loadModel, type LoadedModel } from "../../offchain/model/index.js";
import { generate } from "../../offchain/generate/index.js";
import { ReceiptStore, numChecks, serveReceipts, type Receipt, type ReceiptServer } from "../../offchain/receipt/index.js";
import { replayFingerprints } from "../../offchain/fingerprint/index.js";
import { JobState } from "../../scripts/lib/state.js";
import { requestHash, requestToDataUri, samplerSeedFor, type JobRequest, parseJobRequest } from "../../offchain/request/index.js";
import { PoolClient, type PoolEvent } from "../../offchain/chain/index.js";
import { paramsStruct, type PoolParams } from "../../scripts/lib/params.js";
import { deployStakePool } from "../../scripts/lib/pool-deploy.js";
import type { LogRecord } from "../../offchain/worker/log.js";

export const E18 = 10n ** 18n;
export const VERIFY_WINDOW = 600;

export const WORKER_TEST_PARAMS: PoolParams = {
  alphaBps: 5_000,
  betaBps: 15_000,
  commitWindow: 3600,
  challengeWindow: 3600,
  verifyWindow: VERIFY_WINDOW,
  drawWindow: 3600,
  maxStages: 3,
  unbondDelay: 3600,
  minBond: 10n * E18,
  minModelStake: 50n * E18,
  maxStakeBps: 5_000,
  declineFeeBps: 1_000,
};
export const CG = 10n * E18;
export const CV = 2n * E18;

export const HOUR = 3600;
/** α = 1, β = 2, every window and the unbond delay one hour: the CLI and generator-worker tests. */
export const HOURLY_PARAMS: PoolParams = {
  alphaBps: 10_000,
  betaBps: 20_000,
  commitWindow: HOUR,
  challengeWindow: HOUR,
  verifyWindow: HOUR,
  drawWindow: HOUR,
  maxStages: 3,
  unbondDelay: HOUR,
  minBond: 10n * E18,
  minModelStake: 50n * E18,
  maxStakeBps: 5_000,
  declineFeeBps: 1_000,
};
export const BOND = 100n * E18;

type HardhatEthers = Awaited<ReturnType<typeof network.create>>["ethers"];

/**
 * TestToken + MockRandomness + StakePool with `params`; the treasury is `treasury` (default: the
 * owner). Returns the addresses and the pool's creation block.
 */
export async function deployTestPool(ethers: HardhatEthers, owner: string, params: PoolParams, o: { treasury?: string } = {}) {
  const token = await ethers.deployContract("TestToken");
  const rnd = await ethers.deployContract("MockRandomness");
  const pool = await deployStakePool(ethers, [await token.getAddress(), owner, paramsStruct(params), await rnd.getAddress(), o.treasury ?? owner]);
  const deployBlock = (await pool.deploymentTransaction()!.wait())!.blockNumber;
  return { token, rnd, pool, poolAddress: await pool.getAddress(), tokenAddress: await token.getAddress(), deployBlock };
}

/**
 * Mint `amount` to each verifier, bond it and declare `models`: after this a job for one of the
 * models can be opened (with at least maxStages + 2 verifiers and minModelStake of weight).
 */
export async function bondVerifiers(client: PoolClient, verifiers: readonly Signer[], models: readonly string[], amount = BOND): Promise<void> {
  for (const v of verifiers) {
    const c = client.connect(v);
    const me = await c.account();
    if ((await c.tokenBalance(me)) < amount) await c.mintTestTokens(me, amount);
    await c.setModels(models);
    await c.bond(amount, { approve: true });
  }
}

export const PROMPT = Array.from({ length: 16 }, (_, i) => 32 + ((i * 37 + 11) % 95));

export function tinyRequest(modelId: string, seed = 1): JobRequest {
  return parseJobRequest({
    version: 1,
    modelId,
    promptTokens: PROMPT,
    decoding: { seed, temperature: 0, topK: 0, topP: 1, maxTokens: 12, stopAtEos: false },
    sampler: { ratePpm: 250_000, layersPerToken: 2, scope: "all" },
  });
}

/** Poll `cond` until it returns a truthy value (or throw after `timeoutMs`). */
export async function waitFor<T>(what: string, cond: () => T | Promise<T>, timeoutMs = 20_000, everyMs = 25): Promise<NonNullable<T>> {
  const start = Date.now();
  for (;;) {
    const v = await cond();
    if (v) return v as NonNullable<T>;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Collects a worker's log records (pass `logs.push` as onRecord). */
export class LogTap {
  readonly records: LogRecord[] = [];
  readonly push = (r: LogRecord) => {
    this.records.push(r);
  };
  events(name: string): LogRecord[] {
    return this.records.filter((r) => r.event === name);
  }
  has(name: string, pred: (r: LogRecord) => boolean = () => true): boolean {
    return this.records.some((r) => r.event === name && pred(r));
  }
}

export async function createWorkerContext() {
  const connection = await network.create();
  const { ethers, networkHelpers } = connection;
  const tmp = await mkdtemp(join(tmpdir(), "poc-worker-test-"));
  const modelsDir = join(tmp, "models");
  await buildModel(join(modelsDir, "tiny"), { preset: "tiny" });
  const model: LoadedModel = await loadModel(join(modelsDir, "tiny"), { threads: 1 });
  const store = new ReceiptStore(join(tmp, "store"));
  const server: ReceiptServer = await serveReceipts(store);

  const signers = await ethers.getSigners();
  const [owner, user, generator, v1, v2, v3, v4, stranger, v5, other, treasury] = signers;
  if (!owner || !user || !generator || !v1 || !v2 || !v3 || !v4 || !stranger || !v5 || !other || !treasury) throw new Error("need 11 accounts");
  const deployed = await deployTestPool(ethers, owner.address, WORKER_TEST_PARAMS, { treasury: treasury.address });
  const { token, rnd, poolAddress, deployBlock } = deployed;
  const client = await PoolClient.create({ runner: ethers.provider, pool: poolAddress, deployBlock, pollMs: 20 });
  const as = (s: Signer) => client.connect(s);
  for (const s of [user, generator, v1, v2, v3, v4, v5, other, stranger]) await as(owner).mintTestTokens(s.address, 1_000_000n * E18);
  // v1..v5 replay the tiny model; `other` declared another model only
  await bondVerifiers(client, [v1, v2, v3, v4, v5], [model.modelId]);
  const otherModelId = "0x" + "0e".repeat(32);
  await bondVerifiers(client, [other], [otherModelId]);

  /**
   * Make the draw of stage `stage` of job `jobId` pick `verifier`: hold the mock's word back
   * (Pending) while `queue` (the transaction that queues the stage) runs, so that nobody — a worker
   * advancing the queue included — can draw it first; make sure an epoch covers the entry (finishing
   * an older epoch first); find a word that picks `verifier` in the frozen tree and give it to the
   * epoch's request; release the mock. The draw itself is left to whoever calls drawVerifiers next.
   */
  async function queueForDraw(jobId: bigint, stage: number, verifier: { address: string }, queue: () => Promise<unknown>): Promise<void> {
    await rnd.setMode(1); // Pending
    try {
      await queue();
      const queued = (await client.jobEvents(jobId)).filter((e): e is Extract<PoolEvent, { name: "DrawQueued" }> => e.name === "DrawQueued" && e.stage === stage);
      const index = queued[queued.length - 1]?.queueIndex;
      if (index === undefined) throw new Error(`job ${jobId} stage ${stage} was not queued`);
      for (let i = 0; ; i++) {
        if (i > 4) throw new Error(`no draw epoch covers queue entry ${index}`);
        const e = await client.drawEpoch();
        if (e.frozen && index >= e.head && index < e.epochEnd) {
          await rnd.fulfil(e.requestId, await client.drawWordFor(await client.modelOf(jobId), jobId, stage, verifier.address));
          return;
        }
        if (e.frozen) {
          // an older epoch (e.g. a stage queued again by a decline): let it finish first
          await rnd.setMode(0);
          await as(stranger!).tryDrawVerifiers(1000);
          await rnd.setMode(1);
        } else await as(stranger!).tryDrawVerifiers(); // starts an epoch for the entry
      }
    } finally {
      await rnd.setMode(0); // Value
    }
  }

  /** queueForDraw, then draw (as `stranger`, unless a worker was quicker); returns the stage's new VerifierAssigned event. */
  async function queueAndDraw(jobId: bigint, stage: number, verifier: { address: string }, queue: () => Promise<unknown>) {
    await queueForDraw(jobId, stage, verifier, queue);
    await as(stranger!).tryDrawVerifiers();
    return lastAssignment(jobId, stage, verifier);
  }

  async function lastAssignment(jobId: bigint, stage: number, verifier: { address: string }) {
    const assigned = (await client.jobEvents(jobId)).filter((e): e is Extract<PoolEvent, { name: "VerifierAssigned" }> => e.name === "VerifierAssigned" && e.stage === stage);
    const last = assigned[assigned.length - 1];
    if (!last || last.verifier !== verifier.address) throw new Error(`the expected verifier was not drawn (got ${last?.verifier ?? "nobody"})`);
    return last;
  }

  /**
   * Open an honest job, generate its receipt with the tiny model (the job's sampler seed), store it,
   * commit with `receiptUri` (default: the HTTP store), and challenge with `verifier` drawn.
   */
  async function challengedJob(o: { verifier: { address: string }; receiptUri?: (root: string, jobId: bigint) => string; seed?: number; draw?: boolean; request?: JobRequest }) {
    const req = o.request ?? tinyRequest(model.modelId, o.seed ?? 1);
    const opened = await as(user!).openJob({
      generator: generator!.address,
      modelId: model.modelId,
      cg: CG,
      cv: CV,
      requestHash: requestHash(req),
      requestUri: requestToDataUri(req),
      approve: true,
    });
    const jobId = opened.jobId;
    const g = await generate(model, {
      promptTokens: req.promptTokens,
      decoding: req.decoding,
      sampler: { ...req.sampler, seed: samplerSeedFor({ chainId: client.chainId, pool: poolAddress, jobId }) },
    });
    const root = await store.put(g.bytes);
    answerable.set(jobId, g.receipt);
    const uri = o.receiptUri ? o.receiptUri(root, jobId) : `${server.url}/receipts/${root}`;
    await as(generator!).commit(jobId, { receiptRoot: root, numChecks: numChecks(g.receipt), receiptUri: uri, approve: true });
    let deadline = 0;
    if (o.draw === false) await queueForDraw(jobId, 1, o.verifier, () => as(user!).challenge(jobId));
    else deadline = (await queueAndDraw(jobId, 1, o.verifier, () => as(user!).challenge(jobId))).deadline;
    return { jobId, root, bytes: g.bytes, receipt: g.receipt, numChecks: numChecks(g.receipt), deadline, request: req };
  }

  /**
   * The generator's side of the commit–reveal step for the jobs challengedJob made (the tests commit
   * those receipts by hand, so no generator worker knows them): every 50 ms, a job in Answering whose
   * generator has not answered gets the fingerprint of a replay of its receipt — what the generator
   * worker does (offchain/worker/generator.ts). `silent` jobs are never answered.
   */
  const answerable = new Map<bigint, Receipt>();
  const silent = new Set<bigint>();
  let answering = true;
  const answerLoop = (async () => {
    const g = as(generator!);
    while (answering) {
      for (const [jobId, receipt] of answerable) {
        if (silent.has(jobId)) continue;
        try {
          const job = await client.getJob(jobId);
          if (job.state !== JobState.Answering) continue;
          const round = await client.stageRound(jobId, job.stage);
          if (round.answered & 1) continue;
          const [fp] = await replayFingerprints(model, receipt, [round.fingerprintSeed]);
          await g.answerFingerprint(jobId, fp!);
        } catch {
          // the next round tries again (a test may have moved time or settled the job)
        }
      }
      await new Promise((ok) => setTimeout(ok, 50));
    }
  })();

  /** ResultSubmitted events of a job. */
  async function results(jobId: bigint): Promise<Extract<PoolEvent, { name: "ResultSubmitted" }>[]> {
    return (await client.jobEvents(jobId)).filter((e): e is Extract<PoolEvent, { name: "ResultSubmitted" }> => e.name === "ResultSubmitted");
  }

  async function cleanup() {
    answering = false;
    await answerLoop;
    await server.close().catch(() => {});
    await model.release().catch(() => {});
    await rm(tmp, { recursive: true, force: true });
  }

  return {
    connection,
    ethers,
    networkHelpers,
    tmp,
    modelsDir,
    model,
    store,
    server,
    signers,
    owner,
    user,
    generator,
    v1,
    v2,
    v3,
    v4,
    v5,
    other,
    otherModelId,
    treasury,
    stranger,
    token,
    rnd,
    poolAddress,
    deployBlock,
    client,
    as,
    queueForDraw,
    queueAndDraw,
    lastAssignment,
    challengedJob,
    results,
    /** Jobs whose generator never answers a fingerprint seed. */
    silent,
    cleanup,
  };
}

export type WorkerContext = Awaited<ReturnType<typeof createWorkerContext>>;
