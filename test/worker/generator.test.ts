/**
 * The generator worker (offchain/worker/generator.ts) on Hardhat's in-process network with the tiny
 * model: it commits exactly the bound request (receipt served at the committed URI, answering the job,
 * replayed as honest), restarts without committing twice (same state, or none at all), skips a
 * request that does not match its on-chain hash or names a model it does not have (the user then
 * cancels), answers a one-transaction stage's verifier once per commitment and reports a verifier that
 * then commits another result, and in cheat mode (demo only) claims the job's model while a replay
 * with it disagrees.
 */
import { expect } from "chai";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { network } from "hardhat";
import type { Signer } from "ethers";
import { JobState, PoolClient } from "../../offchain/chain/index.js";
import { buildModel, loadModel, type LoadedModel } from "../../offchain/model/index.js";
import { ReceiptStore, fetchReceipt, serveReceipts, type ReceiptServer } from "../../offchain/receipt/index.js";
import { checkReceiptAgainstJob, parseJobRequest, requestHash, requestToDataUri, samplerSeedFor, type JobRequest } from "../../offchain/request/index.js";
import { verifyReceipt } from "../../offchain/verify/index.js";
import { startGeneratorWorker, type GeneratorWorker, type GeneratorWorkerOptions } from "../../offchain/worker/generator.js";
import { createLogger, type LogRecord } from "../../offchain/worker/log.js";
import { LoadedModels } from "../../offchain/worker/models.js";
import { AnswerRefusedError } from "../../offchain/worker/stage-answer.js";
import { commitmentStatement, resultCommitment } from "../../offchain/chain/index.js";
import { CG, CV, E18, HOUR, HOURLY_PARAMS, bondVerifiers, deployTestPool } from "./helpers.js";

function request(modelId: string, seed = 1, maxTokens = 10): JobRequest {
  return parseJobRequest({
    version: 1,
    modelId,
    promptTokens: Array.from({ length: 12 }, (_, i) => 40 + i),
    decoding: { seed, temperature: 0, topK: 0, topP: 1, maxTokens, stopAtEos: false },
    sampler: { ratePpm: 250_000, layersPerToken: 2, scope: "all" },
  });
}

const connection = await network.create();
const { ethers, networkHelpers } = connection;

describe("generator worker", function () {
  this.timeout(60_000);
  let tmp: string;
  let model: LoadedModel;
  let fake: LoadedModel;
  let store: ReceiptStore;
  let server: ReceiptServer;
  let client: PoolClient;
  let user: Signer;
  let gen: Signer;
  let genAddress: string;
  let verifierSigners: Signer[];
  const running: GeneratorWorker[] = [];

  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), "poc-generator-test-"));
    await buildModel(join(tmp, "models", "tiny"), { preset: "tiny" });
    await buildModel(join(tmp, "other", "tiny-7"), { preset: "tiny", weightSeed: 7 });
    model = await loadModel(join(tmp, "models", "tiny"), { threads: 1 });
    fake = await loadModel(join(tmp, "other", "tiny-7"), { threads: 1 });
    store = new ReceiptStore(join(tmp, "store"));
    server = await serveReceipts(store);
    const signers = await ethers.getSigners();
    const owner = signers[0]!;
    user = signers[1]!;
    gen = signers[2]!;
    genAddress = await gen.getAddress();
    const { poolAddress, deployBlock } = await deployTestPool(ethers, owner.address, HOURLY_PARAMS);
    client = await PoolClient.create({ runner: owner, pool: poolAddress, deployBlock, pollMs: 20 });
    for (const s of [user, gen]) await client.mintTestTokens(await s.getAddress(), 1_000n * E18);
    // jobs need maxStages + 2 verifiers serving the model
    verifierSigners = signers.slice(3, 3 + HOURLY_PARAMS.maxStages + 2);
    await bondVerifiers(client, verifierSigners, [model.modelId, fake.modelId]);
  });
  after(async () => {
    await server?.close();
    await model?.release();
    await fake?.release();
    await rm(tmp, { recursive: true, force: true });
  });
  afterEach(async () => {
    await Promise.all(running.splice(0).map((w) => w.stop()));
  });

  let n = 0;
  async function worker(extra: Partial<GeneratorWorkerOptions> & { records?: LogRecord[] } = {}) {
    const records = extra.records ?? [];
    const w = await startGeneratorWorker({
      client: client.connect(gen),
      models: join(tmp, "models"),
      store,
      receiptBaseUrl: server.url,
      stateDir: join(tmp, `state-${n++}`),
      pollMs: 50,
      log: createLogger({ format: "silent", onRecord: (r) => records.push(r) }),
      ...extra,
    });
    running.push(w);
    return w;
  }

  async function open(req: JobRequest, uri = requestToDataUri(req)) {
    const r = await client
      .connect(user)
      .openJob({ generator: genAddress, modelId: req.modelId, cg: CG, cv: CV, requestHash: requestHash(req), requestUri: uri, approve: true });
    return r.jobId;
  }

  const commits = async (jobId: bigint) => (await client.jobEvents(jobId)).filter((e) => e.name === "JobCommitted");

  it("commits the bound request: the receipt is served at the committed URI, answers the job, and a replay agrees", async () => {
    const req = request(model.modelId, 1);
    const jobId = await open(req);
    const w = await worker();
    await w.idle();
    const job = await client.getJob(jobId);
    expect(job.state).to.equal(JobState.Committed);
    const [c] = await commits(jobId);
    if (!c || c.name !== "JobCommitted") throw new Error("no JobCommitted");
    expect(c.receiptUri).to.equal(`${server.url}/receipts/${c.receiptRoot}?job=${jobId}`);
    const fetched = await fetchReceipt(c.receiptUri, c.receiptRoot);
    expect(fetched.receipt.outputTokens).to.have.length(10);
    expect(c.numChecks).to.equal(fetched.receipt.samples.length + 10);
    const seed = samplerSeedFor({ chainId: client.chainId, pool: client.address, jobId });
    expect(checkReceiptAgainstJob(fetched.receipt, { modelId: model.modelId, request: req, samplerSeed: seed })).to.deep.equal({ ok: true });
    const verdict = await verifyReceipt(model, fetched.receipt, { expectedRoot: c.receiptRoot });
    expect(verdict.agrees).to.equal(true);
    const rec = w.state().jobs[jobId.toString()]!;
    expect(rec.status).to.equal("committed");
    expect(rec.root).to.equal(c.receiptRoot);
    expect(rec.txs.map((t) => t.action.split("(")[0])).to.deep.equal(["approve", "commit"]);
    expect(rec.txs.every((t) => typeof t.hash === "string")).to.equal(true);
  });

  it("one-transaction stages: answers the stage's verifier once per commitment, and reports a verifier that then commits another result instead of answering it", async () => {
    const jobId = await open(request(model.modelId, 5));
    const w = await worker();
    await w.idle();
    await client.connect(user).challenge(jobId);
    await networkHelpers.mine(2);
    await client.tryDrawVerifiers();
    const { verifier } = await client.currentStage(jobId);
    const v = verifierSigners.find((s) => (s as { address?: string }).address === verifier)!;
    const vc = client.connect(v);
    const commitment = (fingerprint: string) =>
      resultCommitment({ jobId, stage: 1, verifier, matchBitmap: "0x" + "ff".repeat(4), fingerprint, salt: "0x" + "33".repeat(32) });
    const statement = (c: string) => commitmentStatement({ chainId: client.chainId, pool: client.address, jobId, stage: 1, commitment: c });
    // a verifier that did not replay sends a made-up fingerprint's commitment to learn the answer
    const c1 = commitment("0x" + "01".repeat(32));
    const sig1 = await vc.signStatement(statement(c1));
    const answer = await w.answerStage(jobId, { stage: 1, commitment: c1, signature: sig1 });
    const c2 = commitment(answer.answer);
    const again = await w.answerStage(jobId, { stage: 1, commitment: c2, signature: await vc.signStatement(statement(c2)) }).catch((e: unknown) => e);
    expect(again).to.be.instanceOf(AnswerRefusedError);
    expect((again as AnswerRefusedError).code).to.equal("already_answered");
    const stranger = client.connect(user);
    const notOurs = await w.answerStage(jobId, { stage: 1, commitment: c1, signature: await stranger.signStatement(statement(c1)) }).catch((e: unknown) => e);
    expect((notOurs as AnswerRefusedError).status).to.equal(403);
    // it commits a copy of the answer on-chain; the generator reports it instead of answering
    await vc.commitResult(jobId, c2);
    await w.idle();
    const events = await client.jobEvents(jobId);
    const report = events.find((e) => e.name === "VerifierEquivocated");
    if (!report || report.name !== "VerifierEquivocated") throw new Error("no VerifierEquivocated");
    expect(report.verifier).to.equal(verifier);
    expect(report.reporter).to.equal(genAddress);
    expect(report.signedCommitment.toLowerCase()).to.equal(c1.toLowerCase());
    expect(events.some((e) => e.name === "FingerprintAnswered")).to.equal(false);
    expect((await client.getJob(jobId)).state).to.equal(JobState.AwaitingVerifier);
    expect(w.state().jobs[jobId.toString()]!.signedAnswers![`1:${verifier}`]!.reported).to.match(/^0x/);
  });

  it("restarts without committing twice: with its state file, and with none (the chain says the job is committed)", async () => {
    const req = request(model.modelId, 2);
    const jobId = await open(req);
    const stateDir = join(tmp, "state-restart");
    const w1 = await worker({ stateDir });
    await w1.idle();
    await w1.stop();
    const nonce = await ethers.provider.getTransactionCount(genAddress);
    // same state directory
    const w2 = await worker({ stateDir });
    await w2.idle();
    expect(w2.state().jobs[jobId.toString()]!.status).to.equal("committed");
    await w2.stop();
    // a fresh state directory: rescans from the deployment block, finds the job committed on-chain
    const w3 = await worker({ stateDir: join(tmp, "state-restart-fresh") });
    await w3.idle();
    const rec = w3.state().jobs[jobId.toString()]!;
    expect(rec.status).to.equal("committed");
    expect(rec.txs).to.deep.equal([]);
    expect(await ethers.provider.getTransactionCount(genAddress)).to.equal(nonce);
    expect(await commits(jobId)).to.have.length(1);
  });

  it("skips a request whose content does not match the on-chain hash; the user cancels after the commit deadline", async () => {
    const bound = request(model.modelId, 3);
    const other = request(model.modelId, 4);
    const jobId = await open(bound, requestToDataUri(other));
    const w = await worker();
    await w.idle();
    const rec = w.state().jobs[jobId.toString()]!;
    expect(rec.status).to.equal("skipped");
    expect(rec.reason).to.match(/does not match its on-chain hash/);
    expect((await client.getJob(jobId)).state).to.equal(JobState.Open);
    await networkHelpers.time.increase(HOUR + 1);
    const r = await client.connect(user).cancel(jobId);
    const ev = r.events.find((e) => e.name === "JobCancelled");
    expect(ev && ev.name === "JobCancelled" && ev.userRefund).to.equal(CG + CV);
  });

  it("skips a job for a model it does not have", async () => {
    const req = request(fake.modelId, 5);
    const jobId = await open(req);
    const w = await worker();
    await w.idle();
    const rec = w.state().jobs[jobId.toString()]!;
    expect(rec.status).to.equal("skipped");
    expect(rec.reason).to.match(/model not available/);
    expect(await commits(jobId)).to.have.length(0);
  });

  it("cheat mode (demonstrations only): the receipt claims the job's model, a replay with that model disagrees", async () => {
    const req = request(model.modelId, 6);
    const jobId = await open(req);
    const w = await worker({ models: new LoadedModels([model]), cheat: { model: fake } });
    await w.idle();
    const [c] = await commits(jobId);
    if (!c || c.name !== "JobCommitted") throw new Error("no JobCommitted");
    const { receipt } = await fetchReceipt(c.receiptUri, c.receiptRoot);
    expect(receipt.modelId).to.equal(model.modelId.toLowerCase());
    const seed = samplerSeedFor({ chainId: client.chainId, pool: client.address, jobId });
    expect(checkReceiptAgainstJob(receipt, { modelId: model.modelId, request: req, samplerSeed: seed }).ok).to.equal(true);
    const verdict = await verifyReceipt(model, receipt, { expectedRoot: c.receiptRoot });
    expect(verdict.agrees).to.equal(false);
    expect(w.state().jobs[jobId.toString()]!.cheated).to.equal(true);
  });
});
