/**
 * The verifier worker on Hardhat's in-process network with the tiny model: an honest replay, a crash
 * right after the result was sent, a crash mid-replay, a corrupted receipt, and a verifier that never
 * answers (the pool's no-show path).
 */
import { expect } from "chai";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { allMatchedBitmap } from "../../offchain/receipt/index.js";
import { JobState, StageStatus, jobHistory } from "../../offchain/chain/index.js";
import { createLogger } from "../../offchain/worker/log.js";
import { startVerifierWorker, type VerifierWorkerOptions } from "../../offchain/worker/verifier.js";
import { LogTap, createWorkerContext, waitFor, type WorkerContext } from "./helpers.js";

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
          // the nonce is on disk, the transaction goes out next: crash now, so its hash is never recorded
          if (r.event === "tx-sending") crash.abort();
        },
      }),
    });
    await first.w.done;
    expect(tap.has("killed")).to.equal(true);
    const res1 = await ctx.results(job.jobId);
    expect(res1, "the transaction sent before the crash was mined").to.have.length(1);
    const saved = JSON.parse(await readFile(first.w.statePath, "utf8"));
    const rec = saved.jobs[`${job.jobId}:1`];
    expect(rec.status).to.equal("queued");
    expect(rec.txs).to.have.length(1);
    expect(rec.txs[0].hash, "the hash was never recorded").to.equal(undefined);

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

  it("no response by the deadline: anyone calls timeoutVerifier, the user gets the stake, another verifier is drawn and answers", async () => {
    // (earlier tests left assignments behind, e.g. a second stage of the corrupted job: start after them)
    const fromBlock = (await ctx.ethers.provider.getBlockNumber()) + 1;
    const job = await ctx.challengedJob({ verifier: ctx.v1 });
    // v1 runs without the model: it logs loudly and submits nothing
    const { mkdir } = await import("node:fs/promises");
    const emptyModels = join(ctx.tmp, "no-models");
    await mkdir(emptyModels, { recursive: true });
    const silent = await worker(ctx.v1, { modelsDir: emptyModels, modelRetryMs: 200, fromBlock });
    await silent.w.idle();
    expect(silent.tap.has("model-missing", (r) => r.jobId === job.jobId.toString())).to.equal(true);
    expect(await ctx.results(job.jobId)).to.have.length(0);

    const userCredit0 = await ctx.client.creditOf(ctx.user.address);
    const jv = await ctx.client.getJob(job.jobId);
    await ctx.networkHelpers.time.increaseTo(job.deadline + 1);
    await ctx.pick(ctx.v2); // the redraw for the same stage starts at v2
    const t = await ctx.as(ctx.stranger).timeoutVerifier(job.jobId);
    const timedOut = t.events.find((e) => e.name === "VerifierTimedOut");
    const reassigned = t.events.find((e) => e.name === "VerifierAssigned");
    expect(timedOut && timedOut.name === "VerifierTimedOut" && timedOut.verifier).to.equal(ctx.v1.address);
    expect(reassigned && reassigned.name === "VerifierAssigned" && reassigned.stage).to.equal(1);
    expect(reassigned && reassigned.name === "VerifierAssigned" && reassigned.verifier).to.equal(ctx.v2.address);
    expect(await ctx.client.creditOf(ctx.user.address)).to.equal(userCredit0 + jv.betaCv);

    // v1's worker sees that its assignment was answered by a timeout (no-show) and drops it
    await waitFor("v1 to drop the job", () => silent.tap.has("job-superseded", (r) => r.jobId === job.jobId.toString()), 5_000);
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
  });
});
