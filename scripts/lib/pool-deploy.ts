/**
 * Deploy a StakePool with ethers (tests, the demo, the bench, scripts): first its external libraries
 * RegistryLogic (the verifier registry's rules) and Settlement (the judgement and payouts of a
 * challenged job), kept out of the pool's code so that the pool stays under the 24 KiB contract size
 * limit, then the pool linked against them.
 */
import type { HardhatEthers } from "@nomicfoundation/hardhat-ethers/types";
import type { Signer } from "ethers";

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

type Sent = Promise<{ wait(): Promise<unknown> }>;
interface MintableToken {
  connect(runner: Signer): { mint(to: string, amount: bigint): Sent; approve(spender: string, amount: bigint): Sent };
}
interface BondablePool {
  getAddress(): Promise<string>;
  connect(runner: Signer): { setModels(models: string[]): Sent; bond(amount: bigint): Sent };
}

/**
 * `n` fresh addresses (hardhat_setBalance + hardhat_impersonateAccount, so any number beyond the
 * node's accounts), each minted `amount` of the test token, declaring `models` and bonding all of it
 * in `pool` (the bench's large verifier sets). Returns their signers in order.
 */
export async function bondFreshVerifiers(ethers: HardhatEthers, token: MintableToken, pool: BondablePool, n: number, models: readonly string[], amount: bigint) {
  const poolAddress = await pool.getAddress();
  const signers = [];
  for (let i = 0; i < n; i++) {
    const addr = ethers.Wallet.createRandom().address;
    await ethers.provider.send("hardhat_setBalance", [addr, "0x56bc75e2d63100000"]);
    await ethers.provider.send("hardhat_impersonateAccount", [addr]);
    const a = await ethers.getSigner(addr);
    await (await token.connect(a).mint(addr, amount)).wait();
    await (await token.connect(a).approve(poolAddress, amount)).wait();
    await (await pool.connect(a).setModels([...models])).wait();
    await (await pool.connect(a).bond(amount)).wait();
    signers.push(a);
  }
  return signers;
}
