/**
 * Private request delivery and token streaming on the generator's server (docs/NETWORK.md "The
 * generator's server"), on Hardhat's in-process network with the tiny model and a real generator
 * worker: a private job (`poc:direct`) is committed once its request is POSTed (held when the job is
 * not opened yet), a wrong body is refused (409) and never generated, a request that never arrives
 * makes the worker skip the job, the stream gives the tokens the receipt commits to (replayed to a
 * late subscriber, refused to a stranger and to a request without authorization), and no prompt
 * bytes reach the chain.
 */
import { expect } from "chai";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { network } from "hardhat";
import { hexlify, toUtf8Bytes, type Signer } from "ethers";
import { JobState, PoolClient } from "../../offchain/chain/index.js";
import { buildModel, loadModel, type LoadedModel } from "../../offchain/model/index.js";
import { ReceiptStore, fetchReceipt, serveReceipts, type ReceiptServer } from "../../offchain/receipt/index.js";
import { MAX_REQUEST_BYTES, encodeJobRequest, parseJobRequest, requestHash, type JobRequest } from "../../offchain/request/index.js";
import { DIRECT_REQUEST_URI, startGeneratorWorker, type GeneratorWorker } from "../../offchain/worker/generator.js";
import { createLogger } from "../../offchain/worker/log.js";
import { RequestIntake } from "../../offchain/transport/intake.js";
import { JobEventLog, type JobStreamEvent } from "../../offchain/transport/job-events.js";
import { GeneratorRoutes, routeContextFor } from "../../offchain/transport/generator-routes.js";
import { GeneratorHttpError, deliverRequest, streamJob } from "../../offchain/transport/generator-client.js";
import { signAccess } from "../../offchain/transport/auth.js";
import { CG, CV, E18, HOUR, HOURLY_PARAMS, bondVerifiers, deployTestPool, waitFor } from "../worker/helpers.js";

const connection = await network.create();
const { ethers, networkHelpers } = connection;

/** A prompt whose bytes are easy to look for: "Secret prompt: the launch code is 0451" as token ids. */
const SECRET = "Secret prompt: the launch code is 0451";

function request(modelId: string, seed: number): JobRequest {
  return parseJobRequest({
    version: 1,
    modelId,
    promptTokens: [...SECRET].map((c) => c.charCodeAt(0)),
    decoding: { seed, temperature: 0.8, topK: 0, topP: 1, maxTokens: 9, stopAtEos: false },
    sampler: { ratePpm: 250_000, layersPerToken: 2, scope: "all" },
  });
}

describe("generator server: private request intake and token stream", function () {
  this.timeout(90_000);
  let tmp: string;
  let model: LoadedModel;
  let store: ReceiptStore;
  let server: ReceiptServer;
  let routes: GeneratorRoutes;
  let client: PoolClient;
  let user: Signer;
  let gen: Signer;
  let stranger: Signer;
  const running: GeneratorWorker[] = [];

  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), "poc-intake-test-"));
    await buildModel(join(tmp, "models", "tiny"), { preset: "tiny" });
    model = await loadModel(join(tmp, "models", "tiny"), { threads: 1 });
    store = new ReceiptStore(join(tmp, "store"));
    routes = new GeneratorRoutes({ intake: new RequestIntake(), events: new JobEventLog() });
    server = await serveReceipts(store, { extraRoutes: routes.handle });
    const signers = await ethers.getSigners();
    const owner = signers[0]!;
    user = signers[1]!;
    gen = signers[2]!;
    stranger = signers[10]!;
    const { poolAddress, deployBlock } = await deployTestPool(ethers, owner.address, HOURLY_PARAMS);
    client = await PoolClient.create({ runner: owner, pool: poolAddress, deployBlock, pollMs: 20 });
    for (const s of [user, gen]) await client.mintTestTokens(await s.getAddress(), 1_000n * E18);
    await bondVerifiers(client, signers.slice(3, 3 + HOURLY_PARAMS.maxStages + 2), [model.modelId]);
    routes.context = await routeContextFor(client.connect(gen));
  });
  after(async () => {
    await server?.close();
    await model?.release();
    await rm(tmp, { recursive: true, force: true });
  });
  afterEach(async () => {
    await Promise.all(running.splice(0).map((w) => w.stop()));
  });

  let n = 0;
  /** A generator worker that sees only the jobs opened from `fromBlock` on (earlier tests' jobs stay out of its way). */
  async function worker(fromBlock: number, o: { stateDir?: string; events?: JobEventLog } = {}) {
    const w = await startGeneratorWorker({
      client: client.connect(gen),
      models: join(tmp, "models"),
      store,
      receiptBaseUrl: server.url,
      stateDir: o.stateDir ?? join(tmp, `state-${n++}`),
      pollMs: 50,
      fromBlock,
      intake: routes.intake,
      events: o.events ?? routes.events,
      log: createLogger({ format: "silent" }),
    });
    running.push(w);
    return w;
  }

  async function openPrivate(req: JobRequest) {
    return client.connect(user).openJob({
      generator: await gen.getAddress(),
      modelId: req.modelId,
      cg: CG,
      cv: CV,
      requestHash: requestHash(req),
      requestUri: DIRECT_REQUEST_URI,
      approve: true,
    });
  }

  const scopeOf = (jobId: bigint) => ({ chainId: client.chainId, pool: client.address, jobId });

  async function collect(it: AsyncIterable<JobStreamEvent>): Promise<JobStreamEvent[]> {
    const out: JobStreamEvent[] = [];
    for await (const e of it) out.push(e);
    return out;
  }

  /** Every byte string of a job's prompt a reader of the chain could find: the encoding, its base64, the token list, the text. */
  function promptNeedles(req: JobRequest): string[] {
    const enc = encodeJobRequest(req);
    return [
      hexlify(enc).slice(2),
      hexlify(toUtf8Bytes(Buffer.from(enc).toString("base64"))).slice(2),
      hexlify(toUtf8Bytes(JSON.stringify(req.promptTokens))).slice(2),
      hexlify(toUtf8Bytes(SECRET)).slice(2),
      hexlify(toUtf8Bytes("launch code")).slice(2),
    ];
  }

  it("a private job (poc:direct) is committed after its request is POSTed; no prompt bytes are in its events or calldata", async () => {
    const req = request(model.modelId, 1);
    const opened = await openPrivate(req);
    const w = await worker(opened.blockNumber);
    const d = await deliverRequest(server.url, opened.jobId, encodeJobRequest(req));
    expect(d).to.deep.equal({ jobId: opened.jobId.toString(), held: false });
    await w.idle();
    expect((await client.getJob(opened.jobId)).state).to.equal(JobState.Committed);
    const rec = w.state().jobs[opened.jobId.toString()]!;
    expect(rec.status).to.equal("committed");
    const { committed } = await client.jobRecord(opened.jobId);
    if (!committed) throw new Error("no JobCommitted");
    expect(committed.receiptUri).to.equal(`${server.url}/receipts/${committed.receiptRoot}?job=${opened.jobId}`);
    const fetched = await fetchReceipt(committed.receiptUri, committed.receiptRoot);
    expect(fetched.receipt.promptTokens).to.deep.equal(req.promptTokens);

    expect(opened.opened.requestUri).to.equal("poc:direct");
    const needles = promptNeedles(req);
    const txs = [opened.hash, committed.transactionHash];
    let looked = 0;
    for (const h of txs) {
      const tx = await ethers.provider.getTransaction(h);
      const receipt = await ethers.provider.getTransactionReceipt(h);
      const blobs = [tx!.data.toLowerCase(), ...receipt!.logs.map((l) => (l.data + l.topics.join("")).toLowerCase())];
      for (const b of blobs) for (const needle of needles) (looked++, expect(b.includes(needle), `prompt bytes in tx ${h}`).to.equal(false));
    }
    expect(looked).to.be.greaterThan(needles.length * 2);
    // the check can fail: the same needles are found in a public job's calldata
    const pub = await client.connect(user).openJob({
      generator: await gen.getAddress(),
      modelId: req.modelId,
      cg: CG,
      cv: CV,
      requestHash: requestHash(req),
      requestUri: `data:application/json;base64,${Buffer.from(encodeJobRequest(req)).toString("base64")}`,
      approve: true,
    });
    const pubData = (await ethers.provider.getTransaction(pub.hash))!.data.toLowerCase();
    expect(pubData.includes(needles[1]!)).to.equal(true);
    await w.idle(); // the public job is committed too (its request is on-chain)
  });

  it("a POST before the job is opened is held (202, held) and used once the JobOpened arrives", async () => {
    const req = request(model.modelId, 2);
    const next = await client.nextJobId();
    const from = (await ethers.provider.getBlockNumber()) + 1;
    const d = await deliverRequest(server.url, next, encodeJobRequest(req));
    expect(d).to.deep.equal({ jobId: next.toString(), held: true });
    const opened = await openPrivate(req);
    expect(opened.jobId).to.equal(next);
    const w = await worker(from);
    await w.idle();
    expect(w.state().jobs[next.toString()]!.status).to.equal("committed");
    expect((await client.getJob(next)).state).to.equal(JobState.Committed);
  });

  it("a body that does not hash to the job's requestHash is 409 request_hash_mismatch, and the worker does not generate it", async () => {
    const req = request(model.modelId, 3);
    const wrong = request(model.modelId, 4);
    const opened = await openPrivate(req);
    const w = await worker(opened.blockNumber);
    let err: unknown;
    try {
      await deliverRequest(server.url, opened.jobId, encodeJobRequest(wrong));
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(GeneratorHttpError);
    expect(err).to.include({ status: 409, code: "request_hash_mismatch" });
    expect(routes.intake.has(requestHash(wrong))).to.equal(false);
    const rec = await waitFor("the worker waiting for the request", () => {
      const r = w.state().jobs[opened.jobId.toString()];
      return r?.reason?.startsWith("waiting for the request") ? r : undefined;
    });
    expect(rec.status).to.equal("queued");
    expect(rec.root).to.equal(undefined);
    expect(routes.events.events(opened.jobId)).to.deep.equal([]);
    expect((await client.getJob(opened.jobId)).state).to.equal(JobState.Open);
    // the raw answer: OpenAI's error shape, with the CORS headers
    const res = await fetch(`${server.url}/v1/jobs/${opened.jobId}/request`, { method: "POST", body: encodeJobRequest(wrong) });
    expect(res.status).to.equal(409);
    expect(res.headers.get("access-control-allow-origin")).to.equal("*");
    const body = (await res.json()) as { error: { type: string; code: string; message: string } };
    expect(body.error).to.include({ type: "invalid_request_error", code: "request_hash_mismatch" });
    // the right body is still accepted afterwards, and generated
    await deliverRequest(server.url, opened.jobId, encodeJobRequest(req));
    await w.idle();
    expect(w.state().jobs[opened.jobId.toString()]!.status).to.equal("committed");
  });

  it("a private job whose request never arrives is skipped at the commit deadline with that reason, and its stream says so", async () => {
    const req = request(model.modelId, 5);
    const opened = await openPrivate(req);
    const w = await worker(opened.blockNumber);
    await waitFor("the worker waiting for the request", () => w.state().jobs[opened.jobId.toString()]?.reason?.startsWith("waiting for the request"));
    await networkHelpers.time.increase(HOUR + 1);
    await w.idle();
    const rec = w.state().jobs[opened.jobId.toString()]!;
    expect(rec.status).to.equal("skipped");
    expect(rec.reason).to.match(/never arrived/);
    expect(rec.root).to.equal(undefined);
    const auth = await signAccess(user, scopeOf(opened.jobId));
    const events = await collect(streamJob(server.url, opened.jobId, auth));
    expect(events).to.have.length(1);
    expect(events[0]!.event).to.equal("error");
    expect((events[0] as Extract<JobStreamEvent, { event: "error" }>).data.message).to.match(/never arrived/);
  });

  it("the stream gives every token in order, then done, then committed; the tokens are the committed receipt's; a late subscriber gets the replay", async () => {
    const req = request(model.modelId, 6);
    const opened = await openPrivate(req);
    const auth = await signAccess(user, scopeOf(opened.jobId));
    // subscribed before anything was generated
    const live = collect(streamJob(server.url, opened.jobId, auth));
    const w = await worker(opened.blockNumber);
    await deliverRequest(server.url, opened.jobId, encodeJobRequest(req));
    await w.idle();
    const events = await live;
    const { committed } = await client.jobRecord(opened.jobId);
    if (!committed) throw new Error("no JobCommitted");
    const receipt = (await fetchReceipt(committed.receiptUri, committed.receiptRoot)).receipt;
    const tokens = events.filter((e): e is Extract<JobStreamEvent, { event: "token" }> => e.event === "token");
    expect(tokens.map((t) => t.data.index)).to.deep.equal(receipt.outputTokens.map((_, i) => i));
    expect(tokens.map((t) => t.data.token)).to.deep.equal(receipt.outputTokens);
    expect(events.map((e) => e.event)).to.deep.equal([...tokens.map(() => "token"), "done", "committed"]);
    expect(events.at(-2)).to.deep.equal({ event: "done", data: { tokens: receipt.outputTokens, finishReason: "length" } });
    expect(events.at(-1)).to.deep.equal({
      event: "committed",
      data: { receiptRoot: committed.receiptRoot, receiptUri: committed.receiptUri, tx: committed.transactionHash },
    });
    const late = await collect(streamJob(server.url, opened.jobId, await signAccess(user, scopeOf(opened.jobId))));
    expect(late).to.deep.equal(events);

    // a restarted worker (same state, fresh in-memory logs) replays the committed job from its stored receipt
    await w.stop();
    running.splice(running.indexOf(w), 1);
    const events2 = new JobEventLog();
    const routes2 = new GeneratorRoutes({ intake: routes.intake, events: events2, context: routes.context! });
    const server2 = await serveReceipts(store, { extraRoutes: routes2.handle });
    try {
      await worker(opened.blockNumber, { stateDir: join(tmp, `state-${n - 1}`), events: events2 });
      const again = await collect(streamJob(server2.url, opened.jobId, await signAccess(user, scopeOf(opened.jobId))));
      expect(again).to.deep.equal(events);
    } finally {
      await server2.close();
    }
  });

  it("the stream refuses a stranger (403) and a request without authorization (401); a request over MAX_REQUEST_BYTES is 413; OPTIONS is 204 with CORS", async () => {
    const jobId = (await client.nextJobId()) - 1n;
    let err: unknown;
    try {
      await collect(streamJob(server.url, jobId, await signAccess(stranger, scopeOf(jobId))));
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(GeneratorHttpError);
    expect(err).to.include({ status: 403 });
    const none = await fetch(`${server.url}/v1/jobs/${jobId}/stream`);
    expect(none.status).to.equal(401);
    expect(((await none.json()) as { error: { type: string } }).error.type).to.equal("authentication_error");
    // the user signing for another job is not the user of this one
    const other = await fetch(`${server.url}/v1/jobs/${jobId}/stream`, { headers: { authorization: await signAccess(user, scopeOf(jobId + 1n)) } });
    expect(other.status).to.equal(401);
    await other.body?.cancel();

    const big = await fetch(`${server.url}/v1/jobs/${jobId}/request`, { method: "POST", body: new Uint8Array(MAX_REQUEST_BYTES + 1) }).catch((e: unknown) => e);
    if (big instanceof Response) expect(big.status).to.equal(413);
    else throw new Error(`the oversized POST got no answer: ${String(big)}`);
    const pre = await fetch(`${server.url}/v1/jobs/${jobId}/request`, { method: "OPTIONS" });
    expect(pre.status).to.equal(204);
    expect(pre.headers.get("access-control-allow-origin")).to.equal("*");
    expect(pre.headers.get("access-control-allow-headers")).to.equal("Authorization, Content-Type");
    // receipts are still served beside the new routes
    const { committed } = await client.jobRecord(jobId);
    expect((await fetch(`${server.url}/receipts/${committed!.receiptRoot}`)).status).to.equal(200);
  });
});
