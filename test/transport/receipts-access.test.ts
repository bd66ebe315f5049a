/**
 * Receipts are served only to the parties of a job (docs/NETWORK.md), on Hardhat's in-process
 * network with the tiny model: the store server with the party check (no signature 401, a stranger or
 * an undrawn verifier 403, the user and the drawn verifier 200, a root the job did not commit 403, a
 * job without a commit 404, CORS preflight), and the verifier worker fetching a receipt with its
 * signature — from the generator's server, and from the user's mirror when the generator's server is
 * gone.
 */
import { expect } from "chai";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import type { Signer } from "ethers";
import { ReceiptStore, allMatchedBitmap, receiptUrl, serveReceipts, type ReceiptServer } from "../../offchain/receipt/index.js";
import { requestHash, requestToDataUri } from "../../offchain/request/index.js";
import { signAccess, type AccessGrant } from "../../offchain/transport/auth.js";
import { receiptAuthorizer } from "../../offchain/transport/receipt-access.js";
import { createLogger } from "../../offchain/worker/log.js";
import { startVerifierWorker } from "../../offchain/worker/verifier.js";
import { CG, CV, LogTap, createWorkerContext, tinyRequest, type WorkerContext } from "../worker/helpers.js";

type Grant = AccessGrant & { jobId: bigint; root: string };

describe("receipts for the job's parties only (docs/NETWORK.md)", function () {
  this.timeout(120_000);
  let ctx: WorkerContext;
  let gen: ReceiptServer;
  const grants: Grant[] = [];

  before(async () => {
    ctx = await createWorkerContext();
    gen = await serveReceipts(ctx.store, { authorize: receiptAuthorizer(ctx.client, { onGrant: (g) => grants.push(g) }) });
  });
  after(async () => {
    await gen?.close();
    await ctx?.cleanup();
  });

  const auth = async (signer: Signer, jobId: bigint) => signAccess(signer, { chainId: ctx.client.chainId, pool: ctx.poolAddress, jobId });
  const get = (url: string, authorization?: string, method = "GET") => fetch(url, { method, ...(authorization ? { headers: { authorization } } : {}) });
  const errorOf = async (r: Response) => ((await r.json()) as { error: { type: string; code: string; message: string } }).error;

  let job1: Awaited<ReturnType<WorkerContext["challengedJob"]>>;

  it("no signature 401, a stranger or an undrawn verifier 403, the user and the drawn verifier 200; errors are JSON, every answer has CORS", async () => {
    job1 = await ctx.challengedJob({ verifier: ctx.v1, receiptUri: (root, jobId) => receiptUrl(gen.url, root, jobId) });
    const url = receiptUrl(gen.url, job1.root, job1.jobId);
    expect(url).to.equal(`${gen.url}/receipts/${job1.root}?job=${job1.jobId}`);

    const none = await get(url);
    expect(none.status).to.equal(401);
    expect(none.headers.get("access-control-allow-origin")).to.equal("*");
    expect(none.headers.get("content-type")).to.equal("application/json");
    expect(await errorOf(none)).to.include({ type: "authentication_error", code: "unauthenticated" });

    const stranger = await get(url, await auth(ctx.stranger, job1.jobId));
    expect(stranger.status).to.equal(403);
    expect(stranger.headers.get("access-control-allow-origin")).to.equal("*");
    const e = await errorOf(stranger);
    expect(e.type).to.equal("permission_error");
    expect(e.message).to.include(ctx.stranger.address);
    expect((await get(url, await auth(ctx.v2, job1.jobId))).status, "a verifier not drawn for the job").to.equal(403);
    // a signature for another job does not open this one
    expect((await get(url, await auth(ctx.user, job1.jobId + 1n))).status).to.equal(401);

    const user = await get(url, await auth(ctx.user, job1.jobId));
    expect(user.status).to.equal(200);
    expect(user.headers.get("access-control-allow-origin")).to.equal("*");
    expect(user.headers.get("cache-control")).to.match(/^private/);
    expect(new Uint8Array(await user.arrayBuffer())).to.deep.equal(job1.bytes);
    const verifier = await get(url, await auth(ctx.v1, job1.jobId));
    expect(verifier.status).to.equal(200);
    expect(new Uint8Array(await verifier.arrayBuffer())).to.deep.equal(job1.bytes);
    expect((await get(url, await auth(ctx.v1, job1.jobId), "HEAD")).status).to.equal(200);
    expect(grants.map((g) => [g.role, g.address])).to.deep.include.members([
      ["user", ctx.user.address],
      ["verifier", ctx.v1.address],
    ]);
    // without ?job= the request names no job to be a party of
    expect((await get(`${gen.url}/receipts/${job1.root}`, await auth(ctx.user, job1.jobId))).status).to.equal(401);
  });

  it("a root the job did not commit is 403, a job without a commit 404, an unknown job 403", async () => {
    const req = tinyRequest(ctx.model.modelId, 7);
    const open = () =>
      ctx.as(ctx.user).openJob({ generator: ctx.generator.address, modelId: ctx.model.modelId, cg: CG, cv: CV, requestHash: requestHash(req), requestUri: requestToDataUri(req), approve: true });
    const other = (await open()).jobId;
    await ctx.as(ctx.generator).commit(other, { receiptRoot: "0x" + "11".repeat(32), numChecks: 8, receiptUri: "elsewhere", approve: true });
    const asked = await get(receiptUrl(gen.url, job1.root, other), await auth(ctx.user, other));
    expect(asked.status, "job 1's receipt through another job of the same user").to.equal(403);
    expect((await errorOf(asked)).message).to.match(/is not job \d+'s/);

    const uncommitted = (await open()).jobId;
    const nf = await get(receiptUrl(gen.url, job1.root, uncommitted), await auth(ctx.user, uncommitted));
    expect(nf.status).to.equal(404);
    expect(await errorOf(nf)).to.include({ type: "not_found_error" });

    const unknown = 10_000n;
    expect((await get(receiptUrl(gen.url, job1.root, unknown), await auth(ctx.user, unknown))).status).to.equal(403);
  });

  it("CORS preflight: OPTIONS answers 204 with the allowed headers, without a signature", async () => {
    const r = await fetch(receiptUrl(gen.url, job1.root, job1.jobId), { method: "OPTIONS", headers: { origin: "http://dapp.example", "access-control-request-headers": "authorization" } });
    expect(r.status).to.equal(204);
    expect(r.headers.get("access-control-allow-origin")).to.equal("*");
    expect(r.headers.get("access-control-allow-headers")).to.match(/Authorization/);
    expect(r.headers.get("access-control-allow-methods")).to.match(/GET/);
  });

  it("receiptUrl: the committed form from any base URL; without authorize the server still sends CORS and JSON errors", async () => {
    const r = "0x" + "ab".repeat(32);
    for (const base of ["http://h:1", "http://h:1/", "http://h:1/receipts", "http://h:1/receipts/", `http://h:1/receipts/${r}`])
      expect(receiptUrl(base, r, 5n)).to.equal(`http://h:1/receipts/${r}?job=5`);
    expect(receiptUrl("https://g.example/poc/", r)).to.equal(`https://g.example/poc/receipts/${r}`);
    expect(receiptUrl("/var/receipts", r, 5n), "a path is left as it is").to.equal("/var/receipts");
    const open = await fetch(`${ctx.server.url}/receipts/0x${"00".repeat(32)}`);
    expect(open.status).to.equal(404);
    expect(open.headers.get("access-control-allow-origin")).to.equal("*");
    expect((await errorOf(open)).type).to.equal("not_found_error");
  });

  const worker = async (signer: Signer, extra: { receiptMirrors?: string[] } = {}) => {
    const tap = new LogTap();
    const w = await startVerifierWorker({
      client: ctx.client,
      signer,
      modelsDir: ctx.modelsDir,
      stateDir: join(ctx.tmp, `vstate-${await signer.getAddress()}`),
      pollMs: 50,
      fetchBudgetMs: 5_000,
      logger: createLogger({ format: process.env.POC_TEST_LOG ? "plain" : "silent", minLevel: "debug", onRecord: tap.push }),
      ...extra,
    });
    return { w, tap };
  };

  it("the verifier worker signs its fetch: it replays a job whose receipt server requires the party check and upholds it", async () => {
    // job 1's stage-1 verifier is v1; its receipt URI is the authenticated server
    grants.length = 0;
    const { w, tap } = await worker(ctx.v1);
    await w.idle();
    await w.stop();
    const res = await ctx.results(job1.jobId);
    expect(res).to.have.length(1);
    expect(res[0]!.matchBitmap).to.equal("0x" + Buffer.from(allMatchedBitmap(job1.numChecks)).toString("hex"));
    expect(tap.has("generator-fault")).to.equal(false);
    expect(grants.some((g) => g.role === "verifier" && g.address === ctx.v1.address && g.jobId === job1.jobId)).to.equal(true);
  });

  it("the generator's server is gone: the verifier fetches from the user's mirror (same signature, same root check) and upholds the job", async () => {
    // a URL nothing listens on any more
    const dead = createServer();
    await new Promise<void>((ok) => dead.listen(0, "127.0.0.1", () => ok()));
    const deadUrl = `http://127.0.0.1:${(dead.address() as AddressInfo).port}`;
    await new Promise<void>((ok) => dead.close(() => ok()));

    const job = await ctx.challengedJob({ verifier: ctx.v3, seed: 3, receiptUri: (root, jobId) => receiptUrl(deadUrl, root, jobId) });
    // the user's own copy, served with the same party check
    const userStore = new ReceiptStore(join(ctx.tmp, "user-store"));
    await userStore.put(job.bytes);
    const mirrorGrants: Grant[] = [];
    const mirror = await serveReceipts(userStore, { authorize: receiptAuthorizer(ctx.client, { onGrant: (g) => mirrorGrants.push(g) }) });
    try {
      const { w, tap } = await worker(ctx.v3, { receiptMirrors: [mirror.url] });
      await w.idle();
      await w.stop();
      const res = await ctx.results(job.jobId);
      expect(res).to.have.length(1);
      expect(res[0]!.matchBitmap).to.equal("0x" + Buffer.from(allMatchedBitmap(job.numChecks)).toString("hex"));
      expect(tap.has("generator-fault")).to.equal(false);
      const got = tap.events("receipt").find((r) => r.jobId === job.jobId.toString());
      expect(got?.mirror).to.equal(receiptUrl(mirror.url, job.root, job.jobId));
      expect(mirrorGrants.map((g) => [g.role, g.address, g.jobId])).to.deep.equal([["verifier", ctx.v3.address, job.jobId]]);
    } finally {
      await mirror.close();
    }
  });
});
