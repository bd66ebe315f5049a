/**
 * The verifier worker on Hardhat's in-process network with the tiny model: an honest replay, a crash
 * right after the result was sent, a crash mid-replay, a corrupted receipt, a pick that draws its own
 * stage in its commitResult, a worker that leaves draws to their picks for a grace and then advances the
 * draw queue itself, a verifier that declared another model (never drawn), a worker without the model
 * (declines early), re-bonding from credit, and a verifier that never answers (the pool's no-show path).
 */
import { expect } from "chai";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdir } from "node:fs/promises";
import { allMatchedBitmap } from "../../offchain/receipt/index.js";
import { ContractRevertError, JobState, StageStatus, jobHistory } from "../../offchain/chain/index.js";
import { requestHash, requestToDataUri } from "../../offchain/request/index.js";
import { createLogger } from "../../offchain/worker/log.js";
import { startVerifierWorker, type VerifierWorkerOptions } from "../../offchain/worker/verifier.js";
import { CG, CV, LogTap, WORKER_TEST_PARAMS, createWorkerContext, tinyRequest, waitFor, type WorkerContext } from "./helpers.js";

describe("verifier worker", function () {
  this.timeout(60_000);
  let ctx: WorkerContext;

  before(async () => {
    ctx = await createWorkerContext();
  });
  after(async () => {
    await ctx?.cleanup();
  });

  let n = 0;
  const running: { stop(): Promise<void> }[] = [];
  afterEach(async () => {
    await Promise.all(running.splice(0).map((w) => w.stop()));
  });
  /** A worker for `signer` with its own state dir (reuse `stateDir` to simulate a restart). */
  async function worker(signer: { address: string }, extra: Partial<VerifierWorkerOptions> & { tap?: LogTap } = {}) {
    const s = ctx.signers.find((x) => x.address === signer.address)!;
    const tap = extra.tap ?? new LogTap();
    const w = await startVerifierWorker({
      client: ctx.client,
      signer: s,
      modelsDir: ctx.modelsDir,
      stateDir: extra.stateDir ?? join(ctx.tmp, `state-${n++}`),
      pollMs: 50,
      // short: a stage drawn for the corrupted-receipt job (whose server is gone after its test) must not hold idle() for minutes
      fetchBudgetMs: 5_000,
      logger: createLogger({ format: process.env.POC_TEST_LOG ? "plain" : "silent", minLevel: "debug", name: signer.address.slice(0, 8), onRecord: tap.push }),
      ...extra,
    });
    running.push(w);
    return { w, tap };
  }

  it("replays an honest job and submits the all-matched bitmap before the deadline; jobHistory shows it", async () => {
    const job = await ctx.challengedJob({ verifier: ctx.v1 });
    const { w, tap } = await worker(ctx.v1);
    await w.idle();
    await w.stop();
    const res = await ctx.results(job.jobId);
    expect(res).to.have.length(1);
    expect(res[0]!.verifier).to.equal(ctx.v1.address);
    expect(res[0]!.matchBitmap).to.equal("0x" + Buffer.from(allMatchedBitmap(job.numChecks)).toString("hex"));
    const blk = await ctx.ethers.provider.getBlock(res[0]!.blockNumber);
    expect(blk!.timestamp).to.be.at.most(job.deadline);
    expect(tap.has("job-submitted")).to.equal(true);

    const h = await jobHistory(ctx.client, job.jobId);
    expect(h.state).to.equal(JobState.GeneratorUpheld);
    expect(h.opened?.requestUri).to.match(/^data:application\/json;base64,/);
    expect(h.committed?.receiptRoot).to.equal(job.root);
    expect(h.stages).to.have.length(1);
    expect(h.stages[0]!.assignments[0]!.outcome).to.equal("submitted");
    expect(h.stages[0]!.assignments[0]!.agreesWithGenerator).to.equal(true);
    expect(h.settlement?.kind).to.equal("settled");
    // Table 1 row 2 (k = 1): generator alphaCg + betaCg, verifier alphaCv + betaCv, user nothing back
    const o = h.opened!;
    expect(h.settlement?.payouts.generator).to.equal(o.alphaCg + o.betaCg);
    expect(h.settlement?.payouts.verifiers).to.deep.equal([{ verifier: ctx.v1.address, payout: o.alphaCv + o.betaCv }]);
    expect(h.settlement?.payouts.user).to.equal(0n);
    expect(h.settlement?.payouts.total).to.equal(o.alphaCg + o.alphaCv + o.betaCg + o.betaCv);
  });

  it("killed right after sending the result, before recording it: the restart submits nothing more (exactly one submission)", async () => {
    const job = await ctx.challengedJob({ verifier: ctx.v2 });
    const stateDir = join(ctx.tmp, "crash-after-send");
    const tap = new LogTap();
    const crash = new AbortController();
    const first = await worker(ctx.v2, {
      stateDir,
      crashSignal: crash.signal,
      logger: createLogger({
        format: "silent",
        onRecord: (r) => {
          tap.push(r);
          // the reveal's nonce is on disk, the transaction goes out next: crash now, so its hash is never recorded
          if (r.event === "tx-sending" && r.msg.includes("revealResult")) crash.abort();
        },
      }),
    });
    await first.w.done;
    expect(tap.has("killed")).to.equal(true);
    const res1 = await ctx.results(job.jobId);
    expect(res1, "the transaction sent before the crash was mined").to.have.length(1);
    const saved = JSON.parse(await readFile(first.w.statePath, "utf8"));
    const rec = saved.jobs[`${job.jobId}:1`];
    expect(rec.status).to.not.equal("done");
    expect(rec.txs.map((t: { action: string }) => t.action.split("(")[0])).to.deep.equal(["commitResult", "revealResult"]);
    expect(rec.txs[1].hash, "the hash was never recorded").to.equal(undefined);

    const again = await worker(ctx.v2, { stateDir });
    await again.w.idle();
    await again.w.stop();
    expect(await ctx.results(job.jobId)).to.have.length(1);
    expect(again.tap.has("job-already-submitted", (r) => r.jobId === job.jobId.toString())).to.equal(true);
    expect(again.tap.has("tx-sending", (r) => r.jobId === job.jobId.toString())).to.equal(false);
    const blk = await ctx.ethers.provider.getBlock(res1[0]!.blockNumber);
    expect(blk!.timestamp).to.be.at.most(job.deadline);
  });

  it("killed mid-replay: the restart replays again and submits exactly once, before the deadline", async () => {
    const job = await ctx.challengedJob({ verifier: ctx.v3 });
    const stateDir = join(ctx.tmp, "crash-mid-replay");
    const crash = new AbortController();
    const tap = new LogTap();
    const first = await worker(ctx.v3, {
      stateDir,
      crashSignal: crash.signal,
      verifyOptions: { chunkSize: 4 }, // several forward passes: the abort lands between two of them
      logger: createLogger({
        format: "silent",
        onRecord: (r) => {
          tap.push(r);
          if (r.event === "replay-start") crash.abort();
        },
      }),
    });
    await first.w.done;
    expect(tap.has("killed")).to.equal(true);
    expect(tap.has("replay-done")).to.equal(false);
    expect(await ctx.results(job.jobId)).to.have.length(0);
    const rec = JSON.parse(await readFile(first.w.statePath, "utf8")).jobs[`${job.jobId}:1`];
    expect(rec.result).to.equal(undefined);

    const again = await worker(ctx.v3, { stateDir });
    expect(again.tap.has("resume", (r) => r.jobId === job.jobId.toString())).to.equal(true);
    await again.w.idle();
    await again.w.stop();
    const res = await ctx.results(job.jobId);
    expect(res).to.have.length(1);
    expect(res[0]!.verifier).to.equal(ctx.v3.address);
    const blk = await ctx.ethers.provider.getBlock(res[0]!.blockNumber);
    expect(blk!.timestamp).to.be.at.most(job.deadline);
  });

  it("a corrupted receipt (root mismatch) is the generator's fault: the all-zero bitmap is submitted and the reason logged", async () => {
    // serves the right receipt with one byte flipped
    const server = createServer((req, res) => {
      void (async () => {
        const root = (req.url ?? "").split("/").pop()!;
        const bytes = Buffer.from(await ctx.store.get(root));
        bytes[bytes.length - 5]! ^= 0x55;
        res.setHeader("content-type", "application/octet-stream");
        res.end(bytes);
      })();
    });
    await new Promise<void>((ok) => server.listen(0, "127.0.0.1", () => ok()));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const job = await ctx.challengedJob({ verifier: ctx.v4, receiptUri: (root) => `${base}/receipts/${root}` });
      const { w, tap } = await worker(ctx.v4);
      await w.idle();
      await w.stop();
      const res = await ctx.results(job.jobId);
      expect(res).to.have.length(1);
      expect(res[0]!.matchBitmap).to.equal("0x" + "00".repeat(Math.ceil(job.numChecks / 8)));
      const fault = tap.events("generator-fault").find((r) => r.jobId === job.jobId.toString());
      expect(fault, "generator-fault logged").to.not.equal(undefined);
      expect(String(fault!.reason)).to.match(/does not match its committed root/);
      expect(tap.events("receipt-retry").length, "asked again before blaming the generator").to.be.at.least(1);
    } finally {
      await new Promise<void>((ok) => {
        server.close(() => ok());
        server.closeAllConnections();
      });
    }
  });

  it("draws its own stage: the pick replays before the draw, and its commitResult draws the stage (no drawVerifiers transaction)", async () => {
    const fromBlock = (await ctx.ethers.provider.getBlockNumber()) + 1;
    const job = await ctx.challengedJob({ verifier: ctx.v5, draw: false });
    expect((await ctx.client.getJob(job.jobId)).state).to.equal(JobState.AwaitingVerifier);
    const { w, tap } = await worker(ctx.v5, { fromBlock });
    await w.idle();
    await w.stop();
    const assigned = await ctx.lastAssignment(job.jobId, 1, ctx.v5);
    const receipt = await ctx.ethers.provider.getTransactionReceipt(assigned.transactionHash);
    const names = receipt!.logs.map((l) => ctx.client.poolInterface.parseLog(l)?.name);
    expect(names, "the draw and the commit are one transaction").to.include.members(["VerifierAssigned", "ResultCommitted"]);
    expect(receipt!.from).to.equal(ctx.v5.address);
    expect(w.stats()).to.include({ draws: 0, selfDraws: 1 });
    expect(tap.has("picked")).to.equal(true);
    // the receipt server let the pick in before it was drawn (a signed request checked with drawPick)
    expect(tap.has("receipt")).to.equal(true);
    const res = await ctx.results(job.jobId);
    expect(res.map((r) => r.verifier)).to.deep.equal([ctx.v5.address]);
    expect((await ctx.client.getJob(job.jobId)).state).to.equal(JobState.GeneratorUpheld);
  });

  it("drawReady is false, not an error, when the epoch was drawn to its end between its two reads (a race with a pick's own draw)", async () => {
    const c = ctx.client.connect(ctx.stranger);
    expect((await c.drawEpoch()).frozen).to.equal(false);
    // what the client saw a moment before: a running epoch (the chain has none by now, and an empty queue)
    const real = c.drawEpoch.bind(c);
    c.drawEpoch = async () => ({ ...(await real()), frozen: true });
    expect(await c.drawReady()).to.equal(false);
  });

  it("leaves a pending draw to its pick for the grace, then advances the draw queue itself (drawVerifiers) for a pick that does not draw", async () => {
    const fromBlock = (await ctx.ethers.provider.getBlockNumber()) + 1;
    const job = await ctx.challengedJob({ verifier: ctx.v5, draw: false });
    // another verifier's worker: within the grace it does not draw v5's stage
    const other = await worker(ctx.v4, { fromBlock });
    await other.w.idle();
    await other.w.idle();
    expect((await ctx.client.getJob(job.jobId)).state).to.equal(JobState.AwaitingVerifier);
    expect(other.w.stats().draws).to.equal(0);
    expect(other.tap.has("draw-grace")).to.equal(true);
    await other.w.stop();
    // a pick whose worker does not self-draw (selfDraw: false), with no grace: it draws the queue the old way
    const { w, tap } = await worker(ctx.v5, { fromBlock, selfDraw: false, drawGraceS: 0 });
    await w.idle();
    await w.stop();
    const assigned = await ctx.lastAssignment(job.jobId, 1, ctx.v5);
    const tx = await ctx.ethers.provider.getTransaction(assigned.transactionHash);
    expect(tx!.from, "the worker sent the drawVerifiers transaction").to.equal(ctx.v5.address);
    expect(w.stats().draws).to.be.at.least(1);
    expect(tap.has("drew")).to.equal(true);
    const res = await ctx.results(job.jobId);
    expect(res.map((r) => r.verifier)).to.deep.equal([ctx.v5.address]);
    expect((await ctx.client.getJob(job.jobId)).state).to.equal(JobState.GeneratorUpheld);
  });

  it("a verifier that declared another model is never drawn, and no job can be opened for a model too few verifiers serve", async () => {
    const tiny = ctx.model.modelId;
    expect(await ctx.client.serves(ctx.other.address, tiny)).to.equal(false);
    expect(await ctx.client.weightOf(tiny, ctx.other.address)).to.equal(0n);
    expect(await ctx.client.modelStake(ctx.otherModelId)).to.deep.equal({ total: (await ctx.client.bondOf(ctx.other.address)).bond, verifiers: 1 });
    // jobs for the tiny model, drawn with many different words: `other` is never picked
    const drawn = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const req = tinyRequest(tiny, 100 + i);
      const { jobId } = await ctx.as(ctx.user).openJob({ generator: ctx.generator.address, modelId: tiny, cg: CG, cv: CV, requestHash: requestHash(req), requestUri: requestToDataUri(req), approve: true });
      await ctx.as(ctx.generator).commit(jobId, { receiptRoot: "0x" + (i + 1).toString(16).padStart(64, "0"), numChecks: 8, receiptUri: "none", approve: true });
      await ctx.rnd.set(BigInt(i) * 7919n + 13n);
      await ctx.as(ctx.user).challenge(jobId);
      const r = await ctx.as(ctx.stranger).tryDrawVerifiers();
      expect(r.kind).to.equal("sent");
      const a = (await ctx.client.jobEvents(jobId)).find((e) => e.name === "VerifierAssigned");
      expect(a && a.name === "VerifierAssigned", `job ${jobId} drew a verifier`).to.equal(true);
      if (a && a.name === "VerifierAssigned") drawn.add(a.verifier);
    }
    await ctx.rnd.set(0n);
    expect([...drawn]).to.not.include(ctx.other.address);
    for (let r = 0n; r < 40n; r++) expect(await ctx.client.drawAt(tiny, r * 0x9e3779b97f4a7c15n)).to.not.equal(ctx.other.address);
    // the other model has one verifier: opening a job for it is refused, with the reason decoded
    const req = tinyRequest(ctx.otherModelId);
    let err: unknown;
    try {
      await ctx.as(ctx.user).openJob({ generator: ctx.generator.address, modelId: ctx.otherModelId, cg: CG, cv: CV, requestHash: requestHash(req), requestUri: requestToDataUri(req), approve: true });
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(ContractRevertError);
    expect((err as ContractRevertError).errorName).to.equal("StakePoolModelUnderserved");
    expect((err as ContractRevertError).reason).to.match(/verifiers 1, minStake \d+, minVerifiers 5\)$/);
  });

  it("without the model, it declines the assignment early: the fee goes to the treasury, the rest of the stake is credited back, the stage is drawn again", async () => {
    const fromBlock = (await ctx.ethers.provider.getBlockNumber()) + 1;
    const job = await ctx.challengedJob({ verifier: ctx.v3 });
    const emptyModels = join(ctx.tmp, "no-models-decline");
    await mkdir(emptyModels, { recursive: true });
    const treasury0 = await ctx.client.creditOf(ctx.treasury.address);
    const credit0 = await ctx.client.creditOf(ctx.v3.address);
    const { w, tap } = await worker(ctx.v3, { modelsDir: emptyModels, fromBlock, advanceDraws: false });
    await w.idle();
    await w.stop();
    expect(tap.has("no-models"), "an empty models directory is reported, nothing declared").to.equal(true);
    expect((await ctx.client.bondOf(ctx.v3.address)).models).to.deep.equal([ctx.model.modelId.toLowerCase()]);
    expect(tap.has("job-declined", (r) => r.jobId === job.jobId.toString())).to.equal(true);
    expect((await ctx.client.getStage(job.jobId, 1)).status).to.equal(StageStatus.Declined);
    const betaCv = (await ctx.client.getJob(job.jobId)).betaCv;
    const fee = (betaCv * BigInt(WORKER_TEST_PARAMS.declineFeeBps)) / 10_000n;
    expect(await ctx.client.creditOf(ctx.treasury.address)).to.equal(treasury0 + fee);
    expect(await ctx.client.creditOf(ctx.v3.address)).to.equal(credit0 + betaCv - fee);
    expect((await ctx.client.getJob(job.jobId)).state).to.equal(JobState.AwaitingVerifier);
    // settle the re-queued stage with an honest verifier so that later tests start with an empty queue
    await ctx.queueAndDraw(job.jobId, 1, ctx.v4, async () => {});
    const h = await jobHistory(ctx.client, job.jobId);
    expect(h.stages[0]!.assignments.map((a) => [a.verifier, a.outcome])).to.deep.equal([
      [ctx.v3.address, "declined"],
      [ctx.v4.address, "pending"],
    ]);
    const v4 = await worker(ctx.v4, { fromBlock });
    await v4.w.idle();
    await v4.w.stop();
    expect((await ctx.client.getJob(job.jobId)).state).to.equal(JobState.GeneratorUpheld);
  });

  it("a pick without the model does not draw itself (nothing is locked); drawn anyway by someone, it declines the assignment", async () => {
    const fromBlock = (await ctx.ethers.provider.getBlockNumber()) + 1;
    const job = await ctx.challengedJob({ verifier: ctx.v3, draw: false });
    const emptyModels = join(ctx.tmp, "no-models-pick");
    await mkdir(emptyModels, { recursive: true });
    const { w, tap } = await worker(ctx.v3, { modelsDir: emptyModels, fromBlock, advanceDraws: false });
    await w.idle();
    expect(tap.has("picked", (r) => r.jobId === job.jobId.toString())).to.equal(true);
    expect(tap.has("job-declined", (r) => r.jobId === job.jobId.toString() && /not drawing/.test(r.msg))).to.equal(true);
    expect((await ctx.client.getJob(job.jobId)).state, "nothing drawn, nothing locked").to.equal(JobState.AwaitingVerifier);
    // someone draws the stage after all: v3 is assigned, and its worker declines on-chain
    await ctx.as(ctx.stranger).tryDrawVerifiers();
    expect((await ctx.client.currentStage(job.jobId)).verifier).to.equal(ctx.v3.address);
    await w.idle();
    await w.stop();
    expect((await ctx.client.getStage(job.jobId, 1)).status).to.equal(StageStatus.Declined);
    expect(tap.has("job-declined", (r) => r.jobId === job.jobId.toString() && /declined the assignment \(tx/.test(r.msg))).to.equal(true);
    // settle the re-queued stage with an honest verifier so that later tests start with an empty queue
    await ctx.queueAndDraw(job.jobId, 1, ctx.v4, async () => {});
    const v4 = await worker(ctx.v4, { fromBlock });
    await v4.w.idle();
    await v4.w.stop();
    expect((await ctx.client.getJob(job.jobId)).state).to.equal(JobState.GeneratorUpheld);
  });

  it("re-bonds its payouts when a job's stake takes its bond below the minimum: bondFromCredit, no wallet transfer", async () => {
    const { params } = await ctx.client.params();
    const b = await ctx.client.bondOf(ctx.v2.address);
    if (b.bond > params.minBond) await ctx.as(ctx.v2).requestUnbond(b.bond - params.minBond); // exactly the minimum left
    const fromBlock = (await ctx.ethers.provider.getBlockNumber()) + 1;
    const job = await ctx.challengedJob({ verifier: ctx.v2, seed: 9 });
    const locked = (await ctx.client.bondOf(ctx.v2.address)).bond;
    expect(locked < params.minBond, "the job's βCv took the bond below the minimum").to.equal(true);
    const wallet0 = await ctx.client.tokenBalance(ctx.v2.address);
    const { w, tap } = await worker(ctx.v2, { fromBlock });
    await w.idle();
    await w.stop();
    expect((await ctx.results(job.jobId)).map((r) => r.verifier)).to.deep.equal([ctx.v2.address]);
    expect(tap.has("rebonded")).to.equal(true);
    const after = await ctx.client.bondOf(ctx.v2.address);
    expect(after.bond + after.pendingBond).to.equal(params.minBond);
    expect(await ctx.client.tokenBalance(ctx.v2.address), "no tokens left the wallet").to.equal(wallet0);
    expect(await ctx.client.weightOf(ctx.model.modelId, ctx.v2.address)).to.equal(params.minBond);
  });

  it("no response by the deadline: anyone calls timeoutVerifier, the treasury gets the stake, another verifier is drawn and answers", async () => {
    // (earlier tests left assignments behind, e.g. a second stage of the corrupted job: start after them)
    const fromBlock = (await ctx.ethers.provider.getBlockNumber()) + 1;
    const job = await ctx.challengedJob({ verifier: ctx.v1 });
    // v1 runs without the model and does not decline: it logs loudly and submits nothing
    const emptyModels = join(ctx.tmp, "no-models");
    await mkdir(emptyModels, { recursive: true });
    const silent = await worker(ctx.v1, { modelsDir: emptyModels, modelRetryMs: 200, fromBlock, declineUnservable: false });
    await silent.w.idle();
    expect(silent.tap.has("model-missing", (r) => r.jobId === job.jobId.toString())).to.equal(true);
    expect(await ctx.results(job.jobId)).to.have.length(0);

    const userCredit0 = await ctx.client.creditOf(ctx.user.address);
    const treasury0 = await ctx.client.creditOf(ctx.treasury.address);
    const jv = await ctx.client.getJob(job.jobId);
    await ctx.networkHelpers.time.increaseTo(job.deadline + 1);
    let timedOutBy: string | undefined;
    // the redraw for the same stage picks v2 (v1's own worker may be the one that draws it)
    const reassigned = await ctx.queueAndDraw(job.jobId, 1, ctx.v2, async () => {
      const t = await ctx.as(ctx.stranger).timeoutVerifier(job.jobId);
      const ev = t.events.find((e) => e.name === "VerifierTimedOut");
      timedOutBy = ev && ev.name === "VerifierTimedOut" ? ev.verifier : undefined;
      expect(t.events.some((e) => e.name === "DrawQueued")).to.equal(true);
    });
    expect(timedOutBy).to.equal(ctx.v1.address);
    expect(reassigned.stage).to.equal(1);
    expect(await ctx.client.creditOf(ctx.user.address), "the user gets nothing of the forfeit").to.equal(userCredit0);
    expect(await ctx.client.creditOf(ctx.treasury.address)).to.equal(treasury0 + jv.betaCv);

    // v1's worker sees that its assignment was answered by a timeout (no-show) and drops it
    await waitFor("v1 to drop the job", () => silent.tap.has("job-no-show", (r) => r.jobId === job.jobId.toString()) || silent.tap.has("job-superseded", (r) => r.jobId === job.jobId.toString()), 5_000);
    await silent.w.stop();

    const v2w = await worker(ctx.v2, { fromBlock });
    await v2w.w.idle();
    await v2w.w.stop();
    const res = await ctx.results(job.jobId);
    expect(res).to.have.length(1);
    expect(res[0]!.verifier).to.equal(ctx.v2.address);
    const h = await jobHistory(ctx.client, job.jobId);
    expect(h.state).to.equal(JobState.GeneratorUpheld);
    expect(h.stages[0]!.assignments.map((a) => [a.verifier, a.outcome])).to.deep.equal([
      [ctx.v1.address, "timedOut"],
      [ctx.v2.address, "submitted"],
    ]);
    expect(h.stages[0]!.status).to.equal(StageStatus.Submitted);
    expect(h.stages[0]!.queued?.length).to.equal(2);
  });
});
