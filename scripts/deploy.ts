/**
 * Deploy the StakePool with Ignition and record the deployment for the other scripts.
 *
 *   npx hardhat run scripts/deploy.ts                       # in-process network (nothing recorded)
 *   npx hardhat run scripts/deploy.ts --network localhost   # against `npx hardhat node --hostname 127.0.0.1`
 *
 * Environment:
 *   POC_TOKEN         stake token address; without it (local chains only, chain id 31337) a TestToken
 *                     is deployed as the stake token
 *   POC_ALPHA_BPS, POC_BETA_BPS, POC_COMMIT_WINDOW, POC_CHALLENGE_WINDOW, POC_VERIFY_WINDOW,
 *   POC_DRAW_WINDOW, POC_MAX_STAGES, POC_UNBOND_DELAY, POC_MIN_BOND_WEI, POC_MIN_MODEL_STAKE_WEI,
 *   POC_MAX_STAKE_BPS, POC_DECLINE_FEE_BPS   parameters (scripts/lib/params.ts)
 *   POC_LISTING_DEPOSIT_WEI  what each GeneratorRegistry listing holds until it leaves (default 0)
 *   POC_TREASURY      where forfeits, decline fees and stalemate deposits go (default: the deployer;
 *                     set with setTreasury after the deployment)
 *
 * On an HTTP network it writes ignition/deployments/chain-<id>/poc-deployment.json (see
 * scripts/lib/deployment.ts). A local chain that was restarted leaves a stale Ignition journal
 * behind; the script detects that (no code at the recorded address) and starts afresh.
 */
import { existsSync } from "node:fs";
import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { network } from "hardhat";
import { LocalStakePoolModule, StakePoolModule } from "../ignition/modules/StakePool.js";
import { poolParamsFromEnv } from "./lib/params.js";
import {
  creationBlockFromJournal,
  deploymentDir,
  findCreationBlock,
  hasCode,
  ignitionDeploymentId,
  writeDeployment,
  type PocDeployment,
} from "./lib/deployment.js";

const LOCAL_CHAIN_ID = 31337n;

const conn = await network.create();
const { ethers, ignition, networkName } = conn;
const send = (m: string, p: unknown[]) => ethers.provider.send(m, p);
const chainId = (await ethers.provider.getNetwork()).chainId;
const persistent = conn.networkConfig.type === "http";
const tokenAddress = process.env.POC_TOKEN;
if (!tokenAddress && chainId !== LOCAL_CHAIN_ID) {
  throw new Error(`chain ${chainId} is not a local chain: set POC_TOKEN to the stake token's address`);
}
const params = poolParamsFromEnv();
const listingDeposit = process.env.POC_LISTING_DEPOSIT_WEI ?? "0";
if (!/^\d+$/.test(listingDeposit)) throw new Error(`POC_LISTING_DEPOSIT_WEI must be a whole number of base units, not "${listingDeposit}"`);
const module = tokenAddress ? StakePoolModule : LocalStakePoolModule;
const deploymentId = ignitionDeploymentId(chainId);
const dir = deploymentDir(chainId);

// A restarted local node forgets the contracts but Ignition's journal remembers them.
if (persistent && existsSync(join(dir, "deployed_addresses.json"))) {
  const recorded = JSON.parse(await readFile(join(dir, "deployed_addresses.json"), "utf8")) as Record<string, string>;
  const poolAddr = recorded[`${module.id}#StakePool`];
  if (poolAddr && !(await hasCode(send, poolAddr))) {
    if (chainId !== LOCAL_CHAIN_ID) throw new Error(`Ignition records ${poolAddr} on chain ${chainId} but it has no code; fix ${dir} by hand`);
    console.log(`stale local deployment in ${dir} (no code at ${poolAddr}): removing it`);
    await rm(dir, { recursive: true, force: true });
  }
}

const startBlock = await ethers.provider.getBlockNumber();
const deployed = await ignition.deploy(module, {
  parameters: {
    [module.id]: {
      ...(tokenAddress ? { token: tokenAddress } : {}),
      alphaBps: params.alphaBps,
      betaBps: params.betaBps,
      commitWindow: params.commitWindow,
      challengeWindow: params.challengeWindow,
      verifyWindow: params.verifyWindow,
      drawWindow: params.drawWindow,
      maxStages: params.maxStages,
      unbondDelay: params.unbondDelay,
      minBond: params.minBond.toString(),
      minModelStake: params.minModelStake.toString(),
      maxStakeBps: params.maxStakeBps,
      declineFeeBps: params.declineFeeBps,
      listingDeposit,
    },
  },
  deploymentId,
  displayUi: false,
});

const stakePool = await deployed.stakePool.getAddress();
const randomness = await deployed.randomness.getAddress();
const generatorRegistry = await deployed.generatorRegistry.getAddress();
const token = tokenAddress ?? (await (deployed as { token?: { getAddress(): Promise<string> } }).token!.getAddress());
const latest = await ethers.provider.getBlockNumber();
const deployBlock =
  (persistent ? await creationBlockFromJournal(dir, `${module.id}#StakePool`) : undefined) ??
  (await findCreationBlock(send, stakePool, Math.min(startBlock, latest), latest));

const pool = await ethers.getContractAt("StakePool", stakePool);
const wantTreasury = process.env.POC_TREASURY;
if (wantTreasury && (await pool.treasury()).toLowerCase() !== wantTreasury.toLowerCase()) {
  await (await pool.setTreasury(wantTreasury)).wait();
}
const [onChain, paramsId] = await pool.params();
const record: PocDeployment = {
  chainId: Number(chainId),
  network: networkName,
  stakePool,
  token,
  randomness,
  generatorRegistry,
  deployBlock,
  deployedAt: new Date().toISOString(),
  ignitionDeploymentId: persistent ? deploymentId : undefined,
  params: {
    paramsId: Number(paramsId),
    alphaBps: Number(onChain.alphaBps),
    betaBps: Number(onChain.betaBps),
    commitWindow: Number(onChain.commitWindow),
    challengeWindow: Number(onChain.challengeWindow),
    verifyWindow: Number(onChain.verifyWindow),
    drawWindow: Number(onChain.drawWindow),
    maxStages: Number(onChain.maxStages),
    unbondDelay: Number(onChain.unbondDelay),
    minBond: onChain.minBond.toString(),
    minModelStake: onChain.minModelStake.toString(),
    maxStakeBps: Number(onChain.maxStakeBps),
    declineFeeBps: Number(onChain.declineFeeBps),
  },
};

console.log(`StakePool     ${stakePool}  (block ${deployBlock}, network ${networkName}, chain ${chainId})`);
console.log(`stake token   ${token}${tokenAddress ? "" : "  (TestToken: anyone can mint)"}`);
console.log(`randomness    ${randomness}  (FutureBlockRandomness)`);
console.log(`generators    ${generatorRegistry}  (GeneratorRegistry, deposit ${listingDeposit} base units per listing)`);
console.log(`treasury      ${await pool.treasury()}`);
console.log(`owner         ${await pool.owner()}`);
console.log(`params        ${JSON.stringify(record.params)}`);
if (persistent) console.log(`recorded in   ${await writeDeployment(record)}`);
else console.log("in-process network: nothing recorded (the chain disappears when this script ends)");
