/**
 * Operating the workers (issue 12): one worker per state (a lock holding the pid; a stale lock is
 * taken over), a state of another chain moved aside instead of reused, and the keeper moving a job
 * along whatever deadline has passed. In-process network with the tiny model.
 */
import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { readFile, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { JobState } from "../../offchain/chain/index.js";
import { Keeper, advanceJob, planJob } from "../../offchain/keeper/advance.js";
import { compareIdentity, type ChainIdentity } from "../../offchain/worker/chain-identity.js";
import { WorkerLockedError, acquireStateLock, lockFileName } from "../../offchain/worker/lock.js";
import { createLogger } from "../../offchain/worker/log.js";
import { startVerifierWorker } from "../../offchain/worker/verifier.js";
import { requestHash, requestToDataUri } from "../../offchain/request/index.js";
import { E18, CG, CV, LogTap, WORKER_TEST_PARAMS, createWorkerContext, tinyRequest, type WorkerContext } from "./helpers.js";

describe("operating the workers", function () {
  this.timeout(60_000);
  let ctx: WorkerContext;
  before(async () => {
    ctx = await createWorkerContext();
  });
  after(async () => {
    await ctx?.cleanup();
  });

  const start = (stateDir: string, tap = new LogTap()) =>
    startVerifierWorker({ client: ctx.client, signer: ctx.v1 as never, modelsDir: ctx.modelsDir, stateDir, pollMs: 50, autoBond: false, logger: createLogger({ format: "silent", onRecord: tap.push }) });

  it("a second worker on the same state directory is refused, and stopping the first releases the lock", async () => {
    const dir = join(ctx.tmp, "lock-twice");
    const w1 = await start(dir);
    let err: unknown;
    await start(dir).catch((e: unknown) => (err = e));
    expect(err).to.be.instanceOf(WorkerLockedError);
    expect((err as Error).message).to.match(new RegExp(`pid ${process.pid}`));
    expect((err as Error).message.split("\n")).to.have.length(1);
    await w1.stop();
    expect(await readdir(dir)).to.not.include(lockFileName("verifier", ctx.v1.address));
    const w2 = await start(dir);
    await w2.stop();
  });

  it("a lock held by another live process is refused with its pid; a lock of a dead pid is taken over", async () => {
    const dir = join(ctx.tmp, "lock-other");
    // A live process: our parent (the test runner's launcher) is alive while we run.
    const live = process.ppid;
    await start(dir).then((w) => w.stop()); // creates the directory
    const lockPath = join(dir, lockFileName("verifier", ctx.v1.address));
    await writeFile(lockPath, JSON.stringify({ pid: live }));
    let err: unknown;
    await start(dir).catch((e: unknown) => (err = e));
    expect(err).to.be.instanceOf(WorkerLockedError);
    expect((err as Error).message).to.include(`pid ${live}`);
    // A process that has exited: its pid is free.
    const dead = spawnSync(process.execPath, ["-e", "0"]).pid!;
    await writeFile(lockPath, JSON.stringify({ pid: dead }));
    const tap = new LogTap();
    const w = await start(dir, tap);
    expect(tap.has("lock-taken-over", (r) => r.pid === dead)).to.equal(true);
    expect(JSON.parse(await readFile(lockPath, "utf8")).pid).to.equal(process.pid);
    await w.stop();
  });

  it("acquireStateLock keeps workers of different accounts in one directory apart", async () => {
    const dir = join(ctx.tmp, "lock-accounts");
    const a = await acquireStateLock(dir, "verifier", ctx.v1.address);
    const b = await acquireStateLock(dir, "verifier", ctx.v2.address);
    await a.release();
    await b.release();
  });

  it("a state of a restarted node is moved aside (kept) and the worker starts a fresh state", async () => {
    const dir = join(ctx.tmp, "restarted");
    const w1 = await start(dir);
    const path = w1.statePath;
    await w1.stop();
    const old = JSON.parse(await readFile(path, "utf8")) as { identity: ChainIdentity; jobs: Record<string, unknown>; lastBlock: number };
    expect(old.identity.pool).to.equal(ctx.poolAddress.toLowerCase());
    // What a restarted node looks like from the state: another genesis block, and an assignment of the old chain.
    old.identity.genesisHash = "0x" + "11".repeat(32);
    old.jobs["99:1"] = { jobId: "99", stage: 1, deadline: 1, stake: "1", assignedBlock: 1, assignedTx: "0x00", status: "done", outcome: "submitted", txs: [], attempts: 1, updatedAt: "x" };
    await writeFile(path, JSON.stringify(old));
    const tap = new LogTap();
    const w2 = await start(dir, tap);
    await w2.idle();
    await w2.stop();
    const reset = tap.events("state-reset")[0];
    expect(reset?.change).to.equal("node-restarted");
    expect(reset?.msg).to.match(/node was restarted/);
    const moved = reset!.movedTo as string;
    expect(Object.keys(JSON.parse(await readFile(moved, "utf8")).jobs)).to.include("99:1");
    const fresh = JSON.parse(await readFile(path, "utf8")) as { identity: ChainIdentity; jobs: Record<string, unknown> };
    expect(Object.keys(fresh.jobs)).to.not.include("99:1");
    expect(fresh.identity.genesisHash).to.not.equal("0x" + "11".repeat(32));
  });

  it("compareIdentity tells a restarted node, a redeployed pool and a pool that is gone apart", () => {
    const base: ChainIdentity = { chainId: "31337", genesisHash: "0xaa", pool: "0x01", deployBlock: 3, deployBlockHash: "0xbb", poolCodeHash: "0xcc" };
    expect(compareIdentity(base, { ...base })).to.equal(undefined);
    expect(compareIdentity(base, { ...base, genesisHash: "0xab" })?.kind).to.equal("node-restarted");
    expect(compareIdentity(base, { ...base, deployBlockHash: "0xbc" })?.kind).to.equal("pool-redeployed");
    expect(compareIdentity(base, { ...base, poolCodeHash: null })?.kind).to.equal("pool-gone");
  });

  async function openJob(commit: boolean) {
    const req = tinyRequest(ctx.model.modelId, 7);
    const opened = await ctx.as(ctx.user).openJob({ generator: ctx.generator.address, modelId: ctx.model.modelId, cg: CG, cv: CV, requestHash: requestHash(req), requestUri: requestToDataUri(req), approve: true });
    if (commit) await ctx.as(ctx.generator).commit(opened.jobId, { receiptRoot: "0x" + "ab".repeat(32), numChecks: 8, receiptUri: "http://127.0.0.1:1/x", approve: true });
    return opened.jobId;
  }

  it("job advance says when finalize becomes due, and finalizes once the challenge window has passed", async () => {
    const jobId = await openJob(true);
    const c = ctx.as(ctx.stranger);
    const before = await advanceJob(c, jobId);
    expect(before.done).to.equal(undefined);
    expect(before.plan.next?.action).to.equal("finalize");
    expect(before.plan.summary).to.match(/the user may challenge until/);
    await ctx.networkHelpers.time.increase(WORKER_TEST_PARAMS.challengeWindow + 1);
    const r = await advanceJob(c, jobId);
    expect(r.done?.action).to.equal("finalize");
    expect((await c.getJob(jobId)).state).to.equal(JobState.Finalized);
    expect((await planJob(c, jobId)).summary).to.match(/final, nothing to do/);
  });

  it("the keeper synchronises the verifiers that wait (syncPending) outside a draw epoch, once", async () => {
    // a bond during a draw epoch waits for the epoch's end and queues the verifier for synchronisation
    // (a draw's lock only marks its pick as needing a sync: its own worker syncs it)
    await ctx.challengedJob({ verifier: ctx.v3, draw: false });
    expect((await ctx.client.drawEpoch()).frozen).to.equal(true);
    await ctx.as(ctx.v2).bond(E18, { approve: true });
    await ctx.as(ctx.stranger).tryDrawVerifiers();
    expect((await ctx.client.drawEpoch()).frozen).to.equal(false);
    const waiting = await ctx.client.pendingSyncs();
    expect(waiting, "the bond queued the verifier").to.be.greaterThan(0);
    const synced: number[] = [];
    const k = new Keeper(ctx.as(ctx.stranger), { onSync: (r) => synced.push(r.pending) });
    await k.tick();
    expect(synced).to.deep.equal([waiting]);
    expect(await ctx.client.pendingSyncs()).to.equal(0);
    await k.tick();
    expect(k.syncs, "nothing waits: no second transaction").to.equal(1);
  });

  it("the keeper cancels a job whose generator never committed, after the commit deadline", async () => {
    const jobId = await openJob(false);
    const k = new Keeper(ctx.as(ctx.stranger));
    expect(await k.tick()).to.equal(0);
    expect((await ctx.client.getJob(jobId)).state).to.equal(JobState.Open);
    await ctx.networkHelpers.time.increase(WORKER_TEST_PARAMS.commitWindow + 1);
    expect(await k.tick()).to.be.greaterThan(0);
    expect((await ctx.client.getJob(jobId)).state).to.equal(JobState.Cancelled);
  });

  it("the keeper leaves a ready draw to its pick for the grace (drawGraceS), then draws it", async () => {
    const job = await ctx.challengedJob({ verifier: ctx.v4, draw: false });
    const k = new Keeper(ctx.as(ctx.stranger), { drawGraceS: 600 });
    await k.tick();
    expect((await ctx.client.getJob(job.jobId)).state, "within the grace the pick may draw itself").to.equal(JobState.AwaitingVerifier);
    await ctx.networkHelpers.time.increase(601);
    await k.tick();
    expect((await ctx.client.getJob(job.jobId)).state, "after it the keeper draws").to.equal(JobState.Verifying);
    expect((await ctx.client.currentStage(job.jobId)).verifier).to.equal(ctx.v4.address);
  });

});
