/**
 * The demo's core (scripts/demo/core.ts) on the in-process network with the tiny preset: the four
 * jobs settle as the paper says and every payout equals Table 1 (α = 1, β = 2, Cg = 100, Cv = 20
 * tokens: αCg = 100, αCv = 20, βCg = 200, βCv = 40).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { network } from "hardhat";
import { runDemo, type DemoResult } from "../../scripts/demo/core.js";
import { serveJsonRpc } from "../../scripts/lib/rpc-server.js";

const T = (n: number) => BigInt(n) * 10n ** 18n;

describe("demo: four jobs end to end (tiny model, real inference)", function () {
  this.timeout(120_000);
  let dir: string;
  let result: DemoResult;
  const lines: string[] = [];

  before(async function () {
    dir = await mkdtemp(join(tmpdir(), "poc-demo-test-"));
    const connection = await network.create();
    try {
      result = await runDemo({
        connection,
        preset: "tiny",
        maxTokens: 24,
        modelsDir: join(dir, "models"),
        workDir: join(dir, "run"),
        print: (l) => lines.push(l),
        progressBars: false,
        pollMs: 100,
        jobTimeoutMs: 60_000,
      });
    } finally {
      await connection.close();
    }
  });

  after(async function () {
    await rm(dir, { recursive: true, force: true });
  });

  const payouts = (n: number) => Object.fromEntries(result.jobs[n - 1]!.payouts.map((p) => [p.party.replace(/ \(stage \d\)$/, ""), p.credited]));

  it("reports success, with every payout next to its Table 1 value", function () {
    expect(result.ok, lines.join("\n")).to.equal(true);
    expect(result.jobs).to.have.length(4);
    for (const j of result.jobs) {
      expect(j.problems, `job ${j.n}`).to.deep.equal([]);
      expect(j.conserved, `job ${j.n}`).to.equal(true);
      for (const p of j.payouts) expect(p.credited, `job ${j.n} ${p.party}`).to.equal(p.expected);
    }
    expect(lines.join("\n")).to.include("Every payout equals the paper's Table 1.");
  });

  it("job 1: honest generator, no challenge → finalized: generator (α+β)Cg = 300, user αCv = 10", function () {
    const j = result.jobs[0]!;
    expect(j.outcome).to.equal("Finalized");
    expect(j.stages).to.deep.equal([]);
    expect(payouts(1)).to.deep.equal({ user: T(10), "generator G (honest)": T(300) });
  });

  it("job 2: honest generator, challenged → one stage, the verifier agrees: generator 300, V (α+β)Cv = 30, user 0", function () {
    const j = result.jobs[1]!;
    expect(j.outcome).to.equal("GeneratorUpheld");
    expect(j.stages).to.have.length(1);
    expect(j.stages[0]!.result).to.equal("agrees with the generator");
    const p = payouts(2);
    expect(p.user).to.equal(0n);
    expect(p["generator G (honest)"]).to.equal(T(300));
    expect(j.payouts[2]!.credited).to.equal(T(30));
  });

  it("job 3: cheating generator → V1 disagrees, V2 confirms V1, generator slashed: user 110, V1 30, V2 βCg + (β−α)Cv = 210", function () {
    const j = result.jobs[2]!;
    expect(j.outcome).to.equal("VerifierUpheld");
    expect(j.stages.map((s) => s.stage)).to.deep.equal([1, 2]);
    expect(j.stages[0]!.result).to.equal("agrees with nobody so far");
    expect(j.stages[1]!.result).to.match(/^agrees with stage 1's verifier/);
    expect(j.stages[1]!.matched).to.equal(j.stages[0]!.matched); // the same canonical bitmap from two replays
    const p = payouts(3);
    expect(p.user).to.equal(T(110));
    expect(p["generator C (cheats)"]).to.equal(0n);
    expect(j.payouts[2]!.credited).to.equal(T(30));
    expect(j.payouts[3]!.credited).to.equal(T(210));
  });

  it("job 4: the dishonest verifier drawn first lies, the next one agrees with the generator: D loses βCv, V2 (α+2β)Cv = 50", function () {
    const j = result.jobs[3]!;
    expect(j.outcome).to.equal("GeneratorUpheld");
    expect(j.stages).to.have.length(2);
    expect(j.stages[0]!.verifier).to.equal("verifier D (dishonest)");
    expect(j.stages[0]!.result).to.equal("agrees with nobody so far");
    expect(j.stages[1]!.result).to.equal("agrees with the generator");
    const p = payouts(4);
    expect(p.user).to.equal(0n);
    expect(p["generator G (honest)"]).to.equal(T(300));
    expect(p["verifier D (dishonest)"]).to.equal(0n);
    expect(j.payouts[3]!.credited).to.equal(T(50));
  });

  it("times each part", function () {
    const parts = result.timings.map((t) => t.part);
    expect(parts[0]).to.equal("deploy token + pool");
    expect(parts[parts.length - 1]).to.equal("total");
    for (const t of result.timings) expect(t.ms).to.be.at.least(0);
  });
});

describe("demo on a node it did not start (over JSON-RPC)", function () {
  this.timeout(180_000);
  let dir: string;
  let result: DemoResult;
  const lines: string[] = [];
  let nodeAccounts: string[];
  let clockAhead: number;
  let blocks: number;

  before(async function () {
    dir = await mkdtemp(join(tmpdir(), "poc-demo-shared-"));
    // Someone else's node: an in-process network served over HTTP, reached as "localhost".
    const node = await network.create();
    const rpc = await serveJsonRpc(node.provider);
    const connection = await network.create({ network: "localhost", override: { url: rpc.url } });
    try {
      nodeAccounts = ((await node.provider.request({ method: "eth_accounts" })) as string[]).map((a) => a.toLowerCase());
      result = await runDemo({
        connection,
        preset: "tiny",
        maxTokens: 16,
        modelsDir: join(dir, "models"),
        workDir: join(dir, "run"),
        print: (l) => lines.push(l),
        progressBars: false,
        pollMs: 100,
        jobTimeoutMs: 60_000,
        sharedChallengeWindow: 60,
      });
      const head = (await node.provider.request({ method: "eth_getBlockByNumber", params: ["latest", false] })) as { timestamp: string; number: string };
      clockAhead = Number(BigInt(head.timestamp)) - Math.floor(Date.now() / 1000);
      blocks = Number(BigInt(head.number));
    } finally {
      await connection.close();
      await rpc.close();
      await node.close();
    }
  });

  after(async function () {
    await rm(dir, { recursive: true, force: true });
  });

  it("pays Table 1 exactly, as on its own network", function () {
    expect(result.ok, lines.join("\n")).to.equal(true);
    expect(result.shared).to.equal(true);
    expect(result.jobs.map((j) => j.outcome)).to.deep.equal(["Finalized", "GeneratorUpheld", "VerifierUpheld", "GeneratorUpheld"]);
  });

  it("a shared node's clock is not moved: job 1's challenge window passes in real time", function () {
    // The in-process run moves its clock by the hour-long window. Here the node keeps its own time:
    // at most one second ahead of the wall clock per block (a node that mines on every transaction
    // gives each block a later second than the last), nowhere near a window.
    expect(clockAhead).to.be.at.most(blocks + 5);
    expect(clockAhead).to.be.below(3600);
    expect(lines.join("\n")).to.include("passes on the node's own clock (the demo waits)");
    expect(lines.join("\n")).to.include("a node this demo did not start");
  });

  it("acts from fresh accounts, none of the node's own", function () {
    const used = Object.values(result.accounts).map((a) => a.toLowerCase());
    expect(used).to.have.length(10);
    for (const a of used) expect(nodeAccounts).to.not.include(a);
  });
});
