/**
 * Deploy a StakePool with ethers (tests, the demo, the bench, scripts): first its external library
 * RegistryLogic (the verifier registry's rules, kept out of the pool's code so that the pool stays
 * under the 24 KiB contract size limit), then the pool linked against it.
 */
import type { HardhatEthers } from "@nomicfoundation/hardhat-ethers/types";

/** The pool's constructor arguments: token, owner, Params struct, randomness source, treasury. */
export type StakePoolArgs = readonly [token: string, owner: string, params: Record<string, unknown>, randomness: string, treasury: string];

export async function deployStakePool(ethers: HardhatEthers, args: StakePoolArgs, signer?: Parameters<HardhatEthers["deployContract"]>[2]) {
  const deployer = signer && typeof signer === "object" && "getAddress" in signer ? signer : undefined;
  const lib = deployer ? await ethers.deployContract("RegistryLogic", [], deployer) : await ethers.deployContract("RegistryLogic");
  await lib.waitForDeployment();
  const libraries = { RegistryLogic: await lib.getAddress() };
  const pool = await ethers.deployContract("StakePool", [...args], deployer ? { libraries, signer: deployer } : { libraries });
  await pool.waitForDeployment();
  return pool;
}
