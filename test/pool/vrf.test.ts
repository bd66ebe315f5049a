/**
 * ChainlinkVrfRandomness: the pool's draws from Chainlink VRF v2.5 (contracts/vrf), against a mock
 * coordinator that answers when the test says so.
 */
import { expect } from "chai";
import { createPoolContext, type Addressable } from "./helpers.js";

const { ethers, networkHelpers, deployFixture, openAndCommit } = await createPoolContext();

const KEY_HASH = "0x" + "ab".repeat(32);
const CONFIG = { keyHash: KEY_HASH, subId: 77n, requestConfirmations: 3, callbackGasLimit: 100_000, nativePayment: true, maxWait: 3600 };

async function vrfFixture() {
  const f = await networkHelpers.loadFixture(deployFixture);
  const coordinator = await ethers.deployContract("MockVrfCoordinator");
  const vrf = await ethers.deployContract("ChainlinkVrfRandomness", [await coordinator.getAddress(), CONFIG, f.owner.address]);
  await vrf.connect(f.owner).setRequester(f.poolAddress);
  await f.pool.connect(f.owner).setRandomnessSource(await vrf.getAddress());
  return { ...f, coordinator, vrf };
}

const wordsOf = (w: bigint) => [w];

describe("ChainlinkVrfRandomness (issue 10: a VRF drops in through setRandomnessSource)", () => {
  it("a challenge asks the coordinator for one word with the configured lane, subscription, confirmations, gas and payment", async () => {
    const f = await vrfFixture();
    const jobId = await openAndCommit(f);
    await expect(f.pool.connect(f.user).challenge(jobId)).to.emit(f.vrf, "VrfRequested");
    const id = await f.coordinator.lastRequestId();
    expect((await f.pool.drawEpoch()).requestId).to.equal(id);
    const [ev] = await f.coordinator.queryFilter(f.coordinator.filters.RandomWordsRequested());
    const r = ev!.args;
    expect(r.requestId).to.equal(id);
    expect(r.sender).to.equal(await f.vrf.getAddress());
    expect(r.keyHash).to.equal(KEY_HASH);
    expect(r.subId).to.equal(77n);
    expect(r.minimumRequestConfirmations).to.equal(3n);
    expect(r.callbackGasLimit).to.equal(100_000n);
    expect(r.numWords).to.equal(1n);
    const tag = ethers.keccak256(ethers.toUtf8Bytes("VRF ExtraArgsV1")).slice(0, 10);
    expect(r.extraArgs).to.equal(tag + ethers.AbiCoder.defaultAbiCoder().encode(["bool"], [true]).slice(2));
  });

  it("draws wait for the coordinator's answer, then draw with it; the word is bound to the chain and the request", async () => {
    const f = await vrfFixture();
    const jobId = await openAndCommit(f);
    await f.pool.connect(f.user).challenge(jobId);
    const id = await f.coordinator.lastRequestId();
    await expect(f.pool.connect(f.stranger).drawVerifiers(10)).to.be.revertedWithCustomError(f.pool, "StakePoolRandomnessPending");
    await expect(f.coordinator.fulfil(id, wordsOf(12345n))).to.emit(f.vrf, "VrfFulfilled").withArgs(id, 12345n);
    const [status, word] = await f.vrf.randomness(id);
    expect(status).to.equal(1n); // Ready
    const chainId = (await ethers.provider.getNetwork()).chainId;
    expect(word).to.equal(BigInt(ethers.keccak256(ethers.AbiCoder.defaultAbiCoder().encode(["uint256", "uint256", "uint256"], [12345n, chainId, id]))));
    await expect(f.pool.connect(f.stranger).drawVerifiers(10)).to.emit(f.pool, "VerifierAssigned");
    expect((await f.pool.getJob(jobId)).state).to.equal(3n); // Verifying
  });

  it("nobody but the pool can spend the subscription, and nobody but the coordinator can answer", async () => {
    const f = await vrfFixture();
    await expect(f.vrf.connect(f.stranger).requestRandomness()).to.be.revertedWithCustomError(f.vrf, "ChainlinkVrfNotRequester").withArgs(f.stranger.address, f.poolAddress);
    const jobId = await openAndCommit(f);
    await f.pool.connect(f.user).challenge(jobId);
    const id = await f.coordinator.lastRequestId();
    await expect(f.vrf.connect(f.stranger).rawFulfillRandomWords(id, [1n]))
      .to.be.revertedWithCustomError(f.vrf, "ChainlinkVrfNotCoordinator")
      .withArgs(f.stranger.address, await f.coordinator.getAddress());
    await expect(f.vrf.connect(f.owner).setRequester(f.stranger.address)).to.emit(f.vrf, "RequesterSet");
    await expect(f.vrf.connect(f.stranger).setRequester(f.stranger.address)).to.be.revertedWithCustomError(f.vrf, "OwnableUnauthorizedAccount");
  });

  it("an answer is taken once, only for a request the adapter made, and must carry a word", async () => {
    const f = await vrfFixture();
    const jobId = await openAndCommit(f);
    await f.pool.connect(f.user).challenge(jobId);
    const id = await f.coordinator.lastRequestId();
    await expect(f.coordinator.fulfil(id, [])).to.be.revertedWithCustomError(f.vrf, "ChainlinkVrfNoWords").withArgs(id);
    await f.coordinator.fulfil(id, [7n]);
    await expect(f.coordinator.fulfil(id, [8n])).to.be.revertedWithCustomError(f.vrf, "ChainlinkVrfUnknownRequest").withArgs(id);
    expect((await f.vrf.randomness(id))[1]).to.not.equal(0n);
    const [status] = await f.vrf.randomness(id + 1n);
    expect(status).to.equal(0n); // Pending: never requested
  });

  it("a request the coordinator leaves unanswered past maxWait reads Expired and the pool asks again (a late answer is ignored)", async () => {
    const f = await vrfFixture();
    const jobId = await openAndCommit(f);
    await f.pool.connect(f.user).challenge(jobId);
    const first = await f.coordinator.lastRequestId();
    expect((await f.pool.drawEpoch()).requestId).to.equal(first);
    await networkHelpers.time.increase(CONFIG.maxWait + 1);
    expect((await f.vrf.randomness(first))[0]).to.equal(2n); // Expired
    await f.pool.connect(f.stranger).drawVerifiers(10); // re-requests, draws nothing
    const second = await f.coordinator.lastRequestId();
    expect(second).to.not.equal(first);
    expect((await f.pool.drawEpoch()).requestId).to.equal(second);
    await f.coordinator.fulfil(first, [1n]); // too late: the adapter stores it, the pool no longer reads it
    expect((await f.vrf.randomness(first))[0]).to.equal(2n);
    await f.coordinator.fulfil(second, [2n]);
    await expect(f.pool.connect(f.stranger).drawVerifiers(10)).to.emit(f.pool, "VerifierAssigned");
  });

  it("refuses settings that would break answers: tiny callback gas, zero confirmations, maxWait under a minute, no coordinator", async () => {
    const f = await networkHelpers.loadFixture(deployFixture);
    const coordinator = await ethers.deployContract("MockVrfCoordinator");
    const factory = await ethers.getContractFactory("ChainlinkVrfRandomness");
    const at = await coordinator.getAddress();
    for (const [bad, what] of [
      [{ ...CONFIG, callbackGasLimit: 10_000 }, "callbackGasLimit below 30000"],
      [{ ...CONFIG, requestConfirmations: 0 }, "requestConfirmations must be at least 1"],
      [{ ...CONFIG, maxWait: 10 }, "maxWait below 60 seconds"],
    ] as const) {
      await expect(factory.deploy(at, bad, f.owner.address)).to.be.revertedWithCustomError(factory, "ChainlinkVrfBadConfig").withArgs(what);
    }
    await expect(factory.deploy(ethers.ZeroAddress, CONFIG, f.owner.address)).to.be.revertedWithCustomError(factory, "ChainlinkVrfBadConfig").withArgs("coordinator");
  });

  it("gas: the adapter's request (with the mock coordinator) fits the pool's RANDOMNESS_GAS cap; the callback fits 100,000", async () => {
    const f = await networkHelpers.loadFixture(deployFixture);
    const coordinator = await ethers.deployContract("MockVrfCoordinator");
    const vrf = await ethers.deployContract("ChainlinkVrfRandomness", [await coordinator.getAddress(), CONFIG, f.owner.address]);
    await vrf.connect(f.owner).setRequester(f.stranger.address);
    const tx = await vrf.connect(f.stranger).requestRandomness();
    const used = (await tx.wait())!.gasUsed - 21_000n;
    const cap = await f.pool.RANDOMNESS_GAS();
    console.log(`      ChainlinkVrfRandomness.requestRandomness with the mock coordinator: ${used} gas (cap ${cap})`);
    expect(used).to.be.below(cap);
    const id = await coordinator.lastRequestId();
    const ful = await (await coordinator.fulfil(id, [3n])).wait();
    console.log(`      fulfil (coordinator → rawFulfillRandomWords): ${ful!.gasUsed} gas in all`);
    expect(ful!.gasUsed).to.be.below(100_000n + 21_000n);
  });
});

export type { Addressable };
