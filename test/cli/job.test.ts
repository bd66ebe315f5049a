/**
 * The user's commands and the generator worker as separate processes (`node bin/poc.js …`) over
 * JSON-RPC, against Hardhat's in-process network served over HTTP by this test (the node's accounts
 * are unlocked, as with `npx hardhat node`): job open → worker generator --once commits → job status →
 * job challenge → an in-process verifier worker replays → job status shows the stage and payouts →
 * withdraw; a finalize after the challenge window; and bad input answered with a clear message.
 */
import { expect } from "chai";
import { copyFile, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { network } from "hardhat";
import { JobState, PoolClient } from "../../offchain/chain/index.js";
import { buildModel } from "../../offchain/model/index.js";
import { createLogger } from "../../offchain/worker/log.js";
import { startVerifierWorker } from "../../offchain/worker/verifier.js";
import { E18, HOUR, HOURLY_PARAMS, bondVerifiers, deployTestPool } from "../worker/helpers.js";
import { modelIdOf } from "../../offchain/model/index.js";
import { poc as pocAsync } from "../poc-cli.js";
import { serveJsonRpc } from "../../scripts/lib/rpc-server.js";

/** The CLI with no chain settings from the environment: every test names its own. */
const poc = (...args: string[]) => pocAsync(args, { POC_PRIVATE_KEY: "", POC_RPC_URL: "", POC_DEPLOYMENT: "", POC_POOL_ADDRESS: "" });

const connection = await network.create();
const { ethers, networkHelpers } = connection;

describe("poc job / withdraw / worker generator CLI over JSON-RPC", function () {
  this.timeout(240_000);
  let tmp: string;
  let rpc: Awaited<ReturnType<typeof serveJsonRpc>>;
  let client: PoolClient;
  let chain: string[];
  let genAddress: string;
  let verifierAddress: string;
  let rnd: Awaited<ReturnType<typeof deployTestPool>>["rnd"];
  let modelId: string;

  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), "poc-job-cli-"));
    await buildModel(join(tmp, "models", "tiny"), { preset: "tiny" });
    const signers = await ethers.getSigners();
    const [owner, , gen, v] = signers;
    genAddress = gen!.address;
    verifierAddress = v!.address;
    const deployed = await deployTestPool(ethers, owner!.address, HOURLY_PARAMS);
    rnd = deployed.rnd;
    client = await PoolClient.create({ runner: owner!, pool: deployed.poolAddress, deployBlock: deployed.deployBlock, pollMs: 20 });
    modelId = await modelIdOf(join(tmp, "models", "tiny"));
    rpc = await serveJsonRpc(connection.provider);
    chain = ["--rpc", rpc.url, "--pool", client.address, "--deploy-block", String(deployed.deployBlock)];
    // account 3 bonds through the CLI (declaring the models of the directory); 6..9 with the helper
    const bond = await poc("verifier", "bond", "50", ...chain, "--account", "3", "--models", join(tmp, "models"), "--mint");
    expect(bond.status, bond.stderr).to.equal(0);
    expect(bond.stdout).to.match(/declared 1 model\(s\)/);
    expect(bond.stdout).to.match(/bonded 50 /);
    await bondVerifiers(client, signers.slice(6, 10), [modelId], 50n * E18);
  });
  after(async () => {
    await rpc?.close();
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
    expect(ch.stdout).to.match(/stage 1 joined the draw queue/);
    expect(ch.stdout).to.match(/draw epoch started: randomness request 1/);
    // the epoch's word (MockRandomness) picks account 3; anyone advances the queue
    const epoch = await client.drawEpoch();
    await rnd.fulfil(epoch.requestId, await client.drawWordFor(modelId, 1n, 1, verifierAddress));
    const draw = await poc("pool", "draw", ...chain, "--account", "5");
    expect(draw.status, draw.stderr).to.equal(0);
    expect(draw.stdout).to.include(`job 1 stage 1: verifier ${verifierAddress} drawn`);
    const empty = await poc("pool", "draw", ...chain, "--account", "5");
    expect(empty.stdout).to.match(/nothing to draw: the draw queue is empty/);

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
    // The verifier commits its result; the generator (run again) answers the stage's fingerprint seed, then
    // the verifier reveals.
    for (let i = 0; (await client.getJob(1n)).state !== JobState.Answering; i++) {
      if (i > 600) throw new Error("the verifier never committed its result");
      await new Promise((r) => setTimeout(r, 50));
    }
    const answered = await generatorOnce();
    expect(answered.status, answered.stderr).to.equal(0);
    expect(answered.stderr).to.match(/job 1: answered stage 1's fingerprint seed/);
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

  it("verifier status shows the weight per model and whether it can be drawn; rebond bonds the credit; models --none leaves every draw", async () => {
    const st = await poc("verifier", "status", ...chain, "--account", "3");
    expect(st.status, st.stderr).to.equal(0);
    expect(st.stdout).to.include(`model       ${modelId}: weight`);
    expect(st.stdout).to.match(/of \d+(\.\d+)? \(\d+(\.\d+)?%, 5 verifier\(s\)\)/);
    expect(st.stdout).to.match(/credit +6 /); // job 1's stage-1 payout (α + β)Cv
    const rb = await poc("verifier", "rebond", ...chain, "--account", "3");
    expect(rb.status, rb.stderr).to.equal(0);
    expect(rb.stdout).to.match(/bonded 6 of the credit/);
    expect((await client.bondOf(verifierAddress)).bond).to.equal(50n * E18 - 4n * E18 + 6n * E18);
    expect(await client.weightOf(modelId, verifierAddress)).to.equal(52n * E18);
    const none = await poc("verifier", "models", ...chain, "--account", "3", "--none");
    expect(none.status, none.stderr).to.equal(0);
    expect(none.stdout).to.match(/none declared: this verifier is never drawn/);
    expect(await client.weightOf(modelId, verifierAddress)).to.equal(0n);
    const back = await poc("verifier", "models", modelId, ...chain, "--account", "3");
    expect(back.stdout).to.match(/can be drawn/);
    const bad = await poc("verifier", "models", "0x1234", ...chain, "--account", "3");
    expect(bad.status).to.equal(1);
    expect(bad.stderr).to.match(/a model id is 0x followed by 64 hex digits/);
  });

  it("a challenge nobody draws: timeout-draw after the draw window settles it as Unverified; the status says what happened", async () => {
    const open = await poc("job", "open", ...chain, "--account", "1", "--generator", genAddress, "--model", join(tmp, "models", "tiny"), "--prompt-tokens", "256,72", "--max-tokens", "4", "--cg", "10", "--cv", "2", "--mint", "--json");
    expect(open.status, open.stderr).to.equal(0);
    const id = (JSON.parse(open.stdout) as { jobId: string }).jobId;
    expect((await generatorOnce()).status).to.equal(0);
    await rnd.setMode(1); // the randomness never arrives
    try {
      expect((await poc("job", "challenge", id, ...chain, "--account", "1")).status).to.equal(0);
      const pending = await poc("pool", "draw", ...chain, "--account", "5");
      expect(pending.stdout).to.match(/randomness pending \(request \d+\)/);
      const waiting = await poc("job", "status", id, ...chain);
      expect(waiting.stdout).to.match(new RegExp(`job ${id}: AwaitingVerifier`));
      expect(waiting.stdout).to.match(/poc pool draw/);
      const early = await poc("job", "timeout-draw", id, ...chain, "--account", "5");
      expect(early.status).to.equal(1);
      expect(early.stderr).to.match(/StakePoolDeadlineNotReached/);
      await networkHelpers.time.increase(HOUR + 1);
      const t = await poc("job", "timeout-draw", id, ...chain, "--account", "5");
      expect(t.status, t.stderr).to.equal(0);
      expect(t.stdout).to.match(/settled Unverified: user 0, generator 30/);
      const s = await poc("job", "status", id, ...chain);
      expect(s.stdout).to.match(new RegExp(`job ${id}: Unverified`));
      expect(s.stdout).to.match(/treasury +2\b/);
    } finally {
      await rnd.setMode(0);
    }
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

  it("job open --variant names that variant's model id; a directory of several variants without it is refused before anything is sent", async () => {
    const multi = join(tmp, "multi");
    await buildModel(multi, { preset: "tiny", layout: "onnx" });
    await buildModel(join(tmp, "multi-fp16"), { preset: "tiny", layout: "onnx", dtype: "fp16", variantName: "fp16" });
    await copyFile(join(tmp, "multi-fp16", "onnx", "model_fp16.onnx"), join(multi, "onnx", "model_fp16.onnx"));
    const fp16Id = await modelIdOf(multi, { variant: "fp16" });
    const open = (...extra: string[]) =>
      poc("job", "open", ...chain, "--account", "1", "--generator", genAddress, "--model", multi, ...extra, "--prompt", "hi", "--max-tokens", "4", "--cg", "10", "--cv", "2", "--mint", "--json");
    const before = await client.nextJobId();
    const user = (await ethers.getSigners())[1]!.address;
    const wallet = await client.tokenBalance(user);
    const [none, fp16] = await Promise.all([open(), open("--variant", "fp16")]);
    expect(none.status).to.equal(1);
    expect(none.stderr).to.match(/Several ONNX variants in the directory \(fp32, fp16\): choose one with --variant/);
    // the fp16 variant is a model of its own, which no verifier of this pool declared: the pool's check names its id
    expect(fp16.status, fp16.stdout + fp16.stderr).to.equal(1);
    expect(fp16.stderr).to.include(`model ${fp16Id.toLowerCase()} is not served enough to open a job: 0 verifier(s)`);
    expect(await client.tokenBalance(user), "refused before --mint minted anything").to.equal(wallet);
    expect(fp16Id).to.not.equal(modelId);
    expect(await client.nextJobId()).to.equal(before);
  });
});
