/**
 * The end-to-end demo (issue 5, "The demo"), as a function the script (scripts/demo.ts) and the test
 * (test/demo/demo.test.ts) both run.
 *
 * On one Hardhat network connection (the in-process network, or `--network localhost`) it deploys a
 * TestToken and a StakePool (with the real FutureBlockRandomness source), funds the actors, bonds five
 * honest verifiers (maxStages + 2: the least a model needs before jobs can be opened for it), builds the
 * model (and a substituted one: same preset, other weight seed) into a cache directory, starts the
 * workers in-process — two generator workers (one honest, one cheating with the substituted model)
 * serving their receipts over HTTP, and five verifier workers that declare the model, advance the draw
 * queue and really replay — and runs four jobs with real inference:
 *
 *   1. honest generator, no challenge                → Finalized (Table 1 row 1)
 *   2. honest generator, challenged                  → GeneratorUpheld at stage 1 (row 2)
 *   3. cheating generator, challenged                → VerifierUpheld at stage 2: V2 confirms V1 (row 4)
 *   4. honest generator, challenged, the stage-1 verifier is dishonest (a wrong bitmap)
 *                                                    → GeneratorUpheld at stage 2 (row 3), the liar loses βCv
 *
 * Draws are stake-weighted over the verifiers that declared the model, with the hash of the block after
 * the request as randomness. On this local chain (id 31337) the workers mine a block when the word is
 * still pending (`devMine`: a node that mines only on transactions); once it exists, the picked
 * verifier's worker sees that it is the pick, replays, and draws its own stage in its commitResult (the
 * others leave the draw to it for a grace, then call drawVerifiers themselves).
 *
 * The dishonest verifier D bonds only before job 4 (so jobs 2 and 3 can only draw honest verifiers,
 * whichever the randomness picks), and for job 4's stage-1 draw the owner swaps in a test randomness
 * source (MockRandomness) whose word, chosen in the frozen draw epoch with `drawWordFor`, makes the
 * pool's stake-weighted pick land on D; the real source is put back right after. The stage-2 draw
 * excludes D (an earlier verifier of the job), so an honest verifier follows.
 *
 * Every party's payout (the credit the pool added, read with creditOf before and after) is printed
 * next to the paper's Table 1 value computed independently from α, β, Cg, Cv and k (table1.ts); the
 * result says whether every payout, outcome and verifier result is what the paper says.
 */
import { createWriteStream, type WriteStream } from "node:fs";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import cliProgress from "cli-progress";
import type { Signer } from "ethers";
import type { network } from "hardhat";
import { ContractRevertError, JobState, PoolClient, jobHistory, type JobHistory } from "../../offchain/chain/index.js";
import { buildJobRequest, openJobWithRequest, stageResults, type StageResultRow } from "../../offchain/cli/job.js";
import { PRESETS, buildModel, loadModel, modelIdOf, resolveBuildSpec, countParams, type LoadedModel, type PresetName } from "../../offchain/model/index.js";
import { ReceiptStore, serveReceipts, type ReceiptServer } from "../../offchain/receipt/index.js";
import { GeneratorRoutes } from "../../offchain/transport/generator-routes.js";
import { RequestIntake } from "../../offchain/transport/intake.js";
import { JobEventLog } from "../../offchain/transport/job-events.js";
import { startGeneratorWorker, type GeneratorWorker } from "../../offchain/worker/generator.js";
import { createLogger, type LogRecord, type Logger } from "../../offchain/worker/log.js";
import { LoadedModels } from "../../offchain/worker/models.js";
import { startVerifierWorker, type VerifierWorker } from "../../offchain/worker/verifier.js";
import { DEFAULT_POOL_PARAMS, paramsStruct, type PoolParams } from "../lib/params.js";
import { deployStakePool } from "../lib/pool-deploy.js";
import { table1, type Table1Payouts, type Table1Row } from "./table1.js";

export type Connection = Awaited<ReturnType<typeof network.create>>;

export interface DemoOptions {
  connection: Connection;
  /** Model preset (default "small"; the test uses "tiny"). */
  preset?: PresetName;
  /** Tokens generated per job (default 96). */
  maxTokens?: number;
  /** Where built models are kept and reused (default .poc/demo/models). */
  modelsDir?: string;
  /** Working directory of this run: receipt stores, worker state, worker log (emptied first). */
  workDir?: string;
  /** Where the narrative goes (default console.log). */
  print?: (line: string) => void;
  /** Progress bars (cli-progress) while models run; default: when stdout is a TTY. */
  progressBars?: boolean;
  /** Worker poll interval (default 200 ms). */
  pollMs?: number;
  /** onnxruntime CPU threads (default: its choice). */
  threads?: number;
  /** Longest wait for one job (default 300 s). */
  jobTimeoutMs?: number;
  /**
   * On a node the demo did not start (`--network localhost`): the pool's challenge window in seconds
   * (default 60, the least the pool allows), which job 1 waits out on the node's own clock instead of moving it.
   */
  sharedChallengeWindow?: number;
}

export interface PayoutRow {
  party: string;
  address: string;
  /** What the pool credited in this job (creditOf after − before). */
  credited: bigint;
  /** The paper's Table 1 value. */
  expected: bigint;
  formula: string;
  ok: boolean;
}

export interface DemoJob {
  n: number;
  title: string;
  jobId: bigint;
  /** Outcome state name on-chain and the expected one. */
  outcome: string;
  expectedOutcome: string;
  stages: { stage: number; verifier: string; result: string; matched?: number }[];
  expectedStages: string[];
  payouts: PayoutRow[];
  /** Sum of payouts equals what the job held (from the settlement event). */
  conserved: boolean;
  ok: boolean;
  problems: string[];
  ms: number;
}

export interface DemoResult {
  ok: boolean;
  jobs: DemoJob[];
  timings: { part: string; ms: number }[];
  pool: string;
  deployBlock: number;
  chainId: bigint;
  workDir: string;
  /** Whether the network is a node the demo did not start (fresh accounts, no time travel). */
  shared: boolean;
  /** The actors' addresses by role (user, G, C, V1..V5, D, deployer). */
  accounts: Record<string, string>;
}

const E18 = 10n ** 18n;
const CG = 100n * E18;
/** βCv = 20 ≤ minBond · maxStakeBps / 10⁴ = 25, and βCg = 200 > 2αCv + βCv = 40 (openJob's checks). */
const CV = 10n * E18;
const VERIFIER_BOND = 400n * E18;

const PROMPTS = [
  "Proof of Cache: the generator samples its KV cache while it decodes.",
  "A verifier replays one prefill and compares the sampled keys and values.",
  "A cheap model pretending to be the requested one is caught by the replay.",
  "A lying verifier loses its stake when the next verifier agrees with the generator.",
];

const fmt = (v: bigint) => {
  const s = (Number(v) / 1e18).toFixed(6).replace(/\.?0+$/, "");
  return s === "" ? "0" : s;
};
const secs = (ms: number) => (ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`);

class DemoError extends Error {
  override name = "DemoError";
}

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs: number, step: () => Promise<void>): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    if (await check()) return;
    if (Date.now() - t0 > timeoutMs) throw new DemoError(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`);
    await step();
  }
}

/** A model directory: reused when it is already there (and loads as a model), built otherwise. */
async function ensureModel(dir: string, preset: PresetName, weightSeed: number): Promise<{ dir: string; modelId: string; built: boolean }> {
  try {
    return { dir, modelId: await modelIdOf(dir), built: false };
  } catch {
    const r = await buildModel(dir, { preset, weightSeed }, { force: true });
    return { dir, modelId: r.modelId, built: true };
  }
}

export async function runDemo(o: DemoOptions): Promise<DemoResult> {
  const conn = o.connection;
  const { ethers, networkHelpers } = conn;
  const preset: PresetName = o.preset ?? "small";
  const maxTokens = o.maxTokens ?? 96;
  const modelsDir = o.modelsDir ?? join(".poc", "demo", "models");
  const workDir = o.workDir ?? join(".poc", "demo", "run");
  const print = o.print ?? ((l: string) => console.log(l));
  const bars = o.progressBars ?? Boolean(process.stdout.isTTY);
  const pollMs = o.pollMs ?? 200;
  const jobTimeoutMs = o.jobTimeoutMs ?? 300_000;
  const timings: { part: string; ms: number }[] = [];
  const tStart = performance.now();
  let tPart = performance.now();
  const lap = (part: string) => {
    const now = performance.now();
    timings.push({ part, ms: now - tPart });
    tPart = now;
    return now;
  };

  const started: { stop(): Promise<void> }[] = [];
  const servers: ReceiptServer[] = [];
  const loaded: LoadedModel[] = [];
  let logFile: WriteStream | undefined;
  let multibar: cliProgress.MultiBar | undefined;
  const say = (line: string) => (multibar ? multibar.log(line + "\n") : print(line));

  try {
    await rm(workDir, { recursive: true, force: true });
    await mkdir(workDir, { recursive: true });
    logFile = createWriteStream(join(workDir, "workers.log"));

    // ---------------------------------------------------------------------------------------------
    // 1. Chain
    // ---------------------------------------------------------------------------------------------
    const chainId = (await ethers.provider.getNetwork()).chainId;
    // A node reached over JSON-RPC is one the demo did not start: other people's jobs may run on it,
    // so the demo never moves its clock (job 1's challenge window passes in real time) and acts from
    // fresh accounts funded by the node's first account, not from the accounts everyone shares.
    const shared = conn.networkConfig.type === "http";
    const sharedWindow = o.sharedChallengeWindow ?? 60; // the pool's least challenge window
    print(`Proof of Cache demo — a user buys LLM inferences from generators through the StakePool; when it`);
    print(`doubts a result it challenges, and verifiers drawn by the pool replay the job. Stakes move as the`);
    print(
      `paper's Table 1 says. Network: ${
        shared
          ? `"${conn.networkName}" over JSON-RPC, a node this demo did not start: it uses fresh accounts and leaves the node's clock alone`
          : "Hardhat's in-process network, started by this demo (it moves that network's clock forward where a window has to pass)"
      }, chain ${chainId}.`
    );
    print("");
    print("[1/5] Deploying the contracts");
    type S = Signer & { address: string };
    const actors: S[] = shared ? await freshAccounts(conn, 10, workDir) : (await ethers.getSigners()).slice(1, 11);
    if (actors.length < 10) throw new DemoError(`the network has ${actors.length + 1} accounts; the demo needs 11`);
    // In-process: accounts 1..10; the deployer is account 9, not 0, so that the demo's contracts never
    // land at the addresses scripts/deploy.ts (account 0) uses.
    const [user, gen, cheat, v1, v2, v3, v4, dis, owner, v5] = actors as [S, S, S, S, S, S, S, S, S, S];
    const params: PoolParams = { ...DEFAULT_POOL_PARAMS, ...(shared ? { challengeWindow: sharedWindow } : {}) };
    const token = await ethers.deployContract("TestToken", [], owner);
    const rnd = await ethers.deployContract("FutureBlockRandomness", [], owner);
    const poolC = await deployStakePool(ethers, [await token.getAddress(), owner.address, paramsStruct(params), await rnd.getAddress(), owner.address], owner);
    const deployReceipt = await poolC.deploymentTransaction()!.wait();
    const poolAddress = await poolC.getAddress();
    const deployBlock = deployReceipt!.blockNumber;
    const base = await PoolClient.create({ runner: owner, pool: poolAddress, deployBlock, pollMs: 50 });
    const as = (s: typeof owner) => base.connect(s);
    print(`      stake token  ${await token.getAddress()} (TestToken, 18 decimals)`);
    print(`      StakePool    ${poolAddress} (block ${deployBlock}); randomness: the hash of the block after each draw request`);
    print(
      `      parameters   α = ${params.alphaBps / 10_000}, β = ${params.betaBps / 10_000}; commit and verify windows ${
        params.commitWindow / 60
      } min, challenge window ${params.challengeWindow >= 120 ? `${params.challengeWindow / 60} min` : `${params.challengeWindow} s (short: on a shared node it passes in real time)`}; at most ${params.maxStages} stages; minimum bond ${fmt(params.minBond)} tokens; a model needs ${fmt(params.minModelStake)} tokens of draw weight from ≥ ${
        params.maxStages + 2
      } verifiers`
    );
    lap("deploy token + pool");

    // ---------------------------------------------------------------------------------------------
    // 2. Actors
    // ---------------------------------------------------------------------------------------------
    print("[2/5] Funding the actors and bonding five honest verifiers");
    const names = new Map<string, string>([
      [user.address.toLowerCase(), "user"],
      [gen.address.toLowerCase(), "generator G (honest)"],
      [cheat.address.toLowerCase(), "generator C (cheats)"],
      [v1.address.toLowerCase(), "verifier V1"],
      [v2.address.toLowerCase(), "verifier V2"],
      [v3.address.toLowerCase(), "verifier V3"],
      [v4.address.toLowerCase(), "verifier V4"],
      [v5.address.toLowerCase(), "verifier V5"],
      [dis.address.toLowerCase(), "verifier D (dishonest)"],
      [owner.address.toLowerCase(), "deployer"],
    ]);
    const nameOf = (a: string) => names.get(a.toLowerCase()) ?? a;
    for (const s of [user, gen, cheat, v1, v2, v3, v4, v5, dis]) await base.mintTestTokens(s.address, 10_000n * E18);
    for (const v of [v1, v2, v3, v4, v5]) await as(v).bond(VERIFIER_BOND, { approve: true });
    for (const s of [user, gen, cheat, v1, v2, v3, v4, v5, dis]) print(`      ${nameOf(s.address).padEnd(24)} ${s.address}`);
    print(`      each got 10000 tokens; V1..V5 bonded ${fmt(VERIFIER_BOND)} each (D joins before job 4); their workers declare the model they replay`);
    lap("fund + bond verifiers");

    // ---------------------------------------------------------------------------------------------
    // 3. Models
    // ---------------------------------------------------------------------------------------------
    const spec = resolveBuildSpec({ preset });
    print(
      `[3/5] The model: preset "${preset}" (${PRESETS[preset].layers} layers, hidden ${PRESETS[preset].hiddenSize}, ${(countParams(spec) / 1e6).toFixed(
        1
      )}M parameters, seeded random weights)`
    );
    const real = await ensureModel(join(modelsDir, `${preset}-seed0`), preset, 0);
    const fake = await ensureModel(join(modelsDir, `${preset}-seed1`), preset, 1);
    print(`      requested model    ${real.modelId}  ${real.built ? "built" : "reused"} in ${real.dir}`);
    print(`      substituted model  ${fake.modelId}  ${fake.built ? "built" : "reused"} in ${fake.dir} (same shape, weight seed 1: what the cheater runs)`);
    const realModel = await loadModel(real.dir, o.threads ? { threads: o.threads } : {});
    loaded.push(realModel);
    const fakeModel = await loadModel(fake.dir, o.threads ? { threads: o.threads } : {});
    loaded.push(fakeModel);
    lap(`models (${real.built || fake.built ? "build" : "reuse"} + load)`);

    // ---------------------------------------------------------------------------------------------
    // 4. Workers
    // ---------------------------------------------------------------------------------------------
    print("[4/5] Starting the workers (in this process)");
    const records: LogRecord[] = [];
    const makeLogger = (name: string): Logger =>
      createLogger({ format: "plain", stream: logFile!, name, minLevel: "debug", onRecord: (r) => records.push({ ...r, who: name }) });
    const storeG = new ReceiptStore(join(workDir, "receipts-G"));
    const storeC = new ReceiptStore(join(workDir, "receipts-C"));
    // Each generator's server answers one-transaction stages (POST /v1/jobs/{id}/answer).
    const routesG = new GeneratorRoutes({ intake: new RequestIntake(), events: new JobEventLog() });
    const routesC = new GeneratorRoutes({ intake: new RequestIntake(), events: new JobEventLog() });
    const serverG = await serveReceipts(storeG, { extraRoutes: routesG.handle });
    servers.push(serverG);
    const serverC = await serveReceipts(storeC, { extraRoutes: routesC.handle });
    servers.push(serverC);
    const activeBars = new Map<string, cliProgress.SingleBar>();
    const plainStarted = new Set<string>();
    const genProgress = (who: string) => (p: { jobId: bigint; done: number; total: number }) => {
      if (!bars) {
        // Plain lines (not a TTY): the start and the end of each generation.
        const key = `${who}:${p.jobId}`;
        if (!plainStarted.has(key)) {
          plainStarted.add(key);
          say(`      … ${who} is generating job ${p.jobId} (${p.total} positions: prompt + tokens to generate)`);
        }
        if (p.done >= p.total && !plainStarted.has(`${key}:done`)) {
          plainStarted.add(`${key}:done`);
          say(`      … ${who} finished generating job ${p.jobId}: ${p.done}/${p.total}`);
        }
        return;
      }
      multibar ??= new cliProgress.MultiBar(
        { format: "      {who} generating job {job} [{bar}] {value}/{total} tokens", hideCursor: true, clearOnComplete: true, stopOnComplete: false },
        cliProgress.Presets.shades_classic
      );
      const key = `${who}:${p.jobId}`;
      let bar = activeBars.get(key);
      if (!bar) {
        bar = multibar.create(p.total, 0, { who, job: p.jobId.toString() });
        activeBars.set(key, bar);
      }
      bar.update(p.done);
      if (p.done >= p.total) {
        multibar.remove(bar);
        activeBars.delete(key);
        if (activeBars.size === 0) {
          multibar.stop();
          multibar = undefined;
        }
      }
    };
    const stateDir = join(workDir, "state");
    const gWorker: GeneratorWorker = await startGeneratorWorker({
      client: as(gen),
      models: new LoadedModels([realModel]),
      store: storeG,
      receiptBaseUrl: serverG.url,
      stateDir,
      pollMs,
      log: makeLogger("G"),
      onProgress: genProgress("G"),
    });
    routesG.answerer = gWorker.answerStage;
    started.push(gWorker);
    const cWorker: GeneratorWorker = await startGeneratorWorker({
      client: as(cheat),
      models: new LoadedModels([realModel]),
      store: storeC,
      receiptBaseUrl: serverC.url,
      stateDir,
      pollMs,
      cheat: { model: fakeModel }, // demonstration of detection only
      log: makeLogger("C"),
      onProgress: genProgress("C"),
    });
    routesC.answerer = cWorker.answerStage;
    started.push(cWorker);
    const verifierWorkers: VerifierWorker[] = [];
    for (const [i, v] of [v1, v2, v3, v4, v5].entries()) {
      const w = await startVerifierWorker({
        client: as(v),
        models: new LoadedModels([realModel]),
        stateDir,
        pollMs,
        autoBond: false,
        devMine: true,
        logger: makeLogger(`V${i + 1}`),
      });
      verifierWorkers.push(w);
      started.push(w);
    }
    print(`      generator G serves receipts at ${serverG.url}; generator C (substituted model) at ${serverC.url}`);
    const stake = await base.modelStake(real.modelId);
    print(`      verifier workers V1..V5 declared the requested model (draw weight ${fmt(stake.total)} from ${stake.verifiers} verifiers), advance the draw queue and replay for real; worker logs: ${join(workDir, "workers.log")}`);
    lap("start workers");

    // ---------------------------------------------------------------------------------------------
    // 5. Jobs
    // ---------------------------------------------------------------------------------------------
    print(`[5/5] Four jobs (Cg = ${fmt(CG)}, Cv = ${fmt(CV)} tokens; ${maxTokens} tokens generated each)`);
    const { params: onChain } = await base.params();
    const amounts = {
      aCg: (CG * BigInt(onChain.alphaBps)) / 10_000n,
      aCv: (CV * BigInt(onChain.alphaBps)) / 10_000n,
      bCg: (CG * BigInt(onChain.betaBps)) / 10_000n,
      bCv: (CV * BigInt(onChain.betaBps)) / 10_000n,
    };
    const userClient = as(user);
    const tokenizer = realModel.tokenizer;
    const jobs: DemoJob[] = [];

    const idleAll = async () => {
      await Promise.all([gWorker.idle(), cWorker.idle(), ...verifierWorkers.map((w) => w.idle())]);
    };
    const credits = async (addrs: string[]) => new Map(await Promise.all(addrs.map(async (a) => [a, await base.creditOf(a)] as const)));

    const runJob = async (
      n: number,
      spec: {
        title: string;
        short: string;
        generator: typeof gen;
        challenge: boolean;
        /** Runs before the challenge; its hooks run right after the challenge and once stage 1 is drawn. */
        beforeChallenge?: (jobId: bigint) => Promise<{ afterChallenge: () => Promise<void>; afterDraw: () => Promise<void> }>;
        row: Table1Row;
        outcome: JobState;
        expectedStages: StageResultRow["result"]["kind"][];
        check?: (h: JobHistory) => string[];
      }
    ): Promise<void> => {
      const t0 = performance.now();
      say("");
      say(`  Job ${n} — ${spec.title}`);
      const request = buildJobRequest({ modelId: real.modelId, promptTokens: tokenizer.encode(PROMPTS[n - 1]!, { addSpecialTokens: true }), maxTokens });
      const parties = [user.address, spec.generator.address, v1.address, v2.address, v3.address, v4.address, v5.address, dis.address];
      const before = await credits(parties);
      const opened = await openJobWithRequest(userClient, { generator: spec.generator.address, request, cg: CG, cv: CV });
      const jobId = opened.jobId;
      say(`    the user opens job ${jobId} for ${nameOf(spec.generator.address)}: "${PROMPTS[n - 1]}" → ${maxTokens} tokens;`);
      say(`      it pays αCg + αCv = ${fmt(amounts.aCg + amounts.aCv)} into the pool (the request travels on-chain as a data: URI, bound by its hash)`);
      const tGen = performance.now();
      await (spec.generator === gen ? gWorker : cWorker).idle();
      let h = await jobHistory(base, jobId, { timestamps: false });
      if (h.state !== JobState.Committed || !h.committed) {
        const rec = (spec.generator === gen ? gWorker : cWorker).state().jobs[jobId.toString()];
        throw new DemoError(`job ${jobId}: the generator did not commit (state ${h.stateName}${rec?.reason ? `: ${rec.reason}` : ""})`);
      }
      const genRec = records.find((r) => r.event === "generated" && r.jobId === jobId.toString());
      const receipt = await (spec.generator === gen ? storeG : storeC).get(h.committed.receiptRoot);
      say(
        `    ${nameOf(spec.generator.address)} generated ${maxTokens} tokens${
          spec.generator === cheat ? " WITH THE SUBSTITUTED MODEL (claiming the requested one)" : ""
        }, staked βCg = ${fmt(amounts.bCg)} and committed`
      );
      const samples = genRec ? Number(genRec.samples) : h.committed.numChecks - maxTokens;
      say(
        `      receipt ${h.committed.receiptRoot.slice(0, 18)}…: ${maxTokens} generated tokens + ${samples} sampled K/V vectors = ${
          h.committed.numChecks
        } checks, ${(receipt.length / 1024).toFixed(1)} kB, served at ${h.committed.receiptUri.replace(/\/receipts\/.*/, "/receipts/…")} (generation ${secs(
          genRec ? Number(genRec.ms) : performance.now() - tGen
        )})`
      );
      if (!spec.challenge) {
        if (shared) {
          say(`    the user is satisfied and does not challenge; the challenge window (${onChain.challengeWindow} s) passes on the node's own clock (the demo waits)`);
          await finalizeWhenDue(base, jobId, (onChain.challengeWindow + 120) * 1000);
        } else {
          say(`    the user is satisfied and does not challenge; the challenge window (${onChain.challengeWindow / 60} min) passes (networkHelpers.time.increase)`);
          await networkHelpers.time.increase(onChain.challengeWindow + 1);
          await base.finalize(jobId);
        }
        say(`    anyone may now finalize: the deployer calls finalize(${jobId})`);
      } else {
        const hooks = await spec.beforeChallenge?.(jobId);
        await userClient.challenge(jobId);
        await hooks?.afterChallenge();
        say(`    the user challenges: stage 1 joins the draw queue and the pool requests randomness (the hash of the next block)`);
        await waitUntil(
          `job ${jobId}'s stage-1 draw`,
          async () => {
            h = await jobHistory(base, jobId, { timestamps: false });
            return h.stages[0]?.assignments[0] !== undefined;
          },
          jobTimeoutMs,
          idleAll
        );
        await hooks?.afterDraw();
        const first = h.stages[0]?.assignments[0];
        say(
          first?.selfDrawn && first.oneTransaction
            ? `    once the word exists, the draw picks ${nameOf(first.verifier)} (stake-weighted among the model's verifiers): its worker sees it first, replays, gets the generator's signed answer to its commitment off-chain, and settles the stage in one transaction (submitResult: the draw, the result and the answer; no commit, answer or draw transaction), locking βCv = ${fmt(amounts.bCv)} of its bond`
            : first?.selfDrawn
            ? `    once the word exists, the draw picks ${nameOf(first.verifier)} (stake-weighted among the model's verifiers): its worker sees it first, replays, and its commitResult draws the stage (no separate draw transaction), locking βCv = ${fmt(amounts.bCv)} of its bond`
            : `    a verifier worker calls drawVerifiers once the word exists: the pool draws ${first ? nameOf(first.verifier) : "nobody"} (stake-weighted among the model's verifiers) and locks βCv = ${fmt(amounts.bCv)} of its bond`,
        );
        const seenStages = new Set<string>();
        await waitUntil(
          `job ${jobId} to settle`,
          async () => {
            h = await jobHistory(base, jobId, { timestamps: false });
            for (const r of stageResults(h)) {
              const key = `${r.stage}:${r.verifier}:${r.result.kind}`;
              if (r.result.kind === "pending" || seenStages.has(key)) continue;
              seenStages.add(key);
              const replay = records.find((x) => x.event === "replay-done" && x.jobId === jobId.toString() && Number(x.stage) === r.stage);
              const tampered = records.some((x) => x.event === "tampered" && x.jobId === jobId.toString() && Number(x.stage) === r.stage);
              const how = tampered
                ? `replayed (${Number(replay?.matched ?? 0)}/${Number(replay?.checks ?? 0)} matched) but submitted a WRONG bitmap`
                : `replayed the job in ${secs(Number(replay?.replayMs ?? 0))}${
                    replay?.agrees === false ? " (a replay stops at the lowest layer whose sampled K/V differ)" : ""
                  }`;
              say(
                `    stage ${r.stage}: ${nameOf(r.verifier)} ${how}: ${r.matched}/${h.committed!.numChecks} checks matched → ${describeKind(r.result, nameOf)}`
              );
              const next = h.stages.find((s) => s.stage === r.stage + 1)?.assignments[0];
              if (next)
                say(
                  `      no agreement yet → stage ${r.stage + 1}: the pool draws ${nameOf(
                    next.verifier
                  )} (never the user, the generator or an earlier verifier)`
                );
            }
            return h.final;
          },
          jobTimeoutMs,
          idleAll
        );
      }
      h = await jobHistory(base, jobId, { timestamps: false });
      const after = await credits(parties);
      const expected: Table1Payouts = table1({ alphaBps: onChain.alphaBps, betaBps: onChain.betaBps, cg: CG, cv: CV }, spec.row);
      const rows: PayoutRow[] = [];
      const problems: string[] = [];
      const delta = (a: string) => (after.get(a) ?? 0n) - (before.get(a) ?? 0n);
      rows.push({
        party: "user",
        address: user.address,
        credited: delta(user.address),
        expected: expected.user,
        formula: expected.formulas.user,
        ok: delta(user.address) === expected.user,
      });
      rows.push({
        party: nameOf(spec.generator.address),
        address: spec.generator.address,
        credited: delta(spec.generator.address),
        expected: expected.generator,
        formula: expected.formulas.generator,
        ok: delta(spec.generator.address) === expected.generator,
      });
      const stageVerifiers = h.stages.flatMap((s) => s.assignments.map((a) => a.verifier));
      if (stageVerifiers.length !== expected.verifiers.length)
        problems.push(`${stageVerifiers.length} verifier(s) took part; Table 1's row has ${expected.verifiers.length}`);
      stageVerifiers.forEach((v, i) => {
        const want = expected.verifiers[i] ?? 0n;
        rows.push({
          party: `${nameOf(v)} (stage ${i + 1})`,
          address: v,
          credited: delta(v),
          expected: want,
          formula: expected.formulas.verifiers[i] ?? "—",
          ok: delta(v) === want,
        });
      });
      // Nobody else may have been credited.
      for (const a of parties)
        if (a !== user.address && a !== spec.generator.address && !stageVerifiers.includes(a) && delta(a) !== 0n)
          problems.push(`${nameOf(a)} was credited ${fmt(delta(a))} without taking part`);
      for (const r of rows) if (!r.ok) problems.push(`${r.party}: credited ${fmt(r.credited)}, Table 1 says ${fmt(r.expected)}`);
      const outcome = h.stateName;
      if (h.state !== spec.outcome) problems.push(`outcome ${outcome}, expected ${JobState[spec.outcome]}`);
      const results = stageResults(h);
      const kinds = results.map((r) => r.result.kind);
      if (kinds.join(",") !== spec.expectedStages.join(","))
        problems.push(`verifier results [${kinds.join(", ")}], expected [${spec.expectedStages.join(", ")}]`);
      problems.push(...(spec.check?.(h) ?? []));
      const total = rows.reduce((s, r) => s + r.credited, 0n);
      const held = h.settlement?.payouts.total ?? -1n;
      const conserved = total === held && h.view.escrow === 0n;
      if (!conserved) problems.push(`payouts ${fmt(total)} differ from what the job held (${fmt(held)})`);

      say(`    outcome: ${outcome} — ${OUTCOME_TEXT[h.state] ?? ""}`);
      const w1 = Math.max(...rows.map((r) => r.party.length), 12);
      say(`      ${"party".padEnd(w1)}  ${"pool paid".padStart(9)}  ${"Table 1".padStart(9)}  formula`);
      for (const r of rows)
        say(`      ${r.party.padEnd(w1)}  ${fmt(r.credited).padStart(9)}  ${fmt(r.expected).padStart(9)}  ${r.formula}  ${r.ok ? "✓" : "✗ DIFFERS"}`);
      say(`      ${"total".padEnd(w1)}  ${fmt(total).padStart(9)}  ${fmt(held).padStart(9)}  everything the job held  ${conserved ? "✓" : "✗"}`);
      for (const p of problems) say(`    PROBLEM: ${p}`);
      const ms = performance.now() - t0;
      jobs.push({
        n,
        title: spec.title,
        jobId,
        outcome,
        expectedOutcome: JobState[spec.outcome]!,
        stages: results.map((r) => ({
          stage: r.stage,
          verifier: nameOf(r.verifier),
          result: describeKind(r.result, nameOf),
          ...(r.matched !== undefined ? { matched: r.matched } : {}),
        })),
        expectedStages: spec.expectedStages,
        payouts: rows,
        conserved,
        ok: problems.length === 0,
        problems,
        ms,
      });
      lap(`job ${n}: ${spec.short}`);
    };

    await runJob(1, {
      title: "honest generator, no challenge",
      short: "no challenge, finalized",
      generator: gen,
      challenge: false,
      row: { kind: "noChallenge" },
      outcome: JobState.Finalized,
      expectedStages: [],
    });
    await runJob(2, {
      title: "honest generator, challenged",
      short: "challenged, the verifier agrees",
      generator: gen,
      challenge: true,
      row: { kind: "generatorUpheld", k: 1 },
      outcome: JobState.GeneratorUpheld,
      expectedStages: ["agreesWithGenerator"],
    });
    await runJob(3, {
      title: "cheating generator (substituted model), challenged",
      short: "cheater caught, slashed",
      generator: cheat,
      challenge: true,
      row: { kind: "verifierUpheld", k: 2, j: 1 },
      outcome: JobState.VerifierUpheld,
      expectedStages: ["none", "agreesWithVerifier"],
    });

    // Job 4: D joins, and its stage-1 draw is steered onto D.
    say("");
    say(`  Verifier D bonds ${fmt(VERIFIER_BOND)} and starts a worker that replays but submits a wrong bitmap (a lie)`);
    await as(dis).bond(VERIFIER_BOND, { approve: true });
    const dWorker = await startVerifierWorker({
      client: as(dis),
      models: new LoadedModels([realModel]),
      stateDir,
      pollMs,
      autoBond: false,
      devMine: true,
      logger: makeLogger("D"),
      // Demonstration only: clear the last check of the honest bitmap.
      tamperResult: ({ numChecks, bitmap }) => {
        const b = Uint8Array.from(bitmap);
        const i = numChecks - 1;
        b[i >> 3] = b[i >> 3]! ^ (0x80 >> (i & 7));
        return b;
      },
    });
    verifierWorkers.push(dWorker);
    started.push(dWorker);
    await runJob(4, {
      title: "honest generator, challenged; the first verifier drawn is dishonest",
      short: "dishonest verifier slashed",
      generator: gen,
      challenge: true,
      beforeChallenge: async (jobId) => {
        // A test randomness source for this one draw: the owner swaps it in, holding the word back
        // (Pending) so that no worker draws before the demo has chosen it.
        const ownerClient = as(owner);
        const mock = await ethers.deployContract("MockRandomness", [], owner);
        await (await mock.setMode(1)).wait();
        const realSource = await base.randomnessSource();
        await ownerClient.setRandomnessSource(await mock.getAddress());
        say(`    (the draw is random: for this demo the owner swaps in a test randomness source whose word makes the pool draw D for stage 1; the real source is put back right after)`);
        return {
          afterChallenge: async () => {
            const epoch = await base.drawEpoch(); // frozen: the weights cannot change until the draw
            const word = await base.drawWordFor(real.modelId, jobId, 1, dis.address);
            await (await mock.fulfil(epoch.requestId, word)).wait();
            await (await mock.setMode(0)).wait();
          },
          afterDraw: async () => {
            await ownerClient.setRandomnessSource(realSource);
          },
        };
      },
      row: { kind: "generatorUpheld", k: 2 },
      outcome: JobState.GeneratorUpheld,
      expectedStages: ["none", "agreesWithGenerator"],
      check: (h) => {
        const first = h.stages[0]?.assignments[0]?.verifier;
        return first && first.toLowerCase() === dis.address.toLowerCase()
          ? []
          : [`stage 1 drew ${first ? nameOf(first) : "nobody"}, not D (the test word did not take effect)`];
      },
    });

    // Withdraw: the user takes its credit out, as any party would.
    const userCredit = await base.creditOf(user.address);
    const { amount } = await userClient.withdraw();
    say("");
    say(`  Payouts are credited, then withdrawn: the user withdraws its credit of ${fmt(userCredit)} tokens (withdrew ${fmt(amount)})`);
    lap("withdraw");

    const ok = jobs.every((j) => j.ok) && amount === userCredit;
    timings.push({ part: "total", ms: performance.now() - tStart });
    print("");
    print("Summary");
    for (const j of jobs) print(`  job ${j.n}: ${j.outcome.padEnd(16)} ${j.ok ? "as the paper says ✓" : `DIFFERS ✗ (${j.problems.join("; ")})`}`);
    print("");
    print("Time per part");
    for (const t of timings) print(`  ${t.part.padEnd(40)} ${secs(t.ms).padStart(8)}`);
    print("");
    print(ok ? "Every payout equals the paper's Table 1." : "SOME PAYOUTS OR OUTCOMES DIFFER FROM THE PAPER (see PROBLEM lines above).");
    if (conn.networkConfig.type === "http") {
      print(`Inspect a job: npx poc job status 3 --pool ${poolAddress} --deploy-block ${deployBlock}`);
    }
    const accounts = Object.fromEntries([...names].map(([a, n]) => [n, a]));
    return { ok, jobs, timings, pool: poolAddress, deployBlock, chainId, workDir, shared, accounts };
  } finally {
    multibar?.stop();
    for (const w of started.reverse()) await w.stop().catch(() => {});
    for (const s of servers) await s.close().catch(() => {});
    for (const m of loaded) await m.release().catch(() => {});
    await new Promise<void>((ok) => (logFile ? logFile.end(ok) : ok()));
  }
}

/**
 * `n` new random accounts on `conn`'s node, each sent 10 ETH for gas by the node's first account; their
 * keys go to `dir`/accounts.json (test accounts of a local node: the demo's run directory only).
 */
async function freshAccounts(conn: Connection, n: number, dir: string): Promise<(Signer & { address: string })[]> {
  const { ethers } = conn;
  const [funder] = await ethers.getSigners();
  if (!funder) throw new DemoError("the node has no unlocked account to fund the demo's fresh accounts from");
  const gas = 10n * E18;
  const have = await ethers.provider.getBalance(funder.address);
  if (have < gas * BigInt(n) + E18) throw new DemoError(`the node's first account ${funder.address} has ${fmt(have)} ETH; the demo needs ${fmt(gas * BigInt(n) + E18)} to fund ${n} fresh accounts`);
  const wallets = Array.from({ length: n }, () => ethers.Wallet.createRandom().connect(ethers.provider));
  for (const w of wallets) await (await funder.sendTransaction({ to: w.address, value: gas })).wait();
  await writeFile(join(dir, "accounts.json"), JSON.stringify(wallets.map((w) => ({ address: w.address, privateKey: w.privateKey })), null, 2) + "\n", { mode: 0o600 });
  return wallets;
}

/**
 * Finalize `jobId` as soon as the node accepts it: the gas estimate runs against the next block, whose
 * time is the node's own (ahead of the wall clock if someone moved it), so the demo waits on that clock.
 */
async function finalizeWhenDue(client: PoolClient, jobId: bigint, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      await client.finalize(jobId);
      return;
    } catch (e) {
      if (!(e instanceof ContractRevertError && e.errorName === "StakePoolDeadlineNotReached") || Date.now() > until) throw e;
    }
    await new Promise((ok) => setTimeout(ok, 1000));
  }
}

const OUTCOME_TEXT: Partial<Record<JobState, string>> = {
  [JobState.Unverified]: "no verifier could be drawn for the challenge: the generator is paid, the user's αCv goes to the treasury",
  [JobState.Finalized]: "no challenge: the generator is paid, the user gets its verification payment back",
  [JobState.GeneratorUpheld]: "a verifier confirmed the generator: it is paid, the dissenting verifiers lose their stakes",
  [JobState.VerifierUpheld]: "a verifier confirmed an earlier verifier: the generator is slashed, the user is refunded",
  [JobState.Stalemate]: "no agreement: the user gets αCv back, the generator's deposits go to the treasury",
};

function describeKind(r: StageResultRow["result"], nameOf: (a: string) => string): string {
  switch (r.kind) {
    case "agreesWithGenerator":
      return "agrees with the generator";
    case "agreesWithVerifier":
      return `agrees with stage ${r.stage}'s verifier (${nameOf(r.verifier)}), not the generator`;
    case "none":
      return "agrees with nobody so far";
    case "timedOut":
      return "missed its deadline";
    case "equivocated":
      return "committed another result than it had signed (stake forfeited)";
    case "declined":
      return "declined the assignment";
    case "pending":
      return "pending";
  }
}
