/**
 * Generators found on-chain (docs/NETWORK.md): the GeneratorRegistry client (offchain/chain/registry.ts)
 * and the records and ranked listings read from a really played pool (offchain/chain/generator-record.ts).
 * Three generators play jobs to every outcome a record counts — finalized, upheld (GeneratorUpheld),
 * slashed (VerifierUpheld), forfeited (GeneratorForfeited), skipped (Cancelled) — plus one job left
 * open; a fourth is listed fresh and a fifth with an endpoint that is not http(s).
 */
import { expect } from "chai";
import { createPoolContext, claim, miss, E18, HOUR, MODEL_ID, TEST_PARAMS } from "../pool/helpers.js";
import { LocalStakePoolModule } from "../../ignition/modules/StakePool.js";
import { deployGeneratorRegistry, deployPoolWithRegistry } from "../../scripts/lib/pool-deploy.js";
import { readDeployment } from "../../scripts/lib/deployment.js";
import {
  ChainConfigError,
  ChainError,
  ContractRevertError,
  EndpointError,
  GeneratorRegistryClient,
  PoolClient,
  emptyRecord,
  failureRate,
  generatorRecords,
  listings,
  parseEndpoint,
  rankListings,
  recordsFromEvents,
  registryFor,
  JobState,
  type GeneratorListing,
  type PoolEvent,
} from "../../offchain/chain/index.js";

const ctx = await createPoolContext();
const { ethers, networkHelpers, openAndCommit, challenged, submit } = ctx;
const { time } = networkHelpers;

const A = MODEL_ID; // the model the fixture's verifiers serve
const B = "0x" + "b2".repeat(32);

/** A played pool: the fixture of test/pool/helpers.ts, a registry, five listings and the jobs of the module comment. */
async function played() {
  const f = await ctx.deployFixture();
  const [G, H] = [f.generator, f.other];
  const S = f.signers[12]!;
  const F = f.signers[13]!;
  const X = f.signers[14]!;
  for (const s of [S]) {
    await f.token.mint(s.address, 1_000_000n * E18);
    await f.token.connect(s).approve(f.poolAddress, ethers.MaxUint256);
  }
  const deployBlock = (await f.pool.deploymentTransaction()!.wait())!.blockNumber;
  const registryContract = await deployGeneratorRegistry(ethers, f.poolAddress);
  const pool = await PoolClient.create({ runner: ethers.provider, pool: f.poolAddress, deployBlock, pollMs: 20 });
  const registry = await GeneratorRegistryClient.create(pool, await registryContract.getAddress());
  const as = (s: typeof G) => registry.connect(s);
  await as(G).register({ models: [A], pricePerToken: 10n, endpoint: "http://127.0.0.1:9001/" });
  await as(H).register({ models: [A], pricePerToken: 5n, endpoint: "http://127.0.0.1:9002" });
  await as(S).register({ models: [A, B], pricePerToken: 10n, endpoint: "https://s.example/poc" });
  await as(F).register({ models: [B], pricePerToken: 10n, endpoint: "http://127.0.0.1:9004" });
  await registryContract.connect(X).register([A], 1n, "ftp://x.example"); // the contract checks only the length

  const as_ = (g: typeof G) => ({ ...f, generator: g });
  const settle = async () => {
    // G: finalized (no challenge), upheld (stage 1 agrees)
    const j1 = await openAndCommit(f);
    await time.increase(HOUR + 1);
    await f.pool.finalize(j1);
    const j2 = await challenged(f, f.v1);
    await submit(f, j2, claim);
    // H: slashed (V2 confirms V1's dissent), skipped (never commits)
    const fh = as_(H);
    const j3 = await challenged(fh, f.v1);
    await submit(fh, j3, miss(0), f.v2);
    await submit(fh, j3, miss(0));
    const j4 = (await f.pool.nextJobId()) as bigint;
    await f.pool.connect(f.user).openJob(H.address, A, 100n * E18, 20n * E18, "0x" + "22".repeat(32), "poc:direct");
    await time.increase(HOUR + 1);
    await f.pool.cancel(j4);
    // S: forfeited (no fingerprint answer), one job still committed
    const fs = as_(S);
    const j5 = await challenged(fs, f.v1);
    await submit(fs, j5, miss(0), undefined, { generatorAnswer: null });
    await openAndCommit(fs);
    return { j1, j2, j3, j4, j5 };
  };
  const jobs = await settle();
  return { f, pool, registry, registryContract, G, H, S, F, X, jobs, deployBlock };
}

describe("generators found on-chain: registry client, records, ranking", function () {
  this.timeout(120_000);
  let p: Awaited<ReturnType<typeof played>>;
  before(async () => {
    p = await played();
  });

  it("counts every outcome per generator from the pool's events in one pass", async function () {
    const r = await generatorRecords(p.pool);
    expect(r.get(p.G.address)).to.deep.equal({ ...emptyRecord(), jobs: 2, finalized: 1, upheld: 1 });
    expect(r.get(p.H.address)).to.deep.equal({ ...emptyRecord(), jobs: 2, slashed: 1, skipped: 1 });
    expect(r.get(p.S.address)).to.deep.equal({ ...emptyRecord(), jobs: 2, forfeited: 1 });
    expect(r.has(p.F.address)).to.equal(false);
    expect([failureRate(r.get(p.G.address)!), failureRate(r.get(p.H.address)!), failureRate(r.get(p.S.address)!), failureRate(emptyRecord())]).to.deep.equal([0, 1, 0.5, 0]);
  });

  it("counts only jobs opened from fromBlock on (a settlement of an earlier job is not counted)", async function () {
    const opened = (await p.pool.getEvents({ events: ["JobOpened"] })).filter((e) => e.name === "JobOpened" && e.jobId === p.jobs.j2);
    const r = await generatorRecords(p.pool, { fromBlock: opened[0]!.blockNumber });
    expect(r.get(p.G.address)).to.deep.equal({ ...emptyRecord(), jobs: 1, upheld: 1 });
  });

  it("lists a model's generators with their records, skipping an endpoint that is not http(s)", async function () {
    const skipped: string[] = [];
    const l = await listings(p.registry, p.pool, A, { onSkipped: (a, why) => skipped.push(`${a} ${why}`) });
    expect(l.map((x) => x.address).sort()).to.deep.equal([p.G.address, p.H.address, p.S.address].sort());
    expect(skipped).to.have.length(1);
    expect(skipped[0]).to.contain(p.X.address).and.to.contain("ftp://x.example");
    const g = l.find((x) => x.address === p.G.address)!;
    expect(g).to.deep.equal({ address: p.G.address, endpoint: "http://127.0.0.1:9001", models: [A], pricePerToken: 10n, record: { ...emptyRecord(), jobs: 2, finalized: 1, upheld: 1 } });
    expect((await listings(p.registry, p.pool, B)).map((x) => x.address).sort()).to.deep.equal([p.S.address, p.F.address].sort());
    expect((await listings(p.registry, p.pool)).length).to.equal(4);
  });

  it("ranks by price, then failure rate, then the longer record, then address", async function () {
    const all = await listings(p.registry, p.pool);
    expect(rankListings(all).map((l) => l.address)).to.deep.equal([p.H.address, p.G.address, p.F.address, p.S.address]);
    expect(rankListings(all, { maxFailureRate: 0.5 }).map((l) => l.address)).to.deep.equal([p.G.address, p.F.address, p.S.address]);
    expect(rankListings(all, { minJobs: 1 }).map((l) => l.address)).to.deep.equal([p.H.address, p.G.address, p.S.address]);
    expect(rankListings(all, { maxPricePerToken: 5n }).map((l) => l.address)).to.deep.equal([p.H.address]);
    // ties all the way down fall to the address, so every gateway tries the same order
    const twin = (address: string): GeneratorListing => ({ address, endpoint: "http://x", models: [A], pricePerToken: 1n, record: emptyRecord() });
    const a = twin("0x00000000000000000000000000000000000000aa");
    const b = twin("0x00000000000000000000000000000000000000BB");
    expect(rankListings([b, a]).map((l) => l.address)).to.deep.equal([a.address, b.address]);
    const before = all.map((l) => l.address);
    rankListings(all);
    expect(all.map((l) => l.address)).to.deep.equal(before); // a new array: the input is untouched
  });

  it("register updates a listing, unregister removes it; bad input is refused before anything is sent", async function () {
    const g = p.registry.connect(p.F);
    const nonce = await ethers.provider.getTransactionCount(p.F.address);
    await expectReject(g.register({ models: [B], pricePerToken: 1n, endpoint: "ws://127.0.0.1:1" }), EndpointError, /only http\(s\)/);
    await expectReject(g.register({ models: [B], pricePerToken: 1n, endpoint: "http://u:p@host" }), EndpointError, /credentials/);
    await expectReject(g.register({ models: [B], pricePerToken: 0n, endpoint: "http://h" }), ChainError, /must be positive/);
    await expectReject(g.register({ models: [], pricePerToken: 1n, endpoint: "http://h" }), ChainError, /at least one model/);
    await expectReject(g.register({ models: [B, B.toUpperCase().replace("0X", "0x")], pricePerToken: 1n, endpoint: "http://h" }), ChainError, /listed twice/);
    await expectReject(g.register({ models: [B], pricePerToken: 2n ** 128n, endpoint: "http://h" }), ChainError, /128 bits/);
    expect(await ethers.provider.getTransactionCount(p.F.address)).to.equal(nonce);

    const up = await g.register({ models: [A, B], pricePerToken: 3n, endpoint: "https://f.example/" });
    expect(up.registryEvents.map((e) => e.name)).to.deep.equal(["GeneratorUpdated"]);
    expect(await p.registry.listingOf(p.F.address)).to.include({ pricePerToken: 3n, endpoint: "https://f.example" });
    const out = await g.unregister();
    expect(out.registryEvents).to.deep.include({ name: "GeneratorUnregistered", generator: p.F.address, refund: 0n, blockNumber: out.blockNumber, transactionHash: out.hash });
    expect(await p.registry.listingOf(p.F.address)).to.equal(undefined);
    await expectReject(g.unregister(), ContractRevertError, /GeneratorRegistryNotRegistered/);
    const names = (await p.registry.events()).map((e) => e.name);
    expect(names.filter((n) => n === "GeneratorRegistered")).to.have.length(5);
    expect(names.slice(-2)).to.deep.equal(["GeneratorUpdated", "GeneratorUnregistered"]);
  });

  it("refuses a contract that is not a registry, or a registry of another pool", async function () {
    await expectReject(GeneratorRegistryClient.create(p.pool, p.pool.address), ChainConfigError, /not a GeneratorRegistry/);
    await expectReject(GeneratorRegistryClient.create(p.pool, "0x" + "12".repeat(20)), ChainConfigError, /no contract/);
    const { registry: other } = await deployPoolWithRegistry(ethers, [await p.f.token.getAddress(), p.f.owner.address, { ...TEST_PARAMS }, await p.f.rnd.getAddress(), p.f.owner.address]);
    await expectReject(GeneratorRegistryClient.create(p.pool, await other.getAddress()), ChainConfigError, /lists generators of pool/);
    await expectReject(registryFor(p.pool, { env: {} }), ChainConfigError, /no GeneratorRegistry known/);
    const viaEnv = await registryFor(p.pool, { env: { POC_GENERATOR_REGISTRY: p.registry.address } });
    expect(viaEnv.address).to.equal(p.registry.address);
  });

  it("the Ignition module deploys the registry bound to the pool; the deployment record carries it", async function () {
    const { stakePool, generatorRegistry } = await ctx.connection.ignition.deploy(LocalStakePoolModule, { displayUi: false, parameters: { LocalStakePool: { listingDeposit: "7" } } });
    const r = await ethers.getContractAt("GeneratorRegistry", await generatorRegistry.getAddress());
    expect(await r.pool()).to.equal(await stakePool.getAddress());
    expect(await r.listingDeposit()).to.equal(7n);
    const env = { POC_POOL_ADDRESS: await stakePool.getAddress(), POC_GENERATOR_REGISTRY: await r.getAddress() };
    expect((await readDeployment(31337, env)).generatorRegistry).to.equal(await r.getAddress());
    await expectReject(readDeployment(31337, { ...env, POC_GENERATOR_REGISTRY: "0x12" }), Error, /POC_GENERATOR_REGISTRY is not an address/);
  });

  it("counts stalemates and unverified challenges apart, and ignores settlements of jobs opened before the scan", function () {
    const where = (n: number) => ({ blockNumber: n, blockHash: "0x", transactionHash: "0x", logIndex: 0 });
    const g = "0x" + "ab".repeat(20);
    const opened = (jobId: bigint, n: number): PoolEvent =>
      ({ name: "JobOpened", jobId, user: g, generator: g, modelId: A, alphaCg: 1n, alphaCv: 1n, betaCg: 1n, betaCv: 1n, commitDeadline: 0, paramsId: 0, requestHash: "0x", requestUri: "", ...where(n) }) as PoolEvent;
    const settled = (jobId: bigint, outcome: JobState, n: number): PoolEvent =>
      ({ name: "JobSettled", jobId, outcome, stage: 1, userPayout: 0n, generatorPayout: 0n, verifiers: [], verifierPayouts: [], treasuryPayout: 0n, ...where(n) }) as PoolEvent;
    const r = recordsFromEvents([settled(1n, JobState.VerifierUpheld, 1), opened(2n, 2), opened(3n, 3), opened(4n, 4), settled(2n, JobState.Stalemate, 5), settled(3n, JobState.Unverified, 6)]);
    expect(r.get(ethers.getAddress(g))).to.deep.equal({ ...emptyRecord(), jobs: 3, stalemate: 1, unverified: 1 });
  });

  it("normalises endpoints the way listings use them", function () {
    expect(parseEndpoint("http://127.0.0.1:8547/")).to.equal("http://127.0.0.1:8547");
    expect(parseEndpoint("https://Gen.Example/a/b//")).to.equal("https://gen.example/a/b");
    expect(() => parseEndpoint("")).to.throw(EndpointError);
    expect(() => parseEndpoint("http://h/?q=1")).to.throw(EndpointError, /no query/);
    expect(() => parseEndpoint("http://h/" + "a".repeat(260))).to.throw(EndpointError, /256 bytes/);
    expect(() => parseEndpoint("not a url")).to.throw(EndpointError, /not a URL/);
  });
});

async function expectReject(p: Promise<unknown>, cls: abstract new (...a: never[]) => Error, re: RegExp) {
  try {
    await p;
  } catch (e) {
    expect(e).to.be.instanceOf(cls);
    expect(String((e as Error).message)).to.match(re);
    return;
  }
  expect.fail(`expected a rejection matching ${re}`);
}
