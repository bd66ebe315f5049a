/**
 * GeneratorRegistry (contracts/GeneratorRegistry.sol): listing, updating and leaving with the
 * refundable deposit; every bound and bad input with its custom error and arguments; enumeration
 * (all listings and per model, paginated) staying consistent as generators come and go; and the gas
 * of each write (bounded here, the figures printed when POC_GAS=1).
 */
import { expect } from "chai";
import { network } from "hardhat";
import { E18, TEST_PARAMS } from "./helpers.js";
import { deployPoolWithRegistry } from "../../scripts/lib/pool-deploy.js";

const { ethers, networkHelpers } = await network.create();

const M = (b: number) => "0x" + b.toString(16).padStart(2, "0").repeat(32);
const A = M(0xa1);
const B = M(0xb2);
const C = M(0xc3);
const URL1 = "http://127.0.0.1:8547";
const URL2 = "https://generator.example/poc";
const DEPOSIT = 5n * E18;

async function fixture() {
  const signers = await ethers.getSigners();
  const [owner, g1, g2, g3, g4, g5, poor] = signers;
  const token = await ethers.deployContract("TestToken");
  const rnd = await ethers.deployContract("MockRandomness");
  const { pool, registry } = await deployPoolWithRegistry(ethers, [await token.getAddress(), owner!.address, { ...TEST_PARAMS }, await rnd.getAddress(), owner!.address], {
    listingDeposit: DEPOSIT,
  });
  const at = await registry.getAddress();
  for (const g of [g1!, g2!, g3!, g4!, g5!]) {
    await token.mint(g.address, 100n * E18);
    await token.connect(g).approve(at, ethers.MaxUint256);
  }
  return { token, pool, registry, at, owner: owner!, g1: g1!, g2: g2!, g3: g3!, g4: g4!, g5: g5!, poor: poor! };
}
const load = () => networkHelpers.loadFixture(fixture);

type Registry = Awaited<ReturnType<typeof fixture>>["registry"];
const addrs = (page: readonly { generator: string }[]) => page.map((l) => l.generator);
async function modelMembers(r: Registry, m: string) {
  const [page, total] = await r.generatorsOf(m, 0, 100);
  expect(Number(total)).to.equal(page.length);
  return [...addrs(page)].sort();
}

describe("GeneratorRegistry", function () {
  it("is bound to its pool and the pool's stake token, with the deposit fixed at deployment", async function () {
    const f = await load();
    expect(await f.registry.pool()).to.equal(await f.pool.getAddress());
    expect(await f.registry.stakeToken()).to.equal(await f.token.getAddress());
    expect(await f.registry.listingDeposit()).to.equal(DEPOSIT);
    expect([await f.registry.MAX_MODELS(), await f.registry.MAX_ENDPOINT_BYTES()]).to.deep.equal([16n, 256n]);
    const factory = await ethers.getContractFactory("GeneratorRegistry");
    await expect(ethers.deployContract("GeneratorRegistry", [ethers.ZeroAddress, 0n])).to.be.revertedWithCustomError(factory, "GeneratorRegistryZeroAddress");
  });

  it("register lists a new generator, emits everything a listing needs and holds the deposit", async function () {
    const f = await load();
    const before = await f.token.balanceOf(f.g1.address);
    await expect(f.registry.connect(f.g1).register([A, B], 7n, URL1))
      .to.emit(f.registry, "GeneratorRegistered")
      .withArgs(f.g1.address, [A, B], 7n, URL1, DEPOSIT);
    expect(await f.token.balanceOf(f.g1.address)).to.equal(before - DEPOSIT);
    expect(await f.token.balanceOf(f.at)).to.equal(DEPOSIT);
    const l = await f.registry.listingOf(f.g1.address);
    const now = (await ethers.provider.getBlock("latest"))!.timestamp;
    expect([l.generator, [...l.models], l.pricePerToken, l.endpoint, l.active, l.registeredAt]).to.deep.equal([f.g1.address, [A, B], 7n, URL1, true, BigInt(now)]);
    expect(await f.registry.generatorCount()).to.equal(1n);
    expect([await f.registry.serves(f.g1.address, A), await f.registry.serves(f.g1.address, B), await f.registry.serves(f.g1.address, C)]).to.deep.equal([true, true, false]);
    expect(await modelMembers(f.registry, A)).to.deep.equal([f.g1.address]);
    expect(await f.registry.modelGeneratorCount(C)).to.equal(0n);
  });

  it("register by a listed generator updates in place: model lists follow, no second deposit, registeredAt kept", async function () {
    const f = await load();
    await f.registry.connect(f.g1).register([A, B], 7n, URL1);
    const first = (await f.registry.listingOf(f.g1.address)).registeredAt;
    await networkHelpers.time.increase(100);
    const bal = await f.token.balanceOf(f.g1.address);
    await expect(f.registry.connect(f.g1).register([B, C], 9n, URL2)).to.emit(f.registry, "GeneratorUpdated").withArgs(f.g1.address, [B, C], 9n, URL2);
    expect(await f.token.balanceOf(f.g1.address)).to.equal(bal);
    const l = await f.registry.listingOf(f.g1.address);
    expect([[...l.models], l.pricePerToken, l.endpoint, l.registeredAt]).to.deep.equal([[B, C], 9n, URL2, first]);
    expect(await f.registry.generatorCount()).to.equal(1n);
    expect(await modelMembers(f.registry, A)).to.deep.equal([]);
    expect(await modelMembers(f.registry, B)).to.deep.equal([f.g1.address]);
    expect(await modelMembers(f.registry, C)).to.deep.equal([f.g1.address]);
    expect(await f.registry.serves(f.g1.address, A)).to.equal(false);
  });

  it("unregister deletes the listing, returns the deposit exactly once and keeps the other listings enumerable", async function () {
    const f = await load();
    for (const g of [f.g1, f.g2, f.g3]) await f.registry.connect(g).register([A], 1n, URL1);
    await f.registry.connect(f.g3).register([A, B], 1n, URL1);
    const bal = await f.token.balanceOf(f.g1.address);
    await expect(f.registry.connect(f.g1).unregister()).to.emit(f.registry, "GeneratorUnregistered").withArgs(f.g1.address, DEPOSIT);
    expect(await f.token.balanceOf(f.g1.address)).to.equal(bal + DEPOSIT);
    expect(await f.token.balanceOf(f.at)).to.equal(2n * DEPOSIT);
    const l = await f.registry.listingOf(f.g1.address);
    expect([l.active, l.models.length, l.pricePerToken, l.endpoint, l.registeredAt]).to.deep.equal([false, 0, 0n, "", 0n]);
    // the last one took g1's place; both lists still hold exactly the listed generators
    const [all, total] = await f.registry.generators(0, 10);
    expect(total).to.equal(2n);
    expect([...addrs(all)].sort()).to.deep.equal([f.g2.address, f.g3.address].sort());
    expect(await modelMembers(f.registry, A)).to.deep.equal([f.g2.address, f.g3.address].sort());
    expect(await modelMembers(f.registry, B)).to.deep.equal([f.g3.address]);
    await expect(f.registry.connect(f.g1).unregister()).to.be.revertedWithCustomError(f.registry, "GeneratorRegistryNotRegistered").withArgs(f.g1.address);
    // leaving and coming back pays the deposit again, listed at the end
    await f.registry.connect(f.g3).unregister();
    await f.registry.connect(f.g1).register([B], 2n, URL2);
    expect(await modelMembers(f.registry, B)).to.deep.equal([f.g1.address]);
    expect(await f.token.balanceOf(f.at)).to.equal(2n * DEPOSIT);
  });

  it("rejects bad listings with their custom errors and arguments (models, price, endpoint)", async function () {
    const f = await load();
    const r = f.registry.connect(f.g1);
    const many = Array.from({ length: 17 }, (_, i) => M(i + 1));
    await expect(r.register([], 1n, URL1)).to.be.revertedWithCustomError(f.registry, "GeneratorRegistryTooManyModels").withArgs(0n, 16n);
    await expect(r.register(many, 1n, URL1)).to.be.revertedWithCustomError(f.registry, "GeneratorRegistryTooManyModels").withArgs(17n, 16n);
    await expect(r.register([A, ethers.ZeroHash], 1n, URL1)).to.be.revertedWithCustomError(f.registry, "GeneratorRegistryBadModel").withArgs(1n, ethers.ZeroHash);
    await expect(r.register([A, B, A], 1n, URL1)).to.be.revertedWithCustomError(f.registry, "GeneratorRegistryBadModel").withArgs(2n, A);
    await expect(r.register([A], 0n, URL1)).to.be.revertedWithCustomError(f.registry, "GeneratorRegistryZeroPrice");
    await expect(r.register([A], 1n, "")).to.be.revertedWithCustomError(f.registry, "GeneratorRegistryBadEndpoint").withArgs(0n, 256n);
    await expect(r.register([A], 1n, "http://x/" + "a".repeat(248))).to.be.revertedWithCustomError(f.registry, "GeneratorRegistryBadEndpoint").withArgs(257n, 256n);
    // the bounds themselves are accepted
    await r.register(many.slice(0, 16), 2n ** 128n - 1n, "http://x/" + "a".repeat(247));
    expect((await f.registry.listingOf(f.g1.address)).models.length).to.equal(16);
    // an update is checked the same way and leaves the listing as it was
    await expect(r.register(many, 1n, URL1)).to.be.revertedWithCustomError(f.registry, "GeneratorRegistryTooManyModels");
    expect(await f.registry.modelGeneratorCount(M(16))).to.equal(1n);
  });

  it("a first listing without the deposit's allowance reverts and lists nothing", async function () {
    const f = await load();
    await f.token.mint(f.poor.address, DEPOSIT);
    await expect(f.registry.connect(f.poor).register([A], 1n, URL1)).to.be.revertedWithCustomError(f.token, "ERC20InsufficientAllowance");
    expect(await f.registry.generatorCount()).to.equal(0n);
    expect(await f.registry.serves(f.poor.address, A)).to.equal(false);
  });

  it("pages through all listings and through one model's, at any offset", async function () {
    const f = await load();
    const gs = [f.g1, f.g2, f.g3, f.g4, f.g5];
    for (const [i, g] of gs.entries()) await f.registry.connect(g).register(i % 2 === 0 ? [A, B] : [B], BigInt(i + 1), URL1);
    const seen: string[] = [];
    for (let off = 0; off < 7; off += 2) {
      const [page, total] = await f.registry.generators(off, 2);
      expect(total).to.equal(5n);
      expect(page.length).to.equal(Math.max(0, Math.min(2, 5 - off)));
      seen.push(...addrs(page));
    }
    expect(seen.sort()).to.deep.equal(gs.map((g) => g.address).sort());
    const [pA, tA] = await f.registry.generatorsOf(A, 1, 10);
    expect([tA, pA.length]).to.deep.equal([3n, 2]);
    expect((await f.registry.generatorsOf(B, 5, 10))[0].length).to.equal(0);
    expect((await f.registry.generatorsOf(B, 0, 0))[0].length).to.equal(0);
    expect((await f.registry.generatorsOf(C, 0, 10))[1]).to.equal(0n);
    // a listing in a page is the full listing
    const [[first]] = await f.registry.generators(0, 1);
    const full = await f.registry.listingOf(first!.generator);
    expect([first!.pricePerToken, first!.endpoint, first!.active, [...first!.models]]).to.deep.equal([full.pricePerToken, full.endpoint, true, [...full.models]]);
  });

  it("gas of register, update and unregister stays bounded", async function () {
    const f = await load();
    const gas = async (p: Promise<{ wait(): Promise<{ gasUsed: bigint } | null> }>) => (await (await p).wait())!.gasUsed;
    const sixteen = Array.from({ length: 16 }, (_, i) => M(i + 1));
    const rows: [string, bigint][] = [
      ["register, 1 model, 21-byte endpoint, with deposit", await gas(f.registry.connect(f.g1).register([A], 1n, URL1))],
      ["register, 1 model, another generator (the registry already holds a deposit)", await gas(f.registry.connect(f.g3).register([A], 1n, URL1))],
      ["update: same model, new price", await gas(f.registry.connect(f.g1).register([A], 2n, URL1))],
      ["update: 1 model replaced, new endpoint", await gas(f.registry.connect(f.g1).register([B], 2n, URL2))],
      ["unregister, 1 model", await gas(f.registry.connect(f.g1).unregister())],
      ["register, 16 models, with deposit", await gas(f.registry.connect(f.g2).register(sixteen, 1n, URL1))],
      ["update: 16 models all replaced", await gas(f.registry.connect(f.g2).register(sixteen.map((m) => m.replace(/^0x../, "0xee")), 1n, URL1))],
      ["unregister, 16 models", await gas(f.registry.connect(f.g2).unregister())],
    ];
    if (process.env.POC_GAS === "1") for (const [what, g] of rows) console.log(`      gas ${String(g).padStart(8)}  ${what}`);
    const g = Object.fromEntries(rows);
    expect(g["register, 1 model, 21-byte endpoint, with deposit"]).to.be.below(300_000n);
    expect(g["register, 16 models, with deposit"]).to.be.below(1_800_000n);
    expect(g["update: 16 models all replaced"]).to.be.below(1_500_000n);
    expect(g["update: same model, new price"]).to.be.below(60_000n);
    expect(g["unregister, 16 models"]).to.be.below(400_000n);
  });
});
