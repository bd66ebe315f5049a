/**
 * The dashboard on Hardhat's in-process network (the StakePool fixture of test/pool/helpers.ts, draws
 * steered through MockRandomness): the snapshot of jobs through open → commit → challenge → draw →
 * commit/answer/reveal → settled, Table 1's payouts per party, verifier and generator records, draw
 * status, the indexer's block-by-block updates, answers only for the user's own jobs, the HTTP API,
 * and one real-browser run (Debian's chromium, driven by playwright-core) of what a person sees as a
 * job is opened, challenged and settled. Screenshots go to test-artifacts/dashboard/ (not committed).
 */
import { expect } from "chai";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PoolClient, JobState } from "../../offchain/chain/index.js";
import { ReceiptStore, encodeReceipt, numChecks } from "../../offchain/receipt/index.js";
import { DashboardIndexer } from "../../offchain/dashboard/indexer.js";
import { userStoreAnswers } from "../../offchain/dashboard/answers.js";
import { startDashboard, type DashboardServer } from "../../offchain/dashboard/server.js";
import type { DashboardSnapshot } from "../../offchain/dashboard/snapshot.js";
import { makeReceipt } from "../receipt/helpers.js";
import { buildModel } from "../../offchain/model/index.js";
import { spawn } from "node:child_process";
import { POC_BIN } from "../poc-cli.js";
import { serveJsonRpc } from "../../scripts/lib/rpc-server.js";
import { createPoolContext, E18, claim, miss, HOUR, MODEL_ID, TEST_PARAMS, BOND, NUM_CHECKS } from "../pool/helpers.js";

const T = (n: number | bigint) => BigInt(n) * E18;

const ctx = await createPoolContext();
const { ethers, networkHelpers, deployFixture, openJob, openAndCommit, challenged, submit, drawFor } = ctx;
const load = () => networkHelpers.loadFixture(deployFixture);
type Fixture = Awaited<ReturnType<typeof deployFixture>>;

async function indexerFor(f: Fixture, extra: Partial<ConstructorParameters<typeof DashboardIndexer>[0]> = {}) {
  const client = await PoolClient.create({ runner: ethers.provider, pool: f.poolAddress });
  return new DashboardIndexer({ client, ...extra });
}
async function snap(f: Fixture, extra: Partial<ConstructorParameters<typeof DashboardIndexer>[0]> = {}): Promise<DashboardSnapshot> {
  const ix = await indexerFor(f, extra);
  return (await ix.refresh())!;
}
const jobOf = (s: DashboardSnapshot, id: bigint) => {
  const j = s.jobs.find((x) => x.jobId === id);
  if (!j) throw new Error(`job ${id} is not in the snapshot`);
  return j;
};
const verifierOf = (s: DashboardSnapshot, a: string) => s.verifiers.find((v) => v.address === a)!;
const generatorOf = (s: DashboardSnapshot, a: string) => s.generators.find((g) => g.address === a)!;

describe("dashboard snapshot", function () {
  this.timeout(60_000);

  it("shows the pool's parameters, the token and the verifiers a model needs", async () => {
    const f = await load();
    const s = await snap(f);
    expect(s.pool.address).to.equal(f.poolAddress);
    expect(s.pool.token).to.deep.equal({ address: await f.token.getAddress(), decimals: 18, symbol: "POCT" });
    expect(s.pool.treasury).to.equal(f.treasury.address);
    expect(s.pool.params.alphaBps).to.equal(TEST_PARAMS.alphaBps);
    expect(s.pool.params.minBond).to.equal(TEST_PARAMS.minBond);
    expect(s.pool.largestBetaCv).to.equal(T(50));
    expect(s.pool.minVerifiers).to.equal(5);
    expect(s.jobs).to.deep.equal([]);
  });

  it("shows a just-opened job as Open with its parties, amounts and the commit deadline's time left; no answer yet", async () => {
    const f = await load();
    const id = await openJob(f);
    const s = await snap(f);
    const j = jobOf(s, id);
    expect(j.stateLabel).to.equal("Open");
    expect(j.user).to.equal(f.user.address);
    expect(j.generator).to.equal(f.generator.address);
    expect(j.modelId).to.equal(MODEL_ID);
    expect(j.amounts).to.deep.equal({ alphaCg: T(50), alphaCv: T(10), betaCg: T(150), betaCv: T(30) });
    expect(j.escrow).to.equal(T(60));
    expect(j.timeLeft).to.equal(j.deadline - s.block.timestamp);
    expect(j.timeLeft).to.be.within(HOUR - 5, HOUR);
    expect(j.next).to.match(/generator must commit/);
    expect(j.deadlineFor).to.equal("commit");
    expect(j.answer).to.deep.equal({ visibility: "none" });
    expect(j.payouts).to.equal(undefined);
  });

  it("after a challenge shows the drawn verifier's stage as pending and the verifier's bond lowered by βCv", async () => {
    const f = await load();
    const id = await challenged(f, f.v1);
    const s = await snap(f);
    const j = jobOf(s, id);
    expect(j.stateLabel).to.equal("Verifying");
    expect(j.challenged).to.not.equal(undefined);
    expect(j.answer).to.deep.equal({ visibility: "private" });
    expect(j.stages).to.have.length(1);
    expect(j.stages[0]).to.include({ stage: 1, verifier: f.v1.address, result: "pending", stake: T(30) });
    const v = verifierOf(s, f.v1.address);
    expect(v.bond).to.equal(BOND - T(30));
    expect(v.record).to.include({ drawn: 1, pending: 1, agreed: 0 });
  });

  it("a job the verifier confirms settles as Generator upheld with Table 1's payouts per party and records on both sides", async () => {
    const f = await load();
    const id = await challenged(f, f.v1);
    await submit(f, id, claim);
    const s = await snap(f);
    const j = jobOf(s, id);
    expect(j.stateLabel).to.equal("Generator upheld");
    expect(j.final).to.equal(true);
    expect(j.timeLeft).to.equal(null);
    expect(j.stages[0]!.result).to.equal("agreesWithGenerator");
    expect(j.stages[0]!.resultText).to.equal("agrees with the generator");
    expect(j.stages[0]!.answeredBy).to.deep.equal([0]);
    // Table 1, one-stage verification: generator αCg + βCg, verifier αCv + βCv, user nothing back
    expect(j.payouts).to.deep.equal({ kind: "settled", user: 0n, generator: T(200), verifiers: [{ verifier: f.v1.address, payout: T(40) }], treasury: 0n, total: T(240) });
    expect(verifierOf(s, f.v1.address).record).to.include({ drawn: 1, agreed: 1, upheld: 1, dissented: 0, pending: 0, slashed: 0, earned: T(40) });
    expect(generatorOf(s, f.generator.address).record).to.include({ jobs: 1, upheld: 1, slashed: 0, active: 0, earned: T(200) });
  });

  it("a cheat caught in two stages shows the dissent, the confirmation, the slashed generator and who was paid", async () => {
    const f = await load();
    const id = await challenged(f, f.v1);
    await submit(f, id, miss(3), f.v2);
    await submit(f, id, miss(3));
    const s = await snap(f);
    const j = jobOf(s, id);
    expect(j.stateLabel).to.equal("Verifier upheld");
    expect(j.stages.map((x) => [x.stage, x.verifier, x.result])).to.deep.equal([
      [1, f.v1.address, "dissents"],
      [2, f.v2.address, "agreesWithVerifier"],
    ]);
    expect(j.stages[1]!.resultText).to.equal("disagrees with the generator, agrees with stage 1");
    expect(j.stages[1]!.answeredBy).to.deep.equal([0, 1]);
    expect(j.stages[0]!.matched).to.equal(19);
    expect(j.payouts!.generator).to.equal(0n);
    expect(j.payouts!.user).to.be.greaterThan(0n);
    expect(generatorOf(s, f.generator.address).record).to.include({ jobs: 1, slashed: 1, upheld: 0 });
    expect(verifierOf(s, f.v1.address).record).to.include({ dissented: 1, upheld: 1 });
    expect(verifierOf(s, f.v2.address).record).to.include({ dissented: 1, upheld: 1 });
  });

  it("counts finalized and cancelled jobs in the generator's record, newest job first", async () => {
    const f = await load();
    const a = await openAndCommit(f);
    const b = await openJob(f);
    await networkHelpers.time.increase(HOUR + 1);
    await f.pool.connect(f.stranger).finalize(a);
    await f.pool.connect(f.stranger).cancel(b);
    const s = await snap(f);
    expect(s.jobs.map((j) => [j.jobId, j.stateLabel])).to.deep.equal([
      [b, "Cancelled"],
      [a, "Finalized"],
    ]);
    expect(jobOf(s, b).payouts).to.include({ kind: "cancelled", user: T(60) });
    expect(generatorOf(s, f.generator.address).record).to.include({ jobs: 2, finalized: 1, skipped: 1 });
    expect(generatorOf(s, f.generator.address).models).to.deep.equal([MODEL_ID]);
    expect(generatorOf(s, f.generator.address).listed).to.equal(false);
  });

  it("says which verifiers can be drawn: bonded ones yes, one that unbonded everything no", async () => {
    const f = await load();
    await f.pool.connect(f.v5).requestUnbond(BOND);
    const s = await snap(f);
    expect(s.verifiers.map((v) => v.address).sort()).to.deep.equal([f.v1, f.v2, f.v3, f.v4, f.v5].map((x) => x.address).sort());
    const v1 = verifierOf(s, f.v1.address);
    expect(v1.drawable).to.equal(true);
    expect(v1.models).to.have.length(1);
    expect(v1.models[0]).to.include({ modelId: MODEL_ID, weight: BOND, total: 4n * BOND, shareBps: 2500, drawText: "can be drawn" });
    const v5 = verifierOf(s, f.v5.address);
    expect(v5.drawable).to.equal(false);
    expect(v5.unbonding).to.equal(BOND);
    expect(v5.models[0]!.drawText).to.match(/^not drawn/);
  });

  it("shows listed generators with models, price and endpoint", async () => {
    const f = await load();
    await openJob(f);
    const listing = { address: f.generator.address, endpoint: "http://127.0.0.1:8547", models: [MODEL_ID], pricePerToken: 5n * 10n ** 15n };
    const s = await snap(f, { listings: async () => [listing, { ...listing, address: f.other.address, models: [] }] });
    expect(generatorOf(s, f.generator.address)).to.include({ listed: true, endpoint: listing.endpoint, pricePerToken: listing.pricePerToken });
    expect(generatorOf(s, f.other.address).record.jobs).to.equal(0);
  });

  it("updates block by block: a new job appears after the next refresh, nothing is re-read without a new block", async () => {
    const f = await load();
    const ix = await indexerFor(f);
    const first = (await ix.refresh())!;
    expect(first.jobs).to.have.length(0);
    expect(await ix.refresh()).to.equal(null);
    const id = await openJob(f);
    const second = (await ix.refresh())!;
    expect(second.block.number).to.be.greaterThan(first.block.number);
    expect(jobOf(second, id).stateLabel).to.equal("Open");
    await f.pool.connect(f.generator).commit(id, "0x" + "22".repeat(32), 20, "http://x/receipts/r");
    expect(jobOf((await ix.refresh())!, id).stateLabel).to.equal("Committed");
  });

  it("shows the answer only for the user whose receipt store holds the job's receipt", async () => {
    const f = await load();
    const dir = await mkdtemp(join(tmpdir(), "poc-dash-"));
    try {
      const receipt = makeReceipt();
      const store = new ReceiptStore(dir);
      const root = await store.put(encodeReceipt(receipt));
      const id = await openJob(f);
      await f.pool.connect(f.generator).commit(id, root, numChecks(receipt), "http://x/receipts/" + root);
      const mine = await snap(f, { answers: userStoreAnswers({ user: f.user.address, storeDir: dir }) });
      expect(jobOf(mine, id).answer).to.deep.equal({ visibility: "shown", tokens: receipt.outputTokens });
      const theirs = await snap(f, { answers: userStoreAnswers({ user: f.stranger.address, storeDir: dir }) });
      expect(jobOf(theirs, id).answer).to.deep.equal({ visibility: "private" });
      const empty = await snap(f, { answers: userStoreAnswers({ user: f.user.address, storeDir: join(dir, "nothing") }) });
      expect(jobOf(empty, id).answer).to.deep.equal({ visibility: "private" });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("dashboard answers", function () {
  this.timeout(120_000);

  it("decodes the user's answer to text with the model's tokenizer from --models", async () => {
    const f = await load();
    const dir = await mkdtemp(join(tmpdir(), "poc-dash-"));
    try {
      const built = await buildModel(join(dir, "models", "tiny"), { preset: "tiny" });
      const text = "Hi there";
      const base = makeReceipt({ outputLen: text.length });
      const receipt = { ...base, modelId: built.modelId, outputTokens: [...Buffer.from(text)] };
      const root = await new ReceiptStore(join(dir, "store")).put(encodeReceipt(receipt));
      await f.pool.connect(f.user).openJob(f.generator.address, MODEL_ID, T(100), T(20), "0x" + "22".repeat(32), "poc:direct");
      const id = (await f.pool.nextJobId()) - 1n;
      await f.pool.connect(f.generator).commit(id, root, 20, "http://x/receipts/" + root);
      // the pool's model id is the fixture's; the answer source decodes with the receipt's own model
      const s = await snap(f, { answers: userStoreAnswers({ user: f.user.address, storeDir: join(dir, "store"), modelsDir: join(dir, "models") }) });
      expect(jobOf(s, id).answer).to.deep.equal({ visibility: "shown", tokens: receipt.outputTokens, text });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("dashboard server", function () {
  this.timeout(120_000);
  let server: DashboardServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it("serves the page, the snapshot as JSON with amounts as decimal strings, and a snapshot event per new block", async () => {
    const f = await load();
    const client = await PoolClient.create({ runner: ethers.provider, pool: f.poolAddress });
    server = await startDashboard({ client, port: 0, pollMs: 60_000 });
    expect(server.url).to.match(/^http:\/\/127\.0\.0\.1:\d+$/);
    const page = await fetch(server.url + "/");
    expect(page.headers.get("content-type")).to.match(/text\/html/);
    expect(await page.text()).to.contain("<title>Proof of Cache dashboard</title>");
    expect((await fetch(server.url + "/nope")).status).to.equal(404);

    const ac = new AbortController();
    const events = await fetch(server.url + "/api/events", { signal: ac.signal });
    expect(events.headers.get("content-type")).to.match(/text\/event-stream/);
    const reader = events.body!.getReader();
    let buf = "";
    const nextSnapshot = async () => {
      for (;;) {
        const m = /event: snapshot\ndata: (.*)\n\n/.exec(buf);
        if (m) {
          buf = buf.slice(m.index + m[0].length);
          return JSON.parse(m[1]!) as { block: { number: number }; jobs: { jobId: string; stateLabel: string; escrow: string }[] };
        }
        const { value, done } = await reader.read();
        if (done) throw new Error("the event stream ended");
        buf += new TextDecoder().decode(value);
      }
    };
    const s0 = await nextSnapshot();
    expect(s0.jobs).to.deep.equal([]);
    const id = await openJob(f);
    await server.refresh();
    const s1 = await nextSnapshot();
    expect(s1.block.number).to.be.greaterThan(s0.block.number);
    expect(s1.jobs[0]).to.include({ jobId: id.toString(), stateLabel: "Open", escrow: T(60).toString() });
    const json = (await (await fetch(server.url + "/api/snapshot")).json()) as { jobs: { jobId: string }[]; pool: { params: { minBond: string } } };
    expect(json.jobs[0]!.jobId).to.equal(id.toString());
    expect(json.pool.params.minBond).to.equal(TEST_PARAMS.minBond.toString());
    ac.abort();
  });

  it("in headless Chromium: a job is seen Open, then challenged with its verifier, then settled with each party's payout", async () => {
    const executablePath = process.env.POC_CHROMIUM ?? "/usr/bin/chromium";
    if (!existsSync(executablePath)) {
      throw new Error(`the browser test needs Debian's chromium at ${executablePath}: apt-get install chromium (or set POC_CHROMIUM to a Chromium binary)`);
    }
    const { chromium } = await import("playwright-core");
    const shots = join("test-artifacts", "dashboard");
    await mkdir(shots, { recursive: true });
    const f = await load();
    const dir = await mkdtemp(join(tmpdir(), "poc-dash-"));
    const client = await PoolClient.create({ runner: ethers.provider, pool: f.poolAddress });
    server = await startDashboard({ client, port: 0, pollMs: 100, answers: userStoreAnswers({ user: f.user.address, storeDir: dir }) });
    const browser = await chromium.launch({
      executablePath,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
      await page.goto(server.url + "/");
      await page.locator("#live", { hasText: "live" }).waitFor();
      // the page has rendered block n (runs in the page; this project's type-check has no DOM types)
      type PageGlobal = { document: { body: { getAttribute(name: string): string | null } } };
      const blockShown = async (n: number) => page.waitForFunction((b: number) => Number((globalThis as unknown as PageGlobal).document.body.getAttribute("data-block")) >= b, n);
      const step = async () => {
        await server!.refresh();
        await blockShown(await ethers.provider.getBlockNumber());
      };
      const text = (sel: string) => page.locator(sel).innerText();

      // the pool, before any job
      await step();
      expect(await text("#pool")).to.contain("minimum 100 POCT").and.contain("0.5 (5000 bps)");
      expect(await text("#jobs")).to.contain("no jobs yet");
      expect(await text("#verifiers")).to.contain(f.v1.address.slice(0, 6));

      // opened
      const receipt = makeReceipt();
      const root = await new ReceiptStore(dir).put(encodeReceipt(receipt));
      const id = await openJob(f);
      await step();
      const job = `#job-${id}`;
      let t = await text(job);
      expect(t).to.contain("Open").and.contain("60 POCT").and.contain("150 / 30").and.contain("not committed yet");
      expect(t).to.match(/\d+ min \d+ s left/).and.contain("to the commit deadline");
      expect(t).to.contain(`${f.user.address.slice(0, 6)}…${f.user.address.slice(-4)}`);
      await page.screenshot({ path: join(shots, "1-opened.png"), fullPage: true });

      // committed and challenged: v1 drawn for stage 1
      await f.pool.connect(f.generator).commit(id, root, NUM_CHECKS, "http://x/receipts/" + root);
      await f.pool.connect(f.user).challenge(id);
      await drawFor(f, id, f.v1);
      await step();
      t = await text(job);
      expect(t).to.contain("Verifying").and.contain("challenged by the user in block");
      expect(t).to.contain(`stage 1: verifier ${f.v1.address.slice(0, 6)}`).and.contain("drawn, has not committed yet");
      expect(t).to.contain(`tokens ${receipt.outputTokens.slice(0, 3).join(", ")}`);
      await page.screenshot({ path: join(shots, "2-challenged.png"), fullPage: true });

      // settled: the verifier agrees with the generator
      await submit(f, id, claim);
      await step();
      t = await text(job);
      expect(t).to.contain("Generator upheld").and.contain("agrees with the generator").and.contain("20/20 checks matched").and.contain("seed answered by the generator");
      expect(t).to.contain("Payouts (total 240 POCT)");
      expect(t).to.contain("user 0 POCT").and.contain("generator 200 POCT").and.match(new RegExp(`verifier ${f.v1.address.slice(0, 6)}\\S* 40 POCT`));
      const v1Row = await text(`#verifier-${f.v1.address.toLowerCase()}`);
      expect(v1Row).to.contain("1 drawn: 1 agreed").and.contain("1 upheld");
      expect(await text(`#generator-${f.generator.address.toLowerCase()}`)).to.contain("1 jobs: 0 finalized, 1 upheld");
      await page.screenshot({ path: join(shots, "3-settled.png"), fullPage: true });
      expect(JobState[(await client.getJob(id)).state]).to.equal("GeneratorUpheld");
    } finally {
      await browser.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("poc dashboard", function () {
  this.timeout(120_000);

  it("prints its URL, serves the pool's jobs over JSON-RPC, and stops on Ctrl-C", async () => {
    const f = await load();
    const id = await openJob(f);
    const rpc = await serveJsonRpc(ctx.connection.provider);
    const env = { ...process.env, POC_DEBUG: "", POC_PRIVATE_KEY: "", POC_RPC_URL: "", POC_DEPLOYMENT: "", POC_POOL_ADDRESS: "" };
    const child = spawn(process.execPath, [POC_BIN, "dashboard", "--rpc", rpc.url, "--pool", f.poolAddress, "--port", "0", "--poll", "200"], { stdio: ["ignore", "pipe", "pipe"], env });
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
    const exited = new Promise<number | null>((ok) => child.on("close", ok));
    try {
      const url = await new Promise<string>((ok, fail) => {
        const timer = setTimeout(() => fail(new Error(`no URL printed: ${out} ${err}`)), 60_000);
        const look = () => {
          const m = /(http:\/\/127\.0\.0\.1:\d+)\//.exec(out);
          if (m) {
            clearTimeout(timer);
            ok(m[1]!);
          }
        };
        child.stdout.on("data", look);
        child.on("close", () => fail(new Error(`poc dashboard exited: ${err}`)));
      });
      expect(out).to.contain(`dashboard of pool ${f.poolAddress} on chain 31337`).and.contain("Ctrl-C stops");
      const s = (await (await fetch(url + "/api/snapshot")).json()) as { jobs: { jobId: string; stateLabel: string }[] };
      expect(s.jobs.map((j) => [j.jobId, j.stateLabel])).to.deep.equal([[id.toString(), "Open"]]);
      child.kill("SIGINT");
      expect(await exited, err).to.equal(0);
      expect(err).to.contain("SIGINT: stopping");
    } finally {
      child.kill("SIGKILL");
      await rpc.close();
    }
  });
});
