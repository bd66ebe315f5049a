/**
 * Hostile tokens: a fee-on-transfer token is rejected by the balance-delta check, and a token that
 * re-enters the pool from inside a transfer is stopped by the reentrancy guard.
 */
import { expect } from "chai";
import { network } from "hardhat";
import { keepFloatCloseTo } from "./float-close-to.js";
import { E18, HOUR, MODEL_ID, REQUEST_HASH, REQUEST_URI, NUM_CHECKS, ROOT, URI, TEST_PARAMS } from "./helpers.js";
import { deployStakePool } from "../../scripts/lib/pool-deploy.js";
import type { ReentrantToken } from "../../types/ethers-contracts/index.js";

const T = (n: number | bigint) => BigInt(n) * E18;

const { ethers, networkHelpers } = await network.create();
keepFloatCloseTo();

async function poolWith(tokenName: "FeeOnTransferToken" | "ReentrantToken") {
  const signers = await ethers.getSigners();
  const [owner, user, generator, verifier] = signers;
  const registered = signers.slice(4, 9);
  if (!owner || !user || !generator || !verifier || registered.length < 5) throw new Error("need 9 accounts");
  // both mocks are ERC-20s with mint(); ReentrantToken adds arm() and the probes
  const token = (await ethers.deployContract(tokenName as "ReentrantToken")) as unknown as ReentrantToken;
  const rnd = await ethers.deployContract("MockRandomness");
  const pool = await deployStakePool(ethers, [await token.getAddress(), owner.address, { ...TEST_PARAMS }, await rnd.getAddress(), owner.address]);
  for (const s of [user, generator, verifier, ...registered]) {
    await token.mint(s.address, T(1_000_000));
    await token.connect(s).approve(await pool.getAddress(), ethers.MaxUint256);
  }
  // five verifiers serve MODEL_ID, so that jobs can be opened (a fee-on-transfer token lets them bond first)
  const fee = tokenName === "FeeOnTransferToken" ? (token as unknown as { setFeeOn(on: boolean): Promise<unknown> }) : null;
  if (fee) await fee.setFeeOn(false);
  for (const v of registered) {
    await pool.connect(v).setModels([MODEL_ID]);
    await pool.connect(v).bond(T(100));
  }
  if (fee) await fee.setFeeOn(true);
  return { token, pool, owner, user, generator, verifier };
}

const feeFixture = () => poolWith("FeeOnTransferToken");
const reentrantFixture = () => poolWith("ReentrantToken");

describe("StakePool: hostile tokens", function () {
  it("rejects a fee-on-transfer token on every deposit (openJob, bond)", async function () {
    const { pool, user, generator, verifier } = await networkHelpers.loadFixture(feeFixture);
    // user deposit 60 tokens, 1% burnt on the way: the pool receives 59.4
    await expect(pool.connect(user).openJob(generator.address, MODEL_ID, T(100), T(20), REQUEST_HASH, REQUEST_URI))
      .to.be.revertedWithCustomError(pool, "StakePoolTransferAmountMismatch")
      .withArgs(T(60), (T(60) * 99n) / 100n);
    await expect(pool.connect(verifier).bond(T(100)))
      .to.be.revertedWithCustomError(pool, "StakePoolTransferAmountMismatch")
      .withArgs(T(100), T(99));
    expect(await pool.nextJobId()).to.equal(1n);
    expect((await pool.bondOf(verifier.address)).bond).to.equal(0n);
  });

  it("blocks a token that re-enters withdraw() from inside the payout transfer", async function () {
    const { token, pool, user, generator } = await networkHelpers.loadFixture(reentrantFixture);
    await pool.connect(user).openJob(generator.address, MODEL_ID, T(100), T(20), REQUEST_HASH, REQUEST_URI);
    await pool.connect(generator).commit(1n, ROOT, NUM_CHECKS, URI);
    await networkHelpers.time.increase(HOUR + 1);
    await pool.finalize(1n);
    const credit = await pool.creditOf(generator.address);
    expect(credit).to.equal(T(200));
    // While paying the generator, the token calls pool.withdraw() again (as the token itself; the
    // guard trips before anything else is looked at). Swallowed: the outer withdrawal completes once.
    await token.arm(await pool.getAddress(), pool.interface.encodeFunctionData("withdraw"), false);
    const before = await token.balanceOf(generator.address);
    await pool.connect(generator).withdraw();
    expect(await token.attempts()).to.equal(1n);
    expect(await token.reentered()).to.equal(false);
    expect(await token.lastReturn()).to.equal(pool.interface.getError("ReentrancyGuardReentrantCall")!.selector);
    expect((await token.balanceOf(generator.address)) - before).to.equal(credit);
    expect(await pool.creditOf(generator.address)).to.equal(0n);
  });

  it("reverts the whole call when a re-entrant token propagates the guard's revert", async function () {
    const { token, pool, user, generator } = await networkHelpers.loadFixture(reentrantFixture);
    await pool.connect(user).openJob(generator.address, MODEL_ID, T(100), T(20), REQUEST_HASH, REQUEST_URI);
    await networkHelpers.time.increase(HOUR + 1);
    await pool.cancel(1n);
    await token.arm(await pool.getAddress(), pool.interface.encodeFunctionData("withdraw"), true);
    await expect(pool.connect(user).withdraw()).to.be.revertedWithCustomError(pool, "ReentrancyGuardReentrantCall");
    expect(await pool.creditOf(user.address)).to.equal(T(60)); // nothing was paid, nothing lost
  });

  it("blocks re-entry into openJob, bond, finalize and cancel from inside a deposit", async function () {
    const { token, pool, user, generator, verifier } = await networkHelpers.loadFixture(reentrantFixture);
    const poolAddress = await pool.getAddress();
    const calls = [
      pool.interface.encodeFunctionData("openJob", [generator.address, MODEL_ID, T(1), T(1), REQUEST_HASH, REQUEST_URI]),
      pool.interface.encodeFunctionData("bond", [T(100)]),
      pool.interface.encodeFunctionData("finalize", [1n]),
      pool.interface.encodeFunctionData("cancel", [1n]),
      pool.interface.encodeFunctionData("withdraw"),
    ];
    for (const data of calls) {
      await token.arm(poolAddress, data, false);
      await pool.connect(user).openJob(generator.address, MODEL_ID, T(100), T(20), REQUEST_HASH, REQUEST_URI);
      expect(await token.reentered()).to.equal(false);
      expect(await token.lastReturn()).to.equal(pool.interface.getError("ReentrancyGuardReentrantCall")!.selector);
    }
    await token.arm(poolAddress, calls[0]!, false);
    await pool.connect(verifier).bond(T(100));
    expect(await token.reentered()).to.equal(false);
    // the deposits went through exactly once each
    expect(await pool.nextJobId()).to.equal(BigInt(calls.length + 1));
    expect(await token.balanceOf(poolAddress)).to.equal(T(60) * BigInt(calls.length) + T(100) + T(500)); // + the five bonds of the fixture
  });
});
