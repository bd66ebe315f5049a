/**
 * `poc job open --direct URL` and `poc job deliver` as a user runs them (`node bin/poc.js …` over
 * JSON-RPC against Hardhat's in-process network), with an in-process generator server and worker: the
 * private job's request is POSTed and the job committed; when the generator cannot be reached the job
 * stays open, the command says how to retry and fails, and the printed `job deliver` line (pointed at
 * the right server) delivers it; `job deliver` with other request options is refused before any POST.
 */
import { expect } from "chai";
import { serveJsonRpc, type RpcServer } from "../../scripts/lib/rpc-server.js";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { network } from "hardhat";
import { JobState, PoolClient } from "../../offchain/chain/index.js";
import { buildModel, modelIdOf } from "../../offchain/model/index.js";
import { ReceiptStore, serveReceipts, type ReceiptServer } from "../../offchain/receipt/index.js";
import { startGeneratorWorker, type GeneratorWorker } from "../../offchain/worker/generator.js";
import { createLogger } from "../../offchain/worker/log.js";
import { RequestIntake } from "../../offchain/transport/intake.js";
import { JobEventLog } from "../../offchain/transport/job-events.js";
import { GeneratorRoutes, routeContextFor } from "../../offchain/transport/generator-routes.js";
import { E18, HOURLY_PARAMS, bondVerifiers, deployTestPool } from "../worker/helpers.js";
import { poc as pocAsync } from "../poc-cli.js";

const poc = (...args: string[]) => pocAsync(args, { POC_PRIVATE_KEY: "", POC_RPC_URL: "", POC_DEPLOYMENT: "", POC_POOL_ADDRESS: "" });

const connection = await network.create();
const { ethers } = connection;

/** JSON-RPC over HTTP in front of the in-process provider. */

describe("poc job open --direct / job deliver", function () {
  this.timeout(240_000);
  let tmp: string;
  let rpc: RpcServer;
  let genServer: ReceiptServer;
  let client: PoolClient;
  let chain: string[];
  let genAddress: string;
  let worker: GeneratorWorker;

  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), "poc-job-direct-"));
    await buildModel(join(tmp, "models", "tiny"), { preset: "tiny" });
    const signers = await ethers.getSigners();
    const [owner, , gen] = signers;
    genAddress = gen!.address;
    const deployed = await deployTestPool(ethers, owner!.address, HOURLY_PARAMS);
    client = await PoolClient.create({ runner: owner!, pool: deployed.poolAddress, deployBlock: deployed.deployBlock, pollMs: 20 });
    await client.mintTestTokens(genAddress, 1_000n * E18);
    await bondVerifiers(client, signers.slice(5, 10), [await modelIdOf(join(tmp, "models", "tiny"))], 50n * E18);
    rpc = await serveJsonRpc(connection.provider);
    chain = ["--rpc", rpc.url, "--pool", client.address, "--deploy-block", String(deployed.deployBlock)];
    const routes = new GeneratorRoutes({ intake: new RequestIntake(), events: new JobEventLog() });
    const store = new ReceiptStore(join(tmp, "store"));
    genServer = await serveReceipts(store, { extraRoutes: routes.handle });
    routes.context = await routeContextFor(client.connect(gen!));
    worker = await startGeneratorWorker({
      client: client.connect(gen!),
      models: join(tmp, "models"),
      store,
      receiptBaseUrl: genServer.url,
      stateDir: join(tmp, "gen-state"),
      pollMs: 50,
      intake: routes.intake,
      events: routes.events,
      log: createLogger({ format: "silent" }),
    });
  });
  after(async () => {
    await worker?.stop();
    await genServer?.close();
    await rpc?.close();
    await rm(tmp, { recursive: true, force: true });
  });

  const request = (seed: string) => ["--model", join(tmp, "models", "tiny"), "--prompt-tokens", "256,72,105", "--max-tokens", "4", "--seed", seed];

  it("opens a private job (requestUri poc:direct), delivers the request, and the generator commits it", async () => {
    const r = await poc("job", "open", ...chain, "--account", "1", "--generator", genAddress, ...request("5"), "--cg", "10", "--cv", "2", "--mint", "--direct", genServer.url);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/private {5}only the request's hash is on-chain \(requestUri poc:direct\); the request was delivered to/);
    const jobId = BigInt(/job (\d+) opened/.exec(r.stdout)![1]!);
    expect((await client.jobRecord(jobId)).opened!.requestUri).to.equal("poc:direct");
    await worker.idle();
    expect((await client.getJob(jobId)).state).to.equal(JobState.Committed);
  });

  it("an unreachable generator: the job stays open, the command fails and prints a job deliver line that delivers it; other options are refused", async () => {
    const dead = "http://127.0.0.1:9";
    const r = await poc("job", "open", ...chain, "--account", "1", "--generator", genAddress, ...request("6"), "--cg", "10", "--cv", "2", "--mint", "--direct", dead);
    expect(r.status).to.equal(1);
    expect(r.stdout).to.match(/NOT delivered to http:\/\/127\.0\.0\.1:9: cannot reach/);
    const jobId = BigInt(/job (\d+) opened/.exec(r.stdout)![1]!);
    const line = /deliver the request again with:\n\s*(.+)/.exec(r.stdout)?.[1];
    if (!line) throw new Error(`no retry line in:\n${r.stdout}`);
    expect(line).to.match(new RegExp(`^npx poc job deliver ${jobId} --direct ${dead.replace(/[.:/]/g, "\\$&")} `));
    expect(line).to.not.match(/--generator|--cg|--mint/);
    expect((await client.getJob(jobId)).state).to.equal(JobState.Open);

    const args = line.split(" ").slice(2).map((a) => (a === dead ? genServer.url : a));
    const seedAt = args.indexOf("--seed") + 1;
    expect(args[seedAt]).to.equal("6");
    const wrong = await poc(...args.map((a, i) => (i === seedAt ? "7" : a)));
    expect(wrong.status).to.equal(1);
    expect(wrong.stderr).to.match(/these options give request hash 0x[0-9a-f]{64}; job \d+ is bound to/);
    const ok = await poc(...args);
    expect(ok.status, ok.stderr).to.equal(0);
    expect(ok.stdout).to.match(new RegExp(`job ${jobId}: request delivered to`));
    await worker.idle();
    expect((await client.getJob(jobId)).state).to.equal(JobState.Committed);
  });
});
