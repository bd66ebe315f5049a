/**
 * The user's commands and the generator worker as separate processes (`node bin/poc.js …`) over
 * JSON-RPC, against Hardhat's in-process network served over HTTP by this test (the node's accounts
 * are unlocked, as with `npx hardhat node`): job open → worker generator --once commits → job status →
 * job challenge → an in-process verifier worker replays → job status shows the stage and payouts →
 * withdraw; a finalize after the challenge window; and bad input answered with a clear message.
 */
import { expect } from "chai";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { network } from "hardhat";
import { JobState, PoolClient } from "../../offchain/chain/index.js";
import { buildModel } from "../../offchain/model/index.js";
import { createLogger } from "../../offchain/worker/log.js";
import { startVerifierWorker } from "../../offchain/worker/verifier.js";
import { paramsStruct } from "../../scripts/lib/params.js";
import { E18, HOUR, HOURLY_PARAMS } from "../worker/helpers.js";
import { poc as pocAsync } from "../poc-cli.js";

/** The CLI with no chain settings from the environment: every test names its own. */
const poc = (...args: string[]) => pocAsync(args, { POC_PRIVATE_KEY: "", POC_RPC_URL: "", POC_DEPLOYMENT: "", POC_POOL_ADDRESS: "" });

const connection = await network.create();
const { ethers, networkHelpers } = connection;

/** JSON-RPC over HTTP in front of the in-process provider (single requests and batches). */
async function serveRpc(): Promise<{ url: string; server: Server }> {
  const one = async (b: { id?: unknown; method?: string; params?: unknown[] }) => {
    try {
      const result = await connection.provider.request({ method: String(b.method), params: b.params ?? [] });
      return { jsonrpc: "2.0", id: b.id ?? null, result: result ?? null };
    } catch (e) {
      const err = e as { code?: unknown; message?: string; data?: unknown };
      return {
        jsonrpc: "2.0",
        id: b.id ?? null,
        error: {
          code: typeof err.code === "number" ? err.code : -32603,
          message: err.message ?? String(e),
          ...(err.data !== undefined ? { data: err.data } : {}),
        },
      };
    }
  };
  const server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8").on("data", (d: string) => (body += d));
    req.on("end", () => {
      void (async () => {
        const parsed = JSON.parse(body) as unknown;
        const out = Array.isArray(parsed) ? await Promise.all(parsed.map(one)) : await one(parsed as { method?: string });
        res.setHeader("content-type", "application/json");
        res.end(JSON.stringify(out, (_k, v: unknown) => (typeof v === "bigint" ? `0x${v.toString(16)}` : v)));
      })();
    });
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

describe("poc job / withdraw / worker generator CLI over JSON-RPC", function () {
  this.timeout(240_000);
  let tmp: string;
  let rpc: { url: string; server: Server };
  let client: PoolClient;
  let chain: string[];
  let genAddress: string;
  let verifierAddress: string;

  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), "poc-job-cli-"));
    await buildModel(join(tmp, "models", "tiny"), { preset: "tiny" });
    const signers = await ethers.getSigners();
    const [owner, , gen, v] = signers;
    genAddress = gen!.address;
    verifierAddress = v!.address;
    const token = await ethers.deployContract("TestToken");
    const rnd = await ethers.deployContract("MockRandomness");
    const pool = await ethers.deployContract("StakePool", [await token.getAddress(), owner!.address, paramsStruct(HOURLY_PARAMS), await rnd.getAddress()]);
    const deployBlock = (await pool.deploymentTransaction()!.wait())!.blockNumber;
    client = await PoolClient.create({ runner: owner!, pool: await pool.getAddress(), deployBlock, pollMs: 20 });
    await client.mintTestTokens(verifierAddress, 100n * E18);
    await client.connect(v!).bond(50n * E18, { approve: true });
    rpc = await serveRpc();
    chain = ["--rpc", rpc.url, "--pool", client.address, "--deploy-block", String(deployBlock)];
  });
  after(async () => {
    rpc?.server.closeAllConnections();
    rpc?.server.close();
    await rm(tmp, { recursive: true, force: true });
  });

  const generatorOnce = () =>
    poc(
      "worker",
      "generator",
      ...chain,
      "--account",
      "2",
      "--models",
      join(tmp, "models"),
      "--store",
      join(tmp, "store"),
      "--state",
      join(tmp, "gen-state"),
      "--mint",
      "--once",
      "--poll",
      "100"
    );

  it("open → generator commits → status → challenge → a verifier replays → status with the stage and payouts → withdraw", async () => {
    const open = await poc(
      "job",
      "open",
      ...chain,
      "--account",
      "1",
      "--generator",
      genAddress,
      "--model",
      join(tmp, "models", "tiny"),
      "--prompt",
      "Hello",
      "--max-tokens",
      "8",
      "--cg",
      "10",
      "--cv",
      "2",
      "--mint",
      "--json"
    );
    expect(open.status, open.stderr).to.equal(0);
    const opened = JSON.parse(open.stdout) as { jobId: string; alphaCg: string; promptTokens: number };
    expect(opened.jobId).to.equal("1");
    expect(opened.alphaCg).to.equal((10n * E18).toString());
    expect(opened.promptTokens).to.equal(6); // <bos> + 5 bytes

    const g = await generatorOnce();
    expect(g.status, g.stderr).to.equal(0);
    expect(g.stderr).to.match(/job 1: committed/);
    expect(g.stderr).to.match(/committed 1, skipped 0, failed 0/);

    const s1 = await poc("job", "status", "1", ...chain);
    expect(s1.status, s1.stderr).to.equal(0);
    expect(s1.stdout).to.match(/job 1: Committed/);
    expect(s1.stdout).to.match(/the user may challenge until/);

    const ch = await poc("job", "challenge", "1", ...chain, "--account", "1");
    expect(ch.status, ch.stderr).to.equal(0);
    expect(ch.stdout).to.include(`stage 1: verifier ${verifierAddress} drawn`);

    // The generator's receipt server stopped with `--once`: the verifier reads the receipt from its store
    // (it checks it against the committed root all the same).
    const w = await startVerifierWorker({
      client: client.connect((await ethers.getSigners())[3]!),
      modelsDir: join(tmp, "models"),
      stateDir: join(tmp, "v-state"),
      store: join(tmp, "store"),
      pollMs: 50,
      logger: createLogger({ format: "silent" }),
    });
    await w.idle();
    await w.stop();
    expect((await client.getJob(1n)).state).to.equal(JobState.GeneratorUpheld);

    const s2 = await poc("job", "status", "1", ...chain);
    expect(s2.stdout).to.match(/job 1: GeneratorUpheld/);
    expect(s2.stdout).to.match(new RegExp(`stage 1 +verifier ${verifierAddress} agrees with the generator`));
    expect(s2.stdout).to.match(/generator +30\b/);
    expect(s2.stdout).to.match(/total +36 = everything the job held/);
    const js = JSON.parse((await poc("job", "status", "1", ...chain, "--json")).stdout) as { state: string; stages: { result: { kind: string } }[] };
    expect(js.state).to.equal("GeneratorUpheld");
    expect(js.stages.map((x) => x.result.kind)).to.deep.equal(["agreesWithGenerator"]);

    const wd = await poc("withdraw", ...chain, "--account", "2");
    expect(wd.status, wd.stderr).to.equal(0);
    expect(wd.stdout).to.match(new RegExp(`${genAddress} withdrew 30 `));
    const again = await poc("withdraw", ...chain, "--account", "2");
    expect(again.stdout).to.match(/has no credit to withdraw/);
  });

  it("an unchallenged job is finalized by anyone after the window; early, the revert is explained", async () => {
    const open = await poc(
      "job",
      "open",
      ...chain,
      "--account",
      "1",
      "--generator",
      genAddress,
      "--model",
      join(tmp, "models", "tiny"),
      "--prompt-tokens",
      "256,72,105",
      "--max-tokens",
      "6",
      "--cg",
      "10",
      "--cv",
      "2",
      "--mint"
    );
    expect(open.status, open.stderr).to.equal(0);
    expect(open.stdout).to.match(/^job 2 opened/m);
    expect((await generatorOnce()).status).to.equal(0);
    const early = await poc("job", "finalize", "2", ...chain, "--account", "5");
    expect(early.status).to.equal(1);
    expect(early.stderr).to.match(/finalize\(job 2\) reverted: StakePoolDeadlineNotReached/);
    await networkHelpers.time.increase(HOUR + 1);
    const fin = await poc("job", "finalize", "2", ...chain, "--account", "5");
    expect(fin.status, fin.stderr).to.equal(0);
    expect(fin.stdout).to.match(/generator credited 30, user credited 2/);
  });

  it("bad input: a clear message and exit status 1", async () => {
    const [noModel, badGen, badJob, noAccount, badAmount] = await Promise.all([
      poc(
        "job",
        "open",
        ...chain,
        "--account",
        "1",
        "--generator",
        genAddress,
        "--model-id",
        "0x" + "11".repeat(32),
        "--prompt",
        "hi",
        "--max-tokens",
        "4",
        "--cg",
        "1",
        "--cv",
        "1"
      ),
      poc(
        "job",
        "open",
        ...chain,
        "--account",
        "1",
        "--generator",
        "0x1234",
        "--model",
        join(tmp, "models", "tiny"),
        "--prompt",
        "hi",
        "--max-tokens",
        "4",
        "--cg",
        "1",
        "--cv",
        "1"
      ),
      poc("job", "status", "abc", ...chain),
      poc("job", "challenge", "1", ...chain),
      poc(
        "job",
        "open",
        ...chain,
        "--account",
        "1",
        "--generator",
        genAddress,
        "--model",
        join(tmp, "models", "tiny"),
        "--prompt",
        "hi",
        "--max-tokens",
        "4",
        "--cg",
        "ten",
        "--cv",
        "1"
      ),
    ]);
    expect(noModel.status).to.equal(1);
    expect(noModel.stderr).to.match(/--prompt needs --model DIR/);
    expect(badGen.status).to.equal(1);
    expect(badGen.stderr).to.match(/must be an address/);
    expect(badJob.status).to.equal(1);
    expect(badJob.stderr).to.match(/JOB must be a job id/);
    expect(noAccount.status).to.equal(1);
    expect(noAccount.stderr).to.match(/no account/);
    expect(badAmount.status).to.equal(1);
    expect(badAmount.stderr).to.match(/--cg must be an amount of tokens/);
    for (const r of [noModel, badGen, badJob, noAccount, badAmount]) expect(r.stderr).to.not.match(/\n\s+at /); // no stack trace
  });
});
