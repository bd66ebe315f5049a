/**
 * The operator test (issue 12): the real processes, each started the way README tells an operator —
 * `npx poc node` (Hardhat's node) on a free port, the pool deployed to it, a generator and three verifier workers
 * started with `npx poc worker …` (maxStages = 1: a model needs maxStages + 2 = 3 verifiers). It kills
 * a verifier worker by the pid its launcher reports and checks that nothing of it is left running,
 * restarts it on the same state, then restarts the node and redeploys the pool at the same address,
 * and checks that every job settles as the paper says and that no verifier forfeits its stake.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect } from "chai";
import { network } from "hardhat";
import { JobState, PoolClient } from "../../offchain/chain/index.js";
import { buildModel, modelIdOf } from "../../offchain/model/index.js";
import { lockFileName } from "../../offchain/worker/lock.js";
import { paramsStruct, type PoolParams } from "../../scripts/lib/params.js";
import { deployStakePool } from "../../scripts/lib/pool-deploy.js";
import { waitFor } from "../worker/helpers.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const NODE22_BIN = join(ROOT, "node_modules", "node", "bin");
const E18 = 10n ** 18n;
const PARAMS: PoolParams = {
  alphaBps: 10_000,
  betaBps: 20_000,
  commitWindow: 3600,
  challengeWindow: 3600,
  verifyWindow: 3600,
  drawWindow: 3600,
  maxStages: 1,
  unbondDelay: 3600,
  minBond: 100n * E18,
  minModelStake: 300n * E18,
  maxStakeBps: 2_500,
  declineFeeBps: 1_000,
};
const VERIFIER_ACCOUNTS = [3, 4, 5];

async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once("error", fail);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => ok(port));
    });
  });
}

/** Pids of running processes whose command line contains `needle` (from /proc). */
async function processesWith(needle: string): Promise<number[]> {
  const out: number[] = [];
  for (const d of await readdir("/proc")) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      const cmd = (await readFile(`/proc/${d}/cmdline`, "utf8")).split("\0").join(" ");
      const stat = await readFile(`/proc/${d}/stat`, "utf8");
      if (cmd.includes(needle) && !/\) Z /.test(stat)) out.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

interface Proc {
  child: ChildProcess;
  out: () => string;
  exited: Promise<number | null>;
}

/** `npx <args>` as an operator's shell starts it (the project's Node 22 first on PATH), output kept. */
function npx(args: string[]): Proc {
  // No chain settings from the environment: every command names its own.
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${NODE22_BIN}:${process.env.PATH ?? ""}`, POC_DEBUG: "" };
  for (const k of ["POC_PRIVATE_KEY", "POC_RPC_URL", "POC_DEPLOYMENT", "POC_POOL_ADDRESS"]) delete env[k];
  const child = spawn("npx", args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], env });
  let out = "";
  child.stdout!.setEncoding("utf8").on("data", (d: string) => (out += d));
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (out += d));
  const exited = new Promise<number | null>((ok) => child.on("exit", (code) => ok(code)));
  return { child, out: () => out, exited };
}

describe("operator: real processes survive kills, restarts and a redeployed pool", function () {
  this.timeout(420_000);
  let tmp: string;
  let port: number;
  let url: string;
  let modelsDir: string;
  let modelId: string;
  let node: Proc | undefined;
  let generator: Proc | undefined;
  const verifiers = new Map<number, Proc>();
  let conn: Awaited<ReturnType<typeof network.create>> | undefined;
  let client: PoolClient;
  let pool: { address: string; deployBlock: number };

  const chainArgs = () => ["--rpc", url, "--pool", pool.address, "--deploy-block", String(pool.deployBlock)];
  const stateOf = (account: number) => join(tmp, `state-v${account}`);

  async function startNode(): Promise<void> {
    node = npx(["poc", "node", "--hostname", "127.0.0.1", "--port", String(port)]);
    await waitFor(
      "the hardhat node to answer",
      async () => {
        if (node!.child.exitCode !== null) throw new Error(`hardhat node exited: ${node!.out()}`);
        try {
          const r = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }) });
          return r.ok;
        } catch {
          return false;
        }
      },
      90_000,
      250,
    );
  }

  /** Token, randomness and pool from account 0 (the same addresses on a fresh node); the verifiers and the user get tokens. */
  async function deploy(): Promise<void> {
    await conn?.close();
    conn = await network.create({ network: "localhost", override: { url } });
    const { ethers } = conn;
    const [owner] = await ethers.getSigners();
    const token = await ethers.deployContract("TestToken", [], owner);
    const rnd = await ethers.deployContract("FutureBlockRandomness", [], owner);
    const c = await deployStakePool(ethers, [await token.getAddress(), owner!.address, paramsStruct(PARAMS), await rnd.getAddress(), owner!.address], owner);
    const receipt = await c.deploymentTransaction()!.wait();
    pool = { address: await c.getAddress(), deployBlock: receipt!.blockNumber };
    client = await PoolClient.create({ runner: owner!, pool: pool.address, deployBlock: pool.deployBlock, pollMs: 100 });
    const signers = await ethers.getSigners();
    for (const n of [2, ...VERIFIER_ACCOUNTS]) await client.mintTestTokens(signers[n]!.address, 1_000n * E18);
  }

  function startVerifier(account: number): Proc {
    const p = npx(["poc", "worker", "verifier", "--models", modelsDir, "--state", stateOf(account), "--poll", "200", "--threads", "1", "--dev-mine", "--account", String(account), ...chainArgs()]);
    verifiers.set(account, p);
    return p;
  }

  function startGenerator(): void {
    generator = npx(["poc", "worker", "generator", "--models", modelsDir, "--store", join(tmp, "g-store"), "--state", join(tmp, "g-state"), "--poll", "200", "--threads", "1", "--mint", "--account", "1", ...chainArgs()]);
  }

  async function modelServed(): Promise<boolean> {
    const s = await client.modelStake(modelId);
    return s.verifiers >= VERIFIER_ACCOUNTS.length && s.total >= PARAMS.minModelStake;
  }

  /** A job opened, committed, challenged and settled through the CLI and the workers. */
  async function challengedJob(prompt: string): Promise<{ jobId: bigint; outcome: JobState }> {
    const open = npx(["poc", "job", "open", "--generator", await generatorAddress(), "--model", join(modelsDir, "tiny"), "--prompt", prompt, "--max-tokens", "8", "--cg", "100", "--cv", "10", "--mint", "--account", "2", "--json", ...chainArgs()]);
    expect(await open.exited, open.out()).to.equal(0);
    const jobId = BigInt((JSON.parse(open.out().slice(open.out().indexOf("{"))) as { jobId: string }).jobId);
    await waitFor(`job ${jobId} committed`, async () => (await client.getJob(jobId)).state === JobState.Committed, 120_000, 250);
    const ch = npx(["poc", "job", "challenge", String(jobId), "--account", "2", ...chainArgs()]);
    expect(await ch.exited, ch.out()).to.equal(0);
    const final = new Set([JobState.GeneratorUpheld, JobState.VerifierUpheld, JobState.Stalemate, JobState.Unverified, JobState.GeneratorForfeited]);
    const job = await waitFor(`job ${jobId} settled`, async () => {
      const j = await client.getJob(jobId);
      return final.has(j.state) ? j : undefined;
    }, 180_000, 250);
    return { jobId, outcome: job.state };
  }

  let genAddr: string | undefined;
  async function generatorAddress(): Promise<string> {
    genAddr ??= (await conn!.ethers.getSigners())[1]!.address;
    return genAddr;
  }

  /** No verifier of the job timed out or was slashed for not answering. */
  async function forfeits(jobId: bigint): Promise<string[]> {
    return (await client.jobEvents(jobId)).filter((e) => e.name === "VerifierTimedOut" || e.name === "VerifierDeclined").map((e) => e.name);
  }

  before(async function () {
    tmp = await mkdtemp(join(tmpdir(), "poc-operator-"));
    modelsDir = join(tmp, "models");
    await buildModel(join(modelsDir, "tiny"), { preset: "tiny" });
    modelId = await modelIdOf(join(modelsDir, "tiny"));
    port = await freePort();
    url = `http://127.0.0.1:${port}`;
    await startNode();
    await deploy();
  });

  after(async function () {
    // POC_OPERATOR_LOGS=DIR keeps every process's output (for a failing run)
    const logs = process.env.POC_OPERATOR_LOGS;
    if (logs) {
      const { mkdir, writeFile } = await import("node:fs/promises");
      await mkdir(logs, { recursive: true });
      await writeFile(join(logs, "generator.log"), generator?.out() ?? "");
      for (const [a, p] of verifiers) await writeFile(join(logs, `verifier-${a}.log`), p.out());
    }
    for (const p of [generator, ...verifiers.values(), node]) if (p && p.child.exitCode === null) p.child.kill("SIGKILL");
    await conn?.close();
    // the workers' processes, if a launcher left any behind
    // (one may exit between the listing and the kill, e.g. a worker whose launcher was just killed)
    for (const pid of [...(await processesWith(tmp)), ...(await processesWith(`--port ${port}`))])
      try {
        process.kill(pid, "SIGKILL");
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "ESRCH") throw e;
      }
    await rm(tmp, { recursive: true, force: true });
  });

  it("the workers bond, declare the model and settle a challenged job", async function () {
    startGenerator();
    for (const a of VERIFIER_ACCOUNTS) startVerifier(a);
    await waitFor("three verifiers serving the model", modelServed, 120_000, 250);
    const { jobId, outcome } = await challengedJob("operators leave it running");
    expect(outcome, JobState[outcome]).to.equal(JobState.GeneratorUpheld);
    expect(await forfeits(jobId)).to.deep.equal([]);
  });

  it("kill PID of `npx poc worker verifier` stops the worker itself; a restart on the same state takes over", async function () {
    const account = VERIFIER_ACCOUNTS[0]!;
    const p = verifiers.get(account)!;
    const lock = join(stateOf(account), lockFileName("verifier", (await conn!.ethers.getSigners())[account]!.address));
    expect(existsSync(lock), `lock ${lock}`).to.equal(true);
    const pid = p.child.pid!;
    process.kill(pid, "SIGTERM");
    const code = await Promise.race([p.exited, new Promise<"hung">((ok) => setTimeout(() => ok("hung"), 20_000))]);
    expect(code, p.out()).to.not.equal("hung");
    expect(alive(pid)).to.equal(false);
    // nothing started for this worker is left running (the launcher's children included)
    await waitFor("the worker's processes to end", async () => (await processesWith(stateOf(account))).length === 0, 10_000, 100);
    expect(existsSync(lock), "the lock is released on SIGTERM").to.equal(false);
    const again = startVerifier(account);
    await waitFor("the restarted worker to take the lock", () => existsSync(lock), 60_000, 100);
    expect(again.child.exitCode).to.equal(null);
  });

  it("kill PID of `npx poc node` stops the node itself", async function () {
    // (`npx hardhat node &` then `kill $!` would leave the node running: npm does not pass the signal on)
    const pid = node!.child.pid!;
    process.kill(pid, "SIGTERM");
    const code = await Promise.race([node!.exited, new Promise<"hung">((ok) => setTimeout(() => ok("hung"), 20_000))]);
    expect(code, node!.out()).to.not.equal("hung");
    await waitFor("the node's processes to end", async () => (await processesWith(`--port ${port}`)).length === 0, 10_000, 100);
  });

  it("after the node restarts and the pool is redeployed at the same address, new jobs settle and nobody forfeits", async function () {
    const before = pool.address;
    await startNode();
    await deploy();
    expect(pool.address, "same deployer, same nonce: the same address").to.equal(before);
    // The workers notice the new chain (fresh state, the old one kept aside), bond and declare again.
    await waitFor("three verifiers serving the model on the new chain", modelServed, 120_000, 250);
    for (const prompt of ["the node was restarted", "and the pool redeployed"]) {
      const { jobId, outcome } = await challengedJob(prompt);
      expect(outcome, `job ${jobId}: ${JobState[outcome]}`).to.equal(JobState.GeneratorUpheld);
      expect(await forfeits(jobId), `job ${jobId}`).to.deep.equal([]);
    }
    // the old chain's state was kept aside, not reused
    for (const a of VERIFIER_ACCOUNTS) {
      const entries = await readdir(stateOf(a));
      expect(entries.some((e) => /\.(node-restarted|pool-redeployed|pool-gone)-/.test(e)), `${stateOf(a)}: ${entries.join(", ")}`).to.equal(true);
    }
    for (const p of [generator!, ...verifiers.values()]) expect(p.child.exitCode, p.out().slice(-2000)).to.equal(null);
  });
});
