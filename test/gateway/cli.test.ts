/**
 * `poc gateway` as a user runs it: a separate process (`node bin/poc.js gateway …`) over JSON-RPC
 * against Hardhat's in-process network served over HTTP by this test, with the account's key
 * (`--account 1`, unlocked as on `npx hardhat node`) and a fake generator (fake-generator.ts) in
 * this process. The openai client and a curl-style request (form content type, as `curl -d` sends)
 * get completions with a proof_of_cache; Ctrl-C stops it with status 0; bad flags fail in one line.
 */
import { expect } from "chai";
import { serveJsonRpc, type RpcServer } from "../../scripts/lib/rpc-server.js";
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { network } from "hardhat";
import OpenAI from "openai";
import { PoolClient } from "../../offchain/chain/index.js";
import { buildModel, loadModel, type LoadedModel } from "../../offchain/model/index.js";
import { ReceiptStore, decodeReceipt } from "../../offchain/receipt/index.js";
import type { ProofOfCache } from "../../offchain/gateway/job-runner.js";
import { E18, WORKER_TEST_PARAMS, bondVerifiers, deployTestPool } from "../worker/helpers.js";
import { POC_BIN, poc } from "../poc-cli.js";
import { startFakeGenerator, type FakeGenerator } from "./fake-generator.js";

const connection = await network.create();
const { ethers } = connection;

/** JSON-RPC over HTTP in front of the in-process provider. */

describe("poc gateway CLI over JSON-RPC", function () {
  this.timeout(180_000);
  let tmp: string;
  let rpc: RpcServer;
  let model: LoadedModel;
  let fake: FakeGenerator;
  let fakeStore: ReceiptStore;
  let chain: string[];
  let child: ChildProcessWithoutNullStreams | undefined;

  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), "poc-gateway-cli-"));
    await buildModel(join(tmp, "models", "tiny"), { preset: "tiny" });
    model = await loadModel(join(tmp, "models", "tiny"), { threads: 1 });
    const signers = await ethers.getSigners();
    const owner = signers[0]!;
    const d = await deployTestPool(ethers, owner.address, WORKER_TEST_PARAMS);
    const client = await PoolClient.create({ runner: ethers.provider, pool: d.poolAddress, deployBlock: d.deployBlock, pollMs: 20 });
    await bondVerifiers(client, signers.slice(3, 8), [model.modelId]);
    await client.connect(owner).mintTestTokens(signers[10]!.address, 1000n * E18);
    fakeStore = new ReceiptStore(join(tmp, "gen"));
    fake = await startFakeGenerator({ client: client.connect(signers[10]!), model, store: fakeStore });
    rpc = await serveJsonRpc(connection.provider);
    chain = ["--rpc", rpc.url, "--pool", d.poolAddress, "--deploy-block", String(d.deployBlock)];
  });
  after(async () => {
    if (child && child.exitCode === null) child.kill("SIGKILL");
    await fake?.close();
    await rpc?.close();
    await model?.release();
    await rm(tmp, { recursive: true, force: true });
  });

  it("serves completions with a proof_of_cache to the openai client and to curl -d, and stops on Ctrl-C", async () => {
    const args = [POC_BIN, "gateway", ...chain, "--account", "1", "--model", join(tmp, "models", "tiny"), "--generator", `${fake.address}=${fake.url}`];
    args.push("--price-per-token", "0.1", "--port", "0", "--max-tokens", "6", "--mint", "--store", join(tmp, "gw-receipts"), "--log", "json");
    const proc = spawn(process.execPath, args, { env: { ...process.env, POC_DEBUG: "", POC_PRIVATE_KEY: "", POC_RPC_URL: "", POC_DEPLOYMENT: "", POC_POOL_ADDRESS: "" } });
    child = proc;
    let stdout = "";
    let stderr = "";
    proc.stdout.setEncoding("utf8").on("data", (s: string) => (stdout += s));
    proc.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s));
    const exited = new Promise<number | null>((ok) => proc.on("close", (code) => ok(code)));
    const start = Date.now();
    while (!/API on (http:\/\/\S+)\/v1/.test(stdout)) {
      if (proc.exitCode !== null) expect.fail(`the gateway exited: ${stderr}`);
      if (Date.now() - start > 90_000) expect.fail(`no start line: ${stdout} ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const url = /API on (http:\/\/\S+)\/v1/.exec(stdout)![1]!;
    expect(stdout).to.include(`curl -s ${url}/v1/chat/completions`);

    const openai = new OpenAI({ baseURL: `${url}/v1`, apiKey: "unused", maxRetries: 0 });
    const c = await openai.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: "Hi" }] });
    const poc1 = (c as unknown as { proof_of_cache: ProofOfCache }).proof_of_cache;
    expect(poc1.jobId).to.match(/^\d+$/);
    const receipt = decodeReceipt(await fakeStore.get(poc1.receiptRoot!));
    expect(receipt.decoding.maxTokens).to.equal(6); // --max-tokens is the default
    expect(c.choices[0]!.message.content).to.equal(model.tokenizer.decode(receipt.outputTokens));
    expect(await new ReceiptStore(join(tmp, "gw-receipts")).has(poc1.receiptRoot!)).to.equal(true); // the gateway's own copy

    // what the curl line sends: no JSON content type
    const res = await fetch(`${url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: JSON.stringify({ model: "tiny", messages: [{ role: "user", content: "Hi" }] }),
    });
    expect(res.status).to.equal(200);
    const body = (await res.json()) as { proof_of_cache: ProofOfCache };
    expect(BigInt(body.proof_of_cache.jobId)).to.equal(BigInt(poc1.jobId) + 1n);

    proc.kill("SIGINT");
    expect(await exited).to.equal(0);
    expect(stderr).to.match(/"event":"opened"/);
  });

  it("refuses bad flags in one line before connecting", async () => {
    const r = await poc(["gateway", "--model", join(tmp, "models", "tiny"), "--price-per-token", "lots", ...chain]);
    expect(r.status).to.equal(1);
    expect(r.stderr.trim()).to.equal("error: --price-per-token must be an amount of tokens, e.g. 0.01");
    const g = await poc(["gateway", "--model", join(tmp, "models", "tiny"), "--price-per-token", "1", "--generator", "nope", "--account", "1", ...chain]);
    expect(g.status).to.equal(1);
    expect(g.stderr).to.match(/^error: --generator nope: expected ADDRESS=URL\[,PRICE\]/);
  });
});
