/**
 * Deploy a StakePool with ethers (tests, the demo, the bench, scripts): first its external libraries
 * RegistryLogic (the verifier registry's rules) and Settlement (the judgement and payouts of a
 * challenged job), kept out of the pool's code so that the pool stays under the 24 KiB contract size
 * limit, then the pool linked against them.
 */
import type { HardhatEthers } from "@nomicfoundation/hardhat-ethers/types";

/** The pool's constructor arguments: token, owner, Params struct, randomness source, treasury. */
export type StakePoolArgs = readonly [token: string, owner: string, params: Record<string, unknown>, randomness: string, treasury: string];

export async function deployStakePool(ethers: HardhatEthers, args: StakePoolArgs, signer?: Parameters<HardhatEthers["deployContract"]>[2]) {
  const deployer = signer && typeof signer === "object" && "getAddress" in signer ? signer : undefined;
  const deploy = async (name: string) => {
    const lib = deployer ? await ethers.deployContract(name, [], deployer) : await ethers.deployContract(name);
    await lib.waitForDeployment();
    return lib.getAddress();
  };
  const libraries = { RegistryLogic: await deploy("RegistryLogic"), Settlement: await deploy("Settlement") };
  const pool = await ethers.deployContract("StakePool", [...args], deployer ? { libraries, signer: deployer } : { libraries });
  await pool.waitForDeployment();
  return pool;
}

/** A GeneratorRegistry for `pool` holding `listingDeposit` stake-token base units per listing (default 0). */
export async function deployGeneratorRegistry(ethers: HardhatEthers, pool: string, listingDeposit = 0n, signer?: Parameters<HardhatEthers["deployContract"]>[2]) {
  const deployer = signer && typeof signer === "object" && "getAddress" in signer ? signer : undefined;
  const registry = deployer ? await ethers.deployContract("GeneratorRegistry", [pool, listingDeposit], deployer) : await ethers.deployContract("GeneratorRegistry", [pool, listingDeposit]);
  await registry.waitForDeployment();
  return registry;
}

/** `deployStakePool`, then its GeneratorRegistry (`o.listingDeposit`, default 0). */
export async function deployPoolWithRegistry(ethers: HardhatEthers, args: StakePoolArgs, o: { listingDeposit?: bigint; signer?: Parameters<HardhatEthers["deployContract"]>[2] } = {}) {
  const pool = await deployStakePool(ethers, args, o.signer);
  const registry = await deployGeneratorRegistry(ethers, await pool.getAddress(), o.listingDeposit ?? 0n, o.signer);
  return { pool, registry };
}
