/**
 * The dApp package (packages/client, `@proof-of-cache/client`) as a dApp gets it: `npm pack` (which
 * builds it at prepack), installed from the tarball into a fresh project (no install script anywhere,
 * no onnxruntime-node), then (1) a 20-line Node script imports it and lists the jobs of a pool on
 * Hardhat's in-process network served over JSON-RPC, (2) a TypeScript consumer type-checks against
 * its exports map (the ABIs `as const`), (3) esbuild bundles a browser entry with `platform:
 * "browser"` (a Node built-in anywhere fails the build) and the bundle lists the same jobs.
 */
import { expect } from "chai";
import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";
import { JobState } from "../../offchain/chain/index.js";
import { CLIENT_DIR } from "../../scripts/client/build.js";
import { createJobsFixture, type JobsFixture } from "./fixture.js";
import { serveJsonRpc } from "../../scripts/lib/rpc-server.js";

const run = promisify(execFile);
/** npm under the Node that runs the tests (engines >= 22 in the repository). */
const npmEnv = { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ""}` };
const INSTALL_SCRIPTS = ["preinstall", "install", "postinstall", "prepare"];
/** The examples shipped in the repository (packages/client/examples), run here as a dApp would. */
const NODE_SCRIPT = readFileSync(join(CLIENT_DIR, "examples", "list-jobs.mjs"), "utf8");
const BROWSER_ENTRY = readFileSync(join(CLIENT_DIR, "examples", "browser.js"), "utf8");



const TS_CONSUMER = `import { listJobs, nextActions, stakePoolAbi, type JobHistory, type JobAction, type PoolClient } from "@proof-of-cache/client";
import { stakePoolAbi as abiOnly, erc20Abi } from "@proof-of-cache/client/abis";
type OpenJob = Extract<(typeof stakePoolAbi)[number], { type: "function"; name: "openJob" }>;
const first: OpenJob["inputs"][0]["name"] = "generator";
const sameAbi: typeof stakePoolAbi = abiOnly;
type Approve = Extract<(typeof erc20Abi)[number], { name: "approve" }>["stateMutability"];
const mut: Approve = "nonpayable";
export async function open(c: PoolClient): Promise<JobAction[][]> {
  const jobs: JobHistory[] = await listJobs(c);
  return jobs.map((j) => nextActions(j, Date.now() / 1000));
}
export { first, sameAbi, mut };
`;

describe("the dApp package @proof-of-cache/client", function () {
  this.timeout(300_000);
  let f: JobsFixture;
  let rpc: Awaited<ReturnType<typeof serveJsonRpc>>;
  let tmp: string;
  let app: string;
  let tarball: string;

  before(async () => {
    f = await createJobsFixture();
    rpc = await serveJsonRpc(f.connection.provider);
    tmp = await mkdtemp(join(tmpdir(), "poc-package-test-"));
    // npm pack runs prepack: the package builds itself (esbuild + tsc) from the committed sources
    const { stdout } = await run("npm", ["pack", "--json", "--pack-destination", tmp], { cwd: CLIENT_DIR, env: npmEnv, maxBuffer: 1 << 24 });
    const packed = JSON.parse(stdout.slice(stdout.indexOf("["))) as { filename: string; files: { path: string }[] }[];
    tarball = join(tmp, packed[0]!.filename);
    app = join(tmp, "app");
    await run("mkdir", ["-p", app]);
    await writeFile(join(app, "package.json"), JSON.stringify({ name: "dapp", private: true, type: "module", dependencies: { "@proof-of-cache/client": `file:${tarball}` } }, null, 2));
    // with install scripts allowed: the package must not need any (checked below); the registry (or npm's cache) gives ethers, zod and merkle-tree
    await run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error"], { cwd: app, env: npmEnv, maxBuffer: 1 << 24 });
  });
  after(async () => {
    await rpc?.close();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it("installs from its tarball with no install script and without onnxruntime-node, ethers as its peer", async () => {
    const pkg = JSON.parse(await readFile(join(app, "node_modules", "@proof-of-cache", "client", "package.json"), "utf8")) as Record<string, Record<string, string> | undefined>;
    for (const s of INSTALL_SCRIPTS) expect(pkg.scripts?.[s], `script ${s}`).to.equal(undefined);
    expect(pkg.peerDependencies).to.have.property("ethers");
    expect(Object.keys(pkg.dependencies ?? {})).to.not.include("ethers");
    const installed: string[] = [];
    for (const name of await readdir(join(app, "node_modules"))) {
      if (name.startsWith(".")) continue;
      const names = name.startsWith("@") ? (await readdir(join(app, "node_modules", name))).map((n) => `${name}/${n}`) : [name];
      installed.push(...names);
    }
    expect(installed).to.include.members(["@proof-of-cache/client", "ethers", "zod"]);
    expect(installed).to.not.include("onnxruntime-node");
    for (const name of installed) {
      const p = JSON.parse(await readFile(join(app, "node_modules", name, "package.json"), "utf8")) as { scripts?: Record<string, string> };
      for (const s of ["preinstall", "install", "postinstall"]) expect(p.scripts?.[s], `${name} ${s}`).to.equal(undefined);
      expect(existsSync(join(app, "node_modules", name, "binding.gyp")), `${name} builds native code`).to.equal(false);
    }
  });

  it("a 20-line Node script lists the pool's jobs over JSON-RPC with their next steps", async () => {
    expect(NODE_SCRIPT.trim().split("\n").length).to.be.at.most(20);
    await writeFile(join(app, "list.mjs"), NODE_SCRIPT);
    const { stdout } = await run(process.execPath, ["list.mjs", rpc.url, f.client.address, String(f.client.deployBlock)], { cwd: app });
    const lines = stdout.trim().split("\n").map((l) => JSON.parse(l) as { job: string; state: string; user: string; stages: string[]; paid: string; next: string[] });
    const expected = Object.entries(f.jobs).sort(([, a], [, b]) => (a < b ? -1 : 1));
    expect(lines.map((l) => l.job)).to.deep.equal(expected.map(([, id]) => String(id)));
    const byJob = new Map(lines.map((l) => [l.job, l]));
    const line = (k: string) => byJob.get(String(f.jobs[k]))!;
    expect(line("finalized").state).to.equal("Finalized");
    expect(line("cancelled").state).to.equal("Cancelled");
    expect(line("upheld")).to.deep.include({ state: "GeneratorUpheld", stages: ["submitted"] });
    expect(BigInt(line("upheld").paid)).to.be.greaterThan(0n);
    expect(line("open")).to.deep.include({ state: "Open", user: f.user, next: ["commit by generator"] });
    expect(line("committed").next).to.deep.equal(["challenge by user"]);
    expect(line("awaiting")).to.deep.include({ state: "AwaitingVerifier", next: ["drawVerifiers by anyone"] });
    expect(line("verifying").next).to.include("commitResult by verifier");
    expect(line("answering")).to.deep.include({ state: "Answering", stages: ["committed"] });
    expect(line("answering").next).to.include("answerFingerprint by generator");
  });

  it("type-checks a TypeScript consumer through the exports map: the ABIs are `as const`", async () => {
    await writeFile(join(app, "consumer.ts"), TS_CONSUMER);
    await writeFile(join(app, "tsconfig.json"), JSON.stringify({ compilerOptions: { strict: true, noEmit: true, module: "nodenext", moduleResolution: "nodenext", target: "es2022", lib: ["es2023", "dom"], types: [], skipLibCheck: true }, files: ["consumer.ts"] }));
    const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
    await run(process.execPath, [tsc, "-p", "tsconfig.json"], { cwd: app }).catch((e: { stdout?: string }) => {
      throw new Error(`tsc failed:\n${e.stdout ?? String(e)}`);
    });
    // and a wrong ABI name is a type error (the check can fail)
    await writeFile(join(app, "consumer.ts"), TS_CONSUMER.replace('= "generator"', '= "notAnInput"'));
    const failed = await run(process.execPath, [tsc, "-p", "tsconfig.json"], { cwd: app }).then(() => false, () => true);
    expect(failed, "a wrong input name type-checks: the ABI is not `as const`").to.equal(true);
  });

  it("bundles for a browser with esbuild (no Node built-ins) and the bundle lists the jobs", async () => {
    await writeFile(join(app, "browser.js"), BROWSER_ENTRY);
    const r = await build({ absWorkingDir: app, entryPoints: ["browser.js"], bundle: true, platform: "browser", format: "esm", minify: true, outfile: join(app, "out", "bundle.js"), metafile: true, logLevel: "silent" });
    expect(r.errors).to.deep.equal([]);
    const inputs = Object.keys(r.metafile.inputs);
    expect(inputs.filter((i) => /onnxruntime|node:|^(fs|path|http|crypto)$/.test(i))).to.deep.equal([]);
    expect(inputs.some((i) => i.includes("@proof-of-cache/client/dist/index.js"))).to.equal(true);
    const bytes = await readFile(join(app, "out", "bundle.js"));
    console.log(`      browser bundle (package + ethers + zod + merkle-tree, minified): ${(bytes.length / 1024).toFixed(1)} KiB, gzip ${(gzipSync(bytes).length / 1024).toFixed(1)} KiB`);
    const mod = (await import(pathToFileURL(join(app, "out", "bundle.js")).href)) as { jobs(u: string, p: string, b: number): Promise<{ states: string[]; next: string[][]; prompt?: number }>; stakePoolAbi: readonly { type: string; name?: string }[] };
    const out = await mod.jobs(rpc.url, f.client.address, f.client.deployBlock);
    expect(out.states).to.include.members(["Open", "Committed", "Finalized", "Cancelled", "GeneratorUpheld", JobState[JobState.AwaitingVerifier]]);
    expect(out.prompt).to.equal(16); // the request decoded from its data: URI
    expect(mod.stakePoolAbi.some((e) => e.type === "event" && e.name === "JobOpened")).to.equal(true);
  });
});
