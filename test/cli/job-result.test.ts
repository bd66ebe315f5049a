/**
 * `poc job result`, `poc job status` (the answer from the user's store) and `poc receipts serve
 * --store` (the user's copy as a mirror) as separate processes over JSON-RPC, against Hardhat's
 * in-process network. The job is opened and committed in-process (the receipt generated with the tiny
 * model, served by an authenticated receipt server as the generator worker does); the CLI fetches it
 * with the user's signature, checks it, decodes it, saves it, and says whether it can be trusted.
 */
import { expect } from "chai";
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { network } from "hardhat";
import { PoolClient } from "../../offchain/chain/index.js";
import { generate } from "../../offchain/generate/index.js";
import { buildModel, loadModel, type LoadedModel } from "../../offchain/model/index.js";
import { ReceiptStore, numChecks, receiptUrl, serveReceipts, type ReceiptServer } from "../../offchain/receipt/index.js";
import { parseJobRequest, requestHash, requestToDataUri, samplerSeedFor } from "../../offchain/request/index.js";
import { signAccess } from "../../offchain/transport/auth.js";
import { receiptAuthorizer } from "../../offchain/transport/receipt-access.js";
import { printable, tokenizerFor } from "../../offchain/cli/job-result.js";
import { E18, HOUR, HOURLY_PARAMS, bondVerifiers, deployTestPool } from "../worker/helpers.js";
import { POC_BIN, poc as pocAsync } from "../poc-cli.js";
import { serveJsonRpc } from "../../scripts/lib/rpc-server.js";

const NO_ENV = { POC_PRIVATE_KEY: "", POC_RPC_URL: "", POC_DEPLOYMENT: "", POC_POOL_ADDRESS: "" };
const poc = (...args: string[]) => pocAsync(args, NO_ENV);

const connection = await network.create();
const { ethers, networkHelpers } = connection;

describe("poc job result / job status answer / receipts serve --store", function () {
  this.timeout(180_000);
  let tmp: string;
  let rpc: Awaited<ReturnType<typeof serveJsonRpc>>;
  let client: PoolClient;
  let chain: string[];
  let model: LoadedModel;
  let gen: ReceiptServer;
  let jobId: bigint;
  let root: string;
  let tokens: number[];
  let text: string;
  const modelDir = () => join(tmp, "models", "tiny");

  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), "poc-job-result-"));
    await buildModel(modelDir(), { preset: "tiny" });
    model = await loadModel(modelDir(), { threads: 1 });
    const signers = await ethers.getSigners();
    const [owner, user, generator] = signers;
    const deployed = await deployTestPool(ethers, owner!.address, HOURLY_PARAMS);
    client = await PoolClient.create({ runner: owner!, pool: deployed.poolAddress, deployBlock: deployed.deployBlock, pollMs: 20 });
    await bondVerifiers(client, signers.slice(6, 11), [model.modelId], 50n * E18);
    rpc = await serveJsonRpc(connection.provider);
    chain = ["--rpc", rpc.url, "--pool", client.address, "--deploy-block", String(deployed.deployBlock)];

    // the user opens a job; the generator generates, serves the receipt to the parties only, commits
    const tok = await tokenizerFor(modelDir(), model.modelId);
    const req = parseJobRequest({
      version: 1,
      modelId: model.modelId,
      promptTokens: tok.encode("Hello", { addSpecialTokens: true }),
      decoding: { seed: 1, temperature: 0, topK: 0, topP: 1, maxTokens: 8, stopAtEos: false },
      sampler: { ratePpm: 250_000, layersPerToken: 2, scope: "all" },
    });
    for (const s of [user!, generator!]) await client.mintTestTokens(s.address, 1000n * E18);
    const opened = await client.connect(user!).openJob({ generator: generator!.address, modelId: model.modelId, cg: 10n * E18, cv: 2n * E18, requestHash: requestHash(req), requestUri: requestToDataUri(req), approve: true });
    jobId = opened.jobId;
    const g = await generate(model, { promptTokens: req.promptTokens, decoding: req.decoding, sampler: { ...req.sampler, seed: samplerSeedFor({ chainId: client.chainId, pool: client.address, jobId }) } });
    const genStore = new ReceiptStore(join(tmp, "gen-store"));
    root = await genStore.put(g.bytes);
    gen = await serveReceipts(genStore, { authorize: receiptAuthorizer(client) });
    await client.connect(generator!).commit(jobId, { receiptRoot: root, numChecks: numChecks(g.receipt), receiptUri: receiptUrl(gen.url, root, jobId), approve: true });
    tokens = g.receipt.outputTokens;
    text = tok.decode(tokens);
  });
  after(async () => {
    await gen?.close().catch(() => {});
    await rpc?.close();
    await model?.release().catch(() => {});
    await rm(tmp, { recursive: true, force: true });
  });

  it("fetches the receipt signed as the user, checks it, decodes the text, saves it to the user's store; a stranger is refused", async () => {
    const userStore = join(tmp, "user-store");
    const r = await poc("job", "result", String(jobId), ...chain, "--account", "1", "--model", modelDir(), "--store", userStore, "--json");
    expect(r.status, r.stderr).to.equal(0);
    const j = JSON.parse(r.stdout) as Record<string, unknown> & { trust: { verdict: string; final: boolean; trusted: unknown; message: string } };
    expect(j).to.include({ jobId: String(jobId), state: "Committed", receiptRoot: root, source: "uri", text, answersRequest: true, finishReason: "length" });
    expect(j.tokens).to.deep.equal(tokens);
    expect(j.trust).to.include({ verdict: "unchallenged", final: false, trusted: null });
    expect(j.trust.message).to.match(/^not challenged; final after \d{4}-\d\d-\d\dT/);
    expect(await new ReceiptStore(userStore).has(root), "saved to the user's store").to.equal(true);

    const stranger = await poc("job", "result", String(jobId), ...chain, "--account", "5", "--store", join(tmp, "stranger-store"));
    expect(stranger.status).to.equal(1);
    expect(stranger.stderr).to.match(/HTTP 403/);
    expect(stranger.stderr).to.match(/is not a party of job/);
    expect(stranger.stderr).to.not.match(/\n\s+at /);
  });

  it("with the generator's server gone: job result and job status read the user's store; receipts serve --store serves it to the parties only", async () => {
    await gen.close();
    const userStore = join(tmp, "user-store");
    const r = await poc("job", "result", String(jobId), ...chain, "--store", userStore);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.include(`receipt     ${root} (from the store`);
    expect(r.stdout).to.match(/give --model DIR/);
    expect(r.stdout).to.include(`tokens      ${tokens.join(",")}`);
    expect(r.stdout).to.match(/trust {7}not challenged; final after/);

    const s = await poc("job", "status", String(jobId), ...chain, "--store", userStore, "--model", modelDir());
    expect(s.status, s.stderr).to.equal(0);
    expect(s.stdout).to.include(`  answer      ${printable(text)}`);
    const sj = JSON.parse((await poc("job", "status", String(jobId), ...chain, "--store", userStore, "--json")).stdout) as { answer: { tokens: number[]; text: unknown } };
    expect(sj.answer).to.deep.equal({ tokens, text: null });
    const missing = await poc("job", "status", String(jobId), ...chain, "--store", join(tmp, "empty"));
    expect(missing.stdout).to.match(/answer +not in .* yet: `poc job result/);

    // the user's copy as a mirror for the job's verifiers
    const child = spawn(process.execPath, [POC_BIN, "receipts", "serve", "--store", userStore, "--port", "0", ...chain], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...NO_ENV } });
    try {
      let timer: NodeJS.Timeout | undefined;
      const url = await new Promise<string>((ok, fail) => {
        let out = "";
        child.stdout.setEncoding("utf8").on("data", (d: string) => {
          out += d;
          const m = /at (http:\/\/127\.0\.0\.1:\d+)\/receipts/.exec(out);
          if (m) ok(m[1]!);
        });
        child.on("close", (c) => fail(new Error(`receipts serve exited ${c}`)));
        timer = setTimeout(() => fail(new Error("receipts serve did not start")), 60_000);
      }).finally(() => clearTimeout(timer));
      const at = receiptUrl(url, root, jobId);
      expect((await fetch(at)).status).to.equal(401);
      const [, user, , , , stranger] = await ethers.getSigners();
      const scope = { chainId: client.chainId, pool: client.address, jobId };
      expect((await fetch(at, { headers: { authorization: await signAccess(stranger!, scope) } })).status).to.equal(403);
      const ok = await fetch(at, { headers: { authorization: await signAccess(user!, scope) } });
      expect(ok.status).to.equal(200);
      expect((await ok.arrayBuffer()).byteLength).to.be.greaterThan(0);
      // and the CLI fetch signs as a party when given --job
      const f = await poc("receipts", "fetch", url, "--root", root, "--job", String(jobId), ...chain, "--account", "1");
      expect(f.status, f.stderr).to.equal(0);
      expect(f.stdout).to.match(new RegExp(`^ok ${root}`));
      const unsigned = await poc("receipts", "fetch", url, "--root", root);
      expect(unsigned.status).to.equal(1);
      expect(unsigned.stderr).to.match(/HTTP 401/);
    } finally {
      if (child.exitCode === null && child.signalCode === null) {
        const closed = new Promise((ok) => child.once("close", ok));
        child.kill("SIGTERM");
        await closed;
      }
    }
  });

  it("after the challenge window and a finalize the answer is final", async () => {
    await networkHelpers.time.increase(HOUR + 1);
    await client.finalize(jobId);
    const r = await poc("job", "result", String(jobId), ...chain, "--store", join(tmp, "user-store"), "--json");
    expect(r.status, r.stderr).to.equal(0);
    const j = JSON.parse(r.stdout) as { state: string; source: string; trust: { verdict: string; final: boolean; trusted: unknown } };
    expect(j.state).to.equal("Finalized");
    expect(j.source).to.equal("store");
    expect(j.trust).to.include({ verdict: "finalized", final: true, trusted: true });
    const bad = await poc("job", "result", "99", ...chain);
    expect(bad.status).to.equal(1);
    expect(bad.stderr).to.match(/job 99 does not exist/);
  });
});
