/**
 * Ponder config for the Proof of Cache pool (StakePool) and its GeneratorRegistry on one chain.
 *
 * Addresses and start block come from the environment, else from the deployment record that
 * `scripts/deploy.ts` / `npx poc devnet` writes (ignition/deployments/chain-<id>/poc-deployment.json):
 *
 *   PONDER_CHAIN_ID            chain id (default 31337)
 *   PONDER_RPC_URL_<id>        JSON-RPC endpoint (default http://127.0.0.1:8545)
 *   POC_DEPLOYMENT             path of a deployment record (default: the repository's record for the chain)
 *   POC_STAKE_POOL             StakePool address (overrides the record)
 *   POC_GENERATOR_REGISTRY     GeneratorRegistry address (overrides the record)
 *   POC_START_BLOCK            first block to index (overrides the record's deployBlock)
 *   DATABASE_URL               a Postgres to write to (default: PGlite in PONDER_PGLITE_DIR, default .ponder/pglite)
 *
 * The ABIs are the generated `as const` ABIs of offchain/chain/abis.ts (`npm run build:abis`): one source.
 */
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { createConfig } from "ponder";
import { generatorRegistryAbi, stakePoolAbi } from "../../offchain/chain/abis.ts";

const chainId = Number(process.env.PONDER_CHAIN_ID ?? 31337);
const rpc = process.env[`PONDER_RPC_URL_${chainId}`] ?? "http://127.0.0.1:8545";

interface DeploymentRecord {
  chainId?: number;
  stakePool?: string;
  generatorRegistry?: string;
  deployBlock?: number;
}

function readRecord(): DeploymentRecord {
  const file =
    process.env.POC_DEPLOYMENT ??
    fileURLToPath(new URL(`../../ignition/deployments/chain-${chainId}/poc-deployment.json`, import.meta.url));
  if (!existsSync(file)) {
    if (process.env.POC_DEPLOYMENT) throw new Error(`POC_DEPLOYMENT=${file}: no such file`);
    return {};
  }
  const record = JSON.parse(readFileSync(file, "utf8")) as DeploymentRecord;
  if (record.chainId !== undefined && record.chainId !== chainId) {
    throw new Error(`${file} is the record of chain ${record.chainId}, not ${chainId} (set PONDER_CHAIN_ID)`);
  }
  return record;
}

const record = readRecord();

function address(env: string, fromRecord: string | undefined, what: string): `0x${string}` {
  const a = process.env[env] ?? fromRecord;
  if (!a || !/^0x[0-9a-fA-F]{40}$/.test(a)) {
    throw new Error(
      `no ${what} address: set ${env} or write the deployment record (npx poc devnet, or npx hardhat run scripts/deploy.ts)`,
    );
  }
  return a as `0x${string}`;
}

const stakePool = address("POC_STAKE_POOL", record.stakePool, "StakePool");
const generatorRegistry = address("POC_GENERATOR_REGISTRY", record.generatorRegistry, "GeneratorRegistry");
const startBlock = Number(process.env.POC_START_BLOCK ?? record.deployBlock ?? 0);

export default createConfig({
  database: process.env.DATABASE_URL
    ? { kind: "postgres", connectionString: process.env.DATABASE_URL }
    : { kind: "pglite", directory: process.env.PONDER_PGLITE_DIR ?? ".ponder/pglite" },
  chains: {
    poc: {
      id: chainId,
      rpc,
      // A local chain (hardhat node / poc devnet) restarts from block 0 with the same id: do not cache its RPC.
      disableCache: chainId === 31337,
      pollingInterval: chainId === 31337 ? 500 : 1_000,
    },
  },
  contracts: {
    StakePool: { chain: "poc", abi: stakePoolAbi, address: stakePool, startBlock },
    GeneratorRegistry: { chain: "poc", abi: generatorRegistryAbi, address: generatorRegistry, startBlock },
  },
});
