/**
 * One-transaction stages (IStakePool `submitResult`, docs/PROTOCOL.md "One-transaction stages") with
 * the real verifier worker and the generator's HTTP route (`POST /v1/jobs/{id}/answer`, served by
 * GeneratorRoutes over stage-answer.ts), on Hardhat's in-process network with the tiny model: the
 * stage settles in one transaction when the generator answers off-chain; a far or late answer makes
 * the worker commit and reveal the very commitment it sent; the generator answers one commitment per
 * stage and verifier, and only to the stage's verifier.
 */
import { expect } from "chai";
import { join } from "node:path";
import { JobState, commitmentStatement, jobHistory, resultCommitment } from "../../offchain/chain/index.js";
import { replayFingerprints } from "../../offchain/fingerprint/index.js";
import { receiptUrl, serveReceipts, type ReceiptServer, type Receipt } from "../../offchain/receipt/index.js";
import { GeneratorRoutes } from "../../offchain/transport/generator-routes.js";
import { requestStageAnswer } from "../../offchain/transport/generator-client.js";
import { RequestIntake } from "../../offchain/transport/intake.js";
import { JobEventLog } from "../../offchain/transport/job-events.js";
import { createLogger } from "../../offchain/worker/log.js";
import { answerStage, type SignedAnswerRecord } from "../../offchain/worker/stage-answer.js";
import { startVerifierWorker } from "../../offchain/worker/verifier.js";
import { LogTap, createWorkerContext, type WorkerContext } from "./helpers.js";

describe("one-transaction stages: the verifier worker and the generator's answer route", function () {
  this.timeout(120_000);
  let ctx: WorkerContext;
  let server: ReceiptServer;
  const routes = new GeneratorRoutes({ intake: new RequestIntake(), events: new JobEventLog() });
  const receipts = new Map<bigint, Receipt>();
  const answers = new Map<bigint, Record<string, SignedAnswerRecord>>();
  /** Jobs whose answers the generator falsifies (a random fingerprint, correctly signed). */
  const falsify = new Set<bigint>();
  /** Jobs whose answers come too late (after 3 s). */
  const slow = new Set<bigint>();

  before(async () => {
    ctx = await createWorkerContext();
    const deps = {
      client: ctx.as(ctx.generator),
      answersOf: (jobId: bigint) => {
        if (!receipts.has(jobId)) return undefined;
        if (!answers.has(jobId)) answers.set(jobId, {});
        return answers.get(jobId)!;
      },
      fingerprint: async (jobId: bigint, seed: bigint) => {
        if (falsify.has(jobId)) return "0x" + "5a".repeat(32);
        return (await replayFingerprints(ctx.model, receipts.get(jobId)!, [seed]))[0]!;
      },
      save: async () => {},
    };
    routes.answerer = async (jobId, req) => {
      if (slow.has(jobId)) await new Promise((ok) => setTimeout(ok, 3_000));
      return answerStage(deps, jobId, req);
    };
    server = await serveReceipts(ctx.store, { extraRoutes: routes.handle });
  });
  after(async () => {
    await server?.close();
    await ctx?.cleanup();
  });

  const job = async (verifier: { address: string }, seed: number, draw = true) => {
    const j = await ctx.challengedJob({ verifier, seed, draw, receiptUri: (root, jobId) => receiptUrl(server.url, root, jobId) });
    receipts.set(j.jobId, j.receipt);
    return j;
  };
  const worker = async (signer: typeof ctx.v1, extra: { answerTimeoutMs?: number; maxTxGas?: number } = {}) => {
    const tap = new LogTap();
    const w = await startVerifierWorker({
      client: ctx.client,
      signer,
      modelsDir: ctx.modelsDir,
      stateDir: join(ctx.tmp, `one-tx-${signer.address}`),
      pollMs: 50,
      autoBond: false,
      logger: createLogger({ format: process.env.POC_TEST_LOG ? "plain" : "silent", minLevel: "debug", onRecord: tap.push }),
      ...extra,
    });
    return { w, tap };
  };

  it("settles the stage in one transaction when the generator answers the commitment off-chain (no commit, no on-chain answer)", async () => {
    const j = await job(ctx.v1, 11);
    const { w, tap } = await worker(ctx.v1);
    await w.idle();
    await w.stop();
    const names = (await ctx.client.jobEvents(j.jobId)).map((e) => e.name);
    expect(names).to.include("ResultSubmitted");
    expect(names).to.not.include("ResultCommitted");
    expect(names).to.not.include("FingerprintAnswered");
    expect((await ctx.client.getJob(j.jobId)).state).to.equal(JobState.GeneratorUpheld);
    const h = await jobHistory(ctx.client, j.jobId);
    expect(h.stages[0]!.assignments[0]!.oneTransaction).to.equal(true);
    expect(h.stages[0]!.assignments[0]!.generatorDistance).to.equal(0);
    expect(tap.has("one-tx-declined")).to.equal(false);
    // the generator recorded what it answered, with the verifier's signed statement
    const given = Object.values(answers.get(j.jobId)!);
    expect(given).to.have.length(1);
    expect(given[0]!.verifier).to.equal(ctx.v1.address);
  });

  it("a far answer: the worker commits and reveals the very commitment it sent (no equivocation), and the generator's on-chain answer settles it", async () => {
    const j = await job(ctx.v2, 12);
    falsify.add(j.jobId);
    const { w, tap } = await worker(ctx.v2);
    await w.idle();
    await w.stop();
    expect(tap.has("one-tx-declined", (r) => /bits from ours/.test(String(r.msg)))).to.equal(true);
    const events = await ctx.client.jobEvents(j.jobId);
    const committed = events.find((e) => e.name === "ResultCommitted");
    expect(committed && committed.name === "ResultCommitted" ? committed.commitment.toLowerCase() : undefined).to.equal(Object.values(answers.get(j.jobId)!)[0]!.commitment);
    expect(events.some((e) => e.name === "FingerprintAnswered")).to.equal(true);
    expect((await ctx.client.getJob(j.jobId)).state).to.equal(JobState.GeneratorUpheld);
  });

  it("a generator that answers too late: the worker stops waiting (answerTimeoutMs) and commits and reveals on-chain", async () => {
    const j = await job(ctx.v4, 14);
    slow.add(j.jobId);
    const { w, tap } = await worker(ctx.v4, { answerTimeoutMs: 500 });
    await w.idle();
    await w.stop();
    expect(tap.has("one-tx-declined", (r) => /did not answer/.test(String(r.msg)))).to.equal(true);
    const names = (await ctx.client.jobEvents(j.jobId)).map((e) => e.name);
    expect(names).to.include("ResultCommitted");
    expect((await ctx.client.getJob(j.jobId)).state).to.equal(JobState.GeneratorUpheld);
  });

  it("a pick draws and submits in one transaction, or, when that would pass maxTxGas and its entry is next, draws first and then submits", async () => {
    const sameTx = async (jobId: bigint) => {
      const events = await ctx.client.jobEvents(jobId);
      const assigned = events.find((e) => e.name === "VerifierAssigned");
      const submitted = events.find((e) => e.name === "ResultSubmitted");
      if (!assigned || !submitted) throw new Error(`job ${jobId}: no VerifierAssigned or ResultSubmitted`);
      const drawTx = await ctx.ethers.provider.getTransaction(assigned.transactionHash);
      return { same: assigned.transactionHash === submitted.transactionHash, drawnBy: drawTx!.from };
    };
    // no limit: one transaction (the draw inside submitResult)
    const a = await job(ctx.v5, 15, false);
    const one = await worker(ctx.v5, { maxTxGas: 0 });
    await one.w.idle();
    await one.w.stop();
    expect(await sameTx(a.jobId)).to.deep.equal({ same: true, drawnBy: ctx.v5.address });
    expect(one.tap.has("split-draw")).to.equal(false);
    expect((await ctx.client.getJob(a.jobId)).state).to.equal(JobState.GeneratorUpheld);
    // a limit below what the one transaction needs: the pick draws its stage first, then submits
    const b = await job(ctx.v5, 16, false);
    const two = await worker(ctx.v5, { maxTxGas: 100_000 });
    await two.w.idle();
    await two.w.stop();
    expect(await sameTx(b.jobId)).to.deep.equal({ same: false, drawnBy: ctx.v5.address });
    expect(two.tap.has("split-draw")).to.equal(true);
    expect((await ctx.client.getJob(b.jobId)).state).to.equal(JobState.GeneratorUpheld);
  });

  it("the route answers one commitment per stage and verifier, only to the stage's verifier, and says why in one line", async () => {
    const j = await job(ctx.v3, 13);
    const c = ctx.as(ctx.v3);
    const statement = (commitment: string) => commitmentStatement({ chainId: c.chainId, pool: c.address, jobId: j.jobId, stage: 1, commitment });
    const commitmentOf = (salt: string) =>
      resultCommitment({ jobId: j.jobId, stage: 1, verifier: ctx.v3.address, matchBitmap: "0x" + "ff".repeat(Math.ceil(j.numChecks / 8)), fingerprint: "0x" + "00".repeat(32), salt });
    const c1 = commitmentOf("0x" + "01".repeat(32));
    const first = await requestStageAnswer(server.url, j.jobId, { stage: 1, commitment: c1, signature: await c.signStatement(statement(c1)) });
    // the same commitment again: the same answer
    expect(await requestStageAnswer(server.url, j.jobId, { stage: 1, commitment: c1, signature: await c.signStatement(statement(c1)) })).to.deep.equal(first);
    // another commitment of the same verifier and stage: refused
    const c2 = commitmentOf("0x" + "02".repeat(32));
    const refused = await requestStageAnswer(server.url, j.jobId, { stage: 1, commitment: c2, signature: await c.signStatement(statement(c2)) }).catch((e: unknown) => e as { status?: number; code?: string; message: string });
    expect(refused).to.include({ status: 409, code: "already_answered" });
    expect((refused as Error).message.split("\n")).to.have.length(1);
    // someone who is not the stage's verifier
    const s = ctx.as(ctx.v4);
    const other = await requestStageAnswer(server.url, j.jobId, { stage: 1, commitment: c1, signature: await s.signStatement(statement(c1)) }).catch((e: unknown) => e as { status?: number; code?: string });
    expect(other).to.include({ status: 403, code: "not_the_verifier" });
    // a malformed body
    const bad = await fetch(`${server.url}/v1/jobs/${j.jobId}/answer`, { method: "POST", body: JSON.stringify({ stage: 1, commitment: "0x12" }) });
    expect(bad.status).to.equal(400);
    // an unknown job
    const unknown = await requestStageAnswer(server.url, 999_999n, { stage: 1, commitment: c1, signature: await c.signStatement(statement(c1)) }).catch((e: unknown) => e as { status?: number });
    expect(unknown).to.include({ status: 404 });
  });
});
