/**
 * `poc generator register|list|unregister` as separate processes over JSON-RPC (Hardhat's in-process
 * network served over HTTP by this test): list with the models of a directory and the deposit
 * (minted on the local TestToken), list as text and JSON, update by id, leave with the deposit back,
 * and bad input (endpoint, price, unknown registry) refused with one line before any transaction.
 */
import { expect } from "chai";
import { serveJsonRpc, type RpcServer } from "../../scripts/lib/rpc-server.js";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { network } from "hardhat";
import { buildModel, modelIdOf } from "../../offchain/model/index.js";
import { E18, HOURLY_PARAMS, deployTestPool } from "../worker/helpers.js";
import { deployGeneratorRegistry } from "../../scripts/lib/pool-deploy.js";
import { poc as pocAsync } from "../poc-cli.js";

const poc = (...args: string[]) => pocAsync(args, { POC_PRIVATE_KEY: "", POC_RPC_URL: "", POC_DEPLOYMENT: "", POC_POOL_ADDRESS: "", POC_GENERATOR_REGISTRY: "" });

const connection = await network.create();
const { ethers } = connection;

/** JSON-RPC over HTTP in front of the in-process provider. */

describe("poc generator register / list / unregister over JSON-RPC", function () {
  this.timeout(180_000);
  let tmp: string;
  let rpc: RpcServer;
  let chain: string[];
  let withRegistry: string[];
  let registry: string;
  let token: Awaited<ReturnType<typeof deployTestPool>>["token"];
  let gen: string;
  let modelId: string;

  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), "poc-generator-cli-"));
    await buildModel(join(tmp, "models", "tiny"), { preset: "tiny" });
    modelId = await modelIdOf(join(tmp, "models", "tiny"));
    const [owner, , g] = await ethers.getSigners();
    gen = g!.address;
    const d = await deployTestPool(ethers, owner!.address, HOURLY_PARAMS);
    token = d.token;
    registry = await (await deployGeneratorRegistry(ethers, d.poolAddress, 3n * E18)).getAddress();
    rpc = await serveJsonRpc(connection.provider);
    chain = ["--rpc", rpc.url, "--pool", d.poolAddress, "--deploy-block", String(d.deployBlock)];
    withRegistry = [...chain, "--registry", registry];
  });
  after(async () => {
    await rpc?.close();
    await rm(tmp, { recursive: true, force: true });
  });

  it("registers the models of a directory with the deposit, lists them ranked (text and JSON), updates, unregisters", async () => {
    const reg = await poc("generator", "register", ...withRegistry, "--account", "2", "--models", join(tmp, "models"), "--price", "0.001", "--endpoint", "http://127.0.0.1:8547/", "--mint");
    expect(reg.status, reg.stderr).to.equal(0);
    expect(reg.stdout).to.match(new RegExp(`registered ${gen} \\(tx 0x[0-9a-f]{64}, gas \\d+\\): 1 model\\(s\\), 0\\.001 per token, http://127\\.0\\.0\\.1:8547\\n`));
    expect(reg.stdout).to.contain("deposit 3 held until `poc generator unregister`");
    expect(await token.balanceOf(registry)).to.equal(3n * E18);

    const json = await poc("generator", "list", ...withRegistry, "--json", "--model", modelId);
    expect(json.status, json.stderr).to.equal(0);
    const out = JSON.parse(json.stdout) as { generators: { address: string; pricePerToken: string; endpoint: string; models: string[]; record: { jobs: number }; failureRate: number }[] };
    expect(out.generators).to.have.length(1);
    expect(out.generators[0]).to.deep.include({ address: gen, pricePerToken: (10n ** 15n).toString(), endpoint: "http://127.0.0.1:8547", models: [modelId], failureRate: 0 });
    expect(out.generators[0]!.record.jobs).to.equal(0);

    const other = "0x" + "0e".repeat(32);
    const up = await poc("generator", "register", ...withRegistry, "--account", "2", "--model-id", modelId, other, "--price", "0.002", "--endpoint", "https://gen.example/poc");
    expect(up.status, up.stderr).to.equal(0);
    expect(up.stdout).to.match(/^updated the listing of 0x[0-9a-fA-F]{40} .*2 model\(s\), 0\.002 per token, https:\/\/gen\.example\/poc/);
    expect(await token.balanceOf(registry)).to.equal(3n * E18); // no second deposit

    const text = await poc("generator", "list", ...withRegistry, "--model", other);
    expect(text.status, text.stderr).to.equal(0);
    expect(text.stdout).to.contain(`1. ${gen}  0.002 per token  https://gen.example/poc`);
    expect(text.stdout).to.contain("record: 0 job(s): 0 finalized, 0 upheld, 0 slashed, 0 forfeited, 0 skipped (failure rate 0.0%)");
    const none = await poc("generator", "list", ...withRegistry, "--model", "0x" + "0f".repeat(32));
    expect(none.stdout.trim()).to.equal("no generators listed");

    const before = await token.balanceOf(gen);
    const un = await poc("generator", "unregister", ...withRegistry, "--account", "2");
    expect(un.status, un.stderr).to.equal(0);
    expect(un.stdout).to.match(/^unregistered 0x[0-9a-fA-F]{40} \(tx 0x[0-9a-f]{64}, gas \d+\); deposit 3 returned/);
    expect(await token.balanceOf(gen)).to.equal(before + 3n * E18);
    const again = await poc("generator", "unregister", ...withRegistry, "--account", "2");
    expect(again.status).to.equal(1);
    expect(again.stderr.trim()).to.equal(`error: ${gen} is not listed in the GeneratorRegistry ${registry}`);
  });

  it("refuses a bad endpoint, price or model list, and an unknown registry, in one line and before any transaction", async () => {
    const nonce = await ethers.provider.getTransactionCount(gen);
    const base = ["generator", "register", ...withRegistry, "--account", "2", "--model-id", modelId];
    const cases: [string[], RegExp][] = [
      [[...base, "--price", "1", "--endpoint", "ftp://x.example"], /^error: bad generator endpoint: only http\(s\) endpoints, not ftp:$/],
      [[...base, "--price", "1", "--endpoint", "nope"], /^error: bad generator endpoint: not a URL: "nope"$/],
      [[...base, "--price", "0", "--endpoint", "http://h"], /^error: --price 0: the price per token must be positive$/],
      [[...base, "--price", "-1", "--endpoint", "http://h"], /^error: --price -1: not a token amount/],
      [["generator", "register", ...withRegistry, "--account", "2", "--model-id", "0x12", "--price", "1", "--endpoint", "http://h"], /^error: --model-id: not a model id/],
      [["generator", "register", ...withRegistry, "--account", "2", "--price", "1", "--endpoint", "http://h"], /^error: name the models served: --models DIR or --model-id ID\.\.\.$/],
      [["generator", "list", ...chain], /^error: no GeneratorRegistry known for this pool\nDetails: pass --registry ADDRESS/],
    ];
    for (const [args, re] of cases) {
      const r = await poc(...args);
      expect(r.status, `${args.join(" ")}: ${r.stdout}`).to.equal(1);
      expect(r.stderr.trim(), args.join(" ")).to.match(re);
    }
    expect(await ethers.provider.getTransactionCount(gen)).to.equal(nonce);
  });

  it("worker generator --register lists the worker on start with its own URL, and sends nothing when the listing is unchanged", async () => {
    const worker = (...extra: string[]) =>
      poc("worker", "generator", ...chain, "--account", "2", "--models", join(tmp, "models"), "--store", join(tmp, "store"), "--state", join(tmp, "state"), "--once", "--poll", "100", "--mint", ...extra);
    const bad = await worker("--register");
    expect(bad.status).to.equal(1);
    expect(bad.stderr.trim()).to.equal("error: --register needs --price TOKENS (whole stake tokens per generated token)");
    const first = await worker("--register", "--price", "0.5", "--registry", registry);
    expect(first.status, first.stderr).to.equal(0);
    expect(first.stderr).to.match(new RegExp(`registered in the GeneratorRegistry ${registry}: 1 model\\(s\\), 0\\.5 per token, http://127\\.0\\.0\\.1:\\d+`));
    const listed = JSON.parse((await poc("generator", "list", ...withRegistry, "--json")).stdout) as { generators: { address: string; endpoint: string; pricePerToken: string }[] };
    expect(listed.generators.map((g) => [g.address, g.pricePerToken])).to.deep.equal([[gen, (5n * 10n ** 17n).toString()]]);
    const nonce = await ethers.provider.getTransactionCount(gen);
    const second = await worker("--register", "--price", "0.5", "--registry", registry, "--endpoint", listed.generators[0]!.endpoint);
    expect(second.status, second.stderr).to.equal(0);
    expect(second.stderr).to.contain(`unchanged in the GeneratorRegistry ${registry}`);
    expect(await ethers.provider.getTransactionCount(gen)).to.equal(nonce);
  });
});
