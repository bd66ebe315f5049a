/**
 * Deployment: the Ignition modules on the in-process network, and the helpers in scripts/lib that
 * record and read a deployment and parse token amounts.
 */
import { expect } from "chai";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { network } from "hardhat";
import { keepFloatCloseTo } from "./float-close-to.js";
import { LocalStakePoolModule, StakePoolModule } from "../../ignition/modules/StakePool.js";
import { DEFAULT_POOL_PARAMS, amountProblem, maxBetaCv, paramsStruct, poolParamsFromEnv, jobAmounts } from "../../scripts/lib/params.js";
import { deployStakePool } from "../../scripts/lib/pool-deploy.js";
import {
  DeploymentNotFoundError,
  deploymentFile,
  findCreationBlock,
  loadDeployment,
  readDeployment,
  writeDeployment,
  type PocDeployment,
} from "../../scripts/lib/deployment.js";
import { formatUnits, parseUnits } from "../../scripts/lib/session.js";
import { bitmapWithMisses, claimBitmap } from "../../scripts/lib/state.js";

const { ethers, ignition } = await network.create();

/** Await `p` and expect it to reject with an error matching `re` (or of class `cls`). */
async function rejects(p: Promise<unknown>, re: RegExp | (new (...a: never[]) => Error)) {
  try {
    await p;
  } catch (e) {
    if (re instanceof RegExp) expect(String((e as Error).message)).to.match(re);
    else expect(e).to.be.instanceOf(re);
    return;
  }
  expect.fail("expected a rejection");
}
keepFloatCloseTo();
const send = (m: string, p: unknown[]) => ethers.provider.send(m, p);

describe("StakePool: deployment", function () {
  it("deploys LocalStakePool (TestToken + FutureBlockRandomness + linked pool) with the default parameters", async function () {
    const [deployer] = await ethers.getSigners();
    const { stakePool, token, randomness } = await ignition.deploy(LocalStakePoolModule, { displayUi: false });
    const pool = await ethers.getContractAt("StakePool", await stakePool.getAddress());
    const [p, id] = await pool.params();
    expect(id).to.equal(0n);
    expect([p.minModelStake, p.maxStakeBps, p.declineFeeBps]).to.deep.equal([DEFAULT_POOL_PARAMS.minModelStake, BigInt(DEFAULT_POOL_PARAMS.maxStakeBps), BigInt(DEFAULT_POOL_PARAMS.declineFeeBps)]);
    expect(await pool.treasury()).to.equal(deployer!.address);
    // the default source: request id = the next block; its word is readable once a block after it exists
    const src = await ethers.getContractAt("FutureBlockRandomness", await randomness.getAddress());
    const n = BigInt(await ethers.provider.getBlockNumber());
    expect((await src.randomness(n + 1n))[0]).to.equal(0n); // Pending
    expect((await src.randomness(n))[0]).to.equal(0n); // Pending: a call runs in block n itself
    expect((await src.randomness(n - 1n))[0]).to.equal(1n); // Ready
    expect([p.alphaBps, p.betaBps, p.commitWindow, p.challengeWindow, p.verifyWindow, p.drawWindow, p.maxStages, p.unbondDelay, p.minBond]).to.deep.equal([
      BigInt(DEFAULT_POOL_PARAMS.alphaBps),
      BigInt(DEFAULT_POOL_PARAMS.betaBps),
      BigInt(DEFAULT_POOL_PARAMS.commitWindow),
      BigInt(DEFAULT_POOL_PARAMS.challengeWindow),
      BigInt(DEFAULT_POOL_PARAMS.verifyWindow),
      BigInt(DEFAULT_POOL_PARAMS.drawWindow),
      BigInt(DEFAULT_POOL_PARAMS.maxStages),
      BigInt(DEFAULT_POOL_PARAMS.unbondDelay),
      DEFAULT_POOL_PARAMS.minBond,
    ]);
    expect(await pool.stakeToken()).to.equal(await token.getAddress());
    expect(await pool.randomnessSource()).to.equal(await randomness.getAddress());
    expect(await pool.owner()).to.equal(deployer!.address);
  });

  it("deploys StakePool for an existing token with parameter overrides", async function () {
    const token = await ethers.deployContract("TestToken");
    const { stakePool } = await ignition.deploy(StakePoolModule, {
      displayUi: false,
      parameters: { StakePool: { token: await token.getAddress(), alphaBps: 2_000, betaBps: 30_000, maxStages: 5, minBond: "5", minModelStake: "40", maxStakeBps: 3_000, declineFeeBps: 0 } },
    });
    const pool = await ethers.getContractAt("StakePool", await stakePool.getAddress());
    const [p] = await pool.params();
    expect([p.alphaBps, p.betaBps, p.maxStages, p.minBond, p.minModelStake, p.maxStakeBps, p.declineFeeBps]).to.deep.equal([2_000n, 30_000n, 5n, 5n, 40n, 3_000n, 0n]);
    expect(await pool.stakeToken()).to.equal(await token.getAddress());
  });

  it("records a deployment and reads it back (file, env override, stale address, creation block)", async function () {
    const token = await ethers.deployContract("TestToken");
    const before = await ethers.provider.getBlockNumber();
    const rnd = await ethers.deployContract("FutureBlockRandomness");
    const [owner] = await ethers.getSigners();
    const pool = await deployStakePool(ethers, [await token.getAddress(), owner!.address, paramsStruct(DEFAULT_POOL_PARAMS), await rnd.getAddress(), owner!.address]);
    const poolAddress = await pool.getAddress();
    const latest = await ethers.provider.getBlockNumber();
    const block = await findCreationBlock(send, poolAddress, before, latest);
    expect(await ethers.provider.getCode(poolAddress, block)).to.not.equal("0x");
    expect(await ethers.provider.getCode(poolAddress, block - 1)).to.equal("0x");

    const root = await mkdtemp(join(tmpdir(), "poc-deploy-"));
    try {
      const d: PocDeployment = {
        chainId: 31337,
        network: "test",
        stakePool: poolAddress,
        token: await token.getAddress(),
        randomness: await rnd.getAddress(),
        deployBlock: block,
        deployedAt: new Date().toISOString(),
        params: {},
      };
      const file = await writeDeployment(d, root);
      expect(file).to.equal(deploymentFile(31337, root));
      expect(await readDeployment(31337, { POC_DEPLOYMENT: file })).to.deep.equal(d);
      expect((await loadDeployment(send, { POC_DEPLOYMENT: file })).stakePool).to.equal(poolAddress);
      await rejects(readDeployment(1, { POC_DEPLOYMENT: file }), /is for chain 31337/);
      await rejects(readDeployment(31337, { POC_DEPLOYMENT: join(root, "missing.json") }), DeploymentNotFoundError);
      const stale = await writeDeployment({ ...d, stakePool: "0x" + "12".repeat(20) }, root);
      await rejects(loadDeployment(send, { POC_DEPLOYMENT: stale }), /has no code/);
      const env = await readDeployment(31337, { POC_POOL_ADDRESS: poolAddress, POC_DEPLOY_BLOCK: "7" });
      expect([env.stakePool, env.deployBlock]).to.deep.equal([poolAddress, 7]);
      await rejects(readDeployment(31337, { POC_POOL_ADDRESS: "0x1234" }), /not an address/);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it("parses and formats token amounts and parameter overrides", function () {
    expect(parseUnits("150", 18)).to.equal(150n * 10n ** 18n);
    expect(parseUnits("0.000000000000000001", 18)).to.equal(1n);
    expect(parseUnits("1.5", 6)).to.equal(1_500_000n);
    expect(() => parseUnits("1.0000001", 6)).to.throw(/more than 6 decimals/);
    expect(() => parseUnits("-1", 18)).to.throw(/not a token amount/);
    expect(formatUnits(1_500_000n, 6)).to.equal("1.5");
    expect(formatUnits(10n ** 18n, 18)).to.equal("1");
    expect(poolParamsFromEnv({ POC_ALPHA_BPS: "2500", POC_MIN_BOND_WEI: "7" })).to.deep.equal({ ...DEFAULT_POOL_PARAMS, alphaBps: 2500, minBond: 7n });
    expect(poolParamsFromEnv({ POC_MIN_MODEL_STAKE_WEI: "9", POC_MAX_STAKE_BPS: "100", POC_DECLINE_FEE_BPS: "0" })).to.deep.equal({
      ...DEFAULT_POOL_PARAMS,
      minModelStake: 9n,
      maxStakeBps: 100,
      declineFeeBps: 0,
    });
    expect(() => poolParamsFromEnv({ POC_MAX_STAGES: "three" })).to.throw(/POC_MAX_STAGES/);
    expect(jobAmounts({ alphaBps: 5_000, betaBps: 15_000 }, 100n, 21n)).to.deep.equal({ alphaCg: 50n, alphaCv: 10n, betaCg: 150n, betaCv: 31n });
  });

  it("the defaults admit sensible jobs: βCg > 2αCv + βCv and βCv ≤ minBond · maxStakeBps, as openJob checks", function () {
    const E18 = 10n ** 18n;
    const D = DEFAULT_POOL_PARAMS;
    expect(maxBetaCv(D)).to.equal(25n * E18);
    expect(D.minModelStake).to.equal(BigInt(D.maxStages + 2) * D.minBond);
    expect(amountProblem(D, 100n * E18, 10n * E18)).to.equal(undefined); // the demo's Cg, Cv
    expect(amountProblem(D, 100n * E18, 20n * E18)).to.match(/βCv .* exceeds/);
    expect(amountProblem(D, 20n * E18, 10n * E18)).to.match(/must exceed 2αCv \+ βCv/);
    expect(amountProblem(D, 0n, 10n * E18)).to.match(/must be positive/);
  });

  it("builds bitmaps the way docs/PROTOCOL.md defines them (MSB first, unused bits zero)", function () {
    expect(Array.from(claimBitmap(1))).to.deep.equal([0x80]);
    expect(Array.from(claimBitmap(8))).to.deep.equal([0xff]);
    expect(Array.from(claimBitmap(20))).to.deep.equal([0xff, 0xff, 0xf0]);
    expect(Array.from(bitmapWithMisses(20, [0, 9, 19]))).to.deep.equal([0x7f, 0xbf, 0xe0]);
    expect(() => bitmapWithMisses(20, [20])).to.throw(RangeError);
  });
});
