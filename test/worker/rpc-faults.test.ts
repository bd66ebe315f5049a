/**
 * The verifier worker over a JSON-RPC transport that fails: the standalone client (JsonRpcProvider +
 * the node's unlocked account, as `npx poc worker verifier --account N` uses against `hardhat node`)
 * talks to the in-process network through an HTTP proxy that injects errors.
 */
import { expect } from "chai";
import { join } from "node:path";
import { PoolClient, connectRpc, type RpcConnection } from "../../offchain/chain/index.js";
import { createLogger } from "../../offchain/worker/log.js";
import { startVerifierWorker, type VerifierWorker } from "../../offchain/worker/verifier.js";
import { LogTap, createWorkerContext, waitFor, type WorkerContext } from "./helpers.js";
import { startRpcProxy, type RpcProxy } from "./rpc-proxy.js";

describe("verifier worker: RPC faults", function () {
  this.timeout(60_000);
  let ctx: WorkerContext;
  let proxy: RpcProxy;
  const conns: RpcConnection[] = [];
  const workers: VerifierWorker[] = [];
  let n = 0;

  before(async () => {
    ctx = await createWorkerContext();
    proxy = await startRpcProxy(ctx.connection.provider);
  });
  afterEach(async () => {
    proxy.failNext(0);
    await Promise.all(workers.splice(0).map((w) => w.stop()));
  });
  after(async () => {
    for (const c of conns) c.provider.destroy();
    await proxy?.close();
    await ctx?.cleanup();
  });

  /** A worker for `verifier` whose every RPC call goes through the proxy. */
  async function proxiedWorker(verifier: { address: string }, privateKey?: string) {
    const index = ctx.signers.findIndex((s) => s.address === verifier.address);
    const retry = { attempts: 4, baseDelayMs: 20, maxDelayMs: 100 };
    const conn = await connectRpc({ rpcUrl: proxy.url, retry, ...(privateKey ? { privateKey } : { account: index }) });
    conns.push(conn);
    const client = await PoolClient.create({ runner: conn.signer!, pool: ctx.poolAddress, deployBlock: ctx.deployBlock, retry, pollMs: 20 });
    const tap = new LogTap();
    const w = await startVerifierWorker({
      client,
      modelsDir: ctx.modelsDir,
      stateDir: join(ctx.tmp, `rpc-state-${n++}`),
      fromBlock: (await ctx.ethers.provider.getBlockNumber()) + 1,
      pollMs: 50,
      logger: createLogger({ format: process.env.POC_TEST_LOG ? "plain" : "silent", name: verifier.address.slice(0, 8), onRecord: tap.push }),
    });
    workers.push(w);
    return { w, tap };
  }

  it("every call fails for a while (HTTP 503, then 429): polls and jobs are retried and the result is submitted before the deadline", async () => {
    const { w, tap } = await proxiedWorker(ctx.v1);
    await w.idle();
    const before = proxy.calls.filter((c) => c.failed).length;
    proxy.failNext(15, { status: 503 });
    const job = await ctx.challengedJob({ verifier: ctx.v1 }); // the test's own calls do not use the proxy
    await waitFor("the 503s to be used up", () => proxy.failing === 0);
    proxy.failNext(10, { status: 429 });
    const res = await waitFor("the submission", async () => {
      const r = await ctx.results(job.jobId);
      return r.length > 0 ? r : undefined;
    });
    await w.idle();
    expect(proxy.calls.filter((c) => c.failed).length - before).to.equal(25);
    expect(await ctx.results(job.jobId)).to.have.length(1);
    expect(res[0]!.verifier).to.equal(ctx.v1.address);
    const blk = await ctx.ethers.provider.getBlock(res[0]!.blockNumber);
    expect(blk!.timestamp).to.be.at.most(job.deadline);
    expect(tap.has("job-submitted", (r) => r.jobId === job.jobId.toString())).to.equal(true);
    // some calls ran out of retries: the poll loop or the job said so and tried again
    expect(tap.has("poll-failed") || tap.has("job-error")).to.equal(true);
  });

  it("eth_sendTransaction refused twice before reaching the node: resent with the same nonce, one submission", async () => {
    const { w, tap } = await proxiedWorker(ctx.v2);
    await w.idle();
    proxy.failNext(2, { status: 502, methods: ["eth_sendTransaction"] });
    const job = await ctx.challengedJob({ verifier: ctx.v2 });
    await w.idle();
    expect(proxy.calls.filter((c) => c.failed && c.method === "eth_sendTransaction")).to.have.length.at.least(2);
    expect(await ctx.results(job.jobId)).to.have.length(1);
    expect(tap.has("job-submitted", (r) => r.jobId === job.jobId.toString())).to.equal(true);
  });

  it("the node accepts commitResult but the response is lost: the resend finds its nonce used, the chain shows the commitment, nothing more is sent", async () => {
    const { w, tap } = await proxiedWorker(ctx.v3);
    await w.idle();
    proxy.failNext(1, { status: 504, methods: ["eth_sendTransaction"], afterForward: true });
    const job = await ctx.challengedJob({ verifier: ctx.v3 });
    await w.idle();
    expect(await ctx.results(job.jobId)).to.have.length(1);
    const id = job.jobId.toString();
    expect(tap.has("job-already-submitted", (r) => r.jobId === id) || tap.has("job-submitted", (r) => r.jobId === id)).to.equal(true);
    // one commitResult and one revealResult, nothing sent twice
    expect(tap.events("tx-sending").filter((r) => r.jobId === id)).to.have.length(2);
  });

  it("with a local key (signed before the broadcast): the hash is on disk first; a broadcast whose response is lost is not sent twice", async () => {
    // Hardhat's well-known dev account #6 (= v4): POC_PRIVATE_KEY on a real network
    const key = "0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e";
    const { w, tap } = await proxiedWorker(ctx.v4, key);
    await w.idle();
    proxy.failNext(1, { status: 504, methods: ["eth_sendRawTransaction"], afterForward: true });
    const job = await ctx.challengedJob({ verifier: ctx.v4 });
    await w.idle();
    const id = job.jobId.toString();
    expect(proxy.calls.filter((c) => c.failed && c.method === "eth_sendRawTransaction")).to.have.length(1);
    expect(await ctx.results(job.jobId)).to.have.length(1);
    // commitResult (whose response was lost) and revealResult, each broadcast once
    const sent = tap.events("tx-sent").filter((r) => r.jobId === id);
    expect(sent).to.have.length(2);
    const done = tap.events("job-submitted").find((r) => r.jobId === id);
    expect(done?.tx, "the hash known before the broadcast is the mined one").to.equal(sent[1]!.tx);
  });
});
