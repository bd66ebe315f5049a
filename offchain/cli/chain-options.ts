/**
 * Chain options shared by every `poc` command that talks to the pool (workers, verifier staking, job
 * commands): add them with `addChainOptions(cmd)` and connect with `connectFromOptions(opts)`.
 *
 *   --rpc URL            JSON-RPC endpoint (default: POC_RPC_URL, else http://127.0.0.1:8545,
 *                        i.e. `npx hardhat node --hostname 127.0.0.1`)
 *   --account N          act as the node's unlocked account N (local dev nodes only); otherwise the
 *                        private key in POC_PRIVATE_KEY (never a flag: it would show in `ps` and history)
 *   --keystore           take POC_PRIVATE_KEY from Hardhat's keystore when it is not in the environment
 *                        (`npx hardhat keystore set POC_PRIVATE_KEY`; offchain/chain/keystore.ts)
 *   --pool ADDRESS       StakePool address (default: the chain's deployment record written by
 *                        scripts/deploy.ts, or POC_DEPLOYMENT / POC_POOL_ADDRESS)
 *   --deploy-block N     with --pool: the block to scan events from (default 0)
 *   --deployment FILE    a deployment record JSON to use
 *
 * `withClient(opts, needSigner, fn)` connects, runs `fn` and closes the provider afterwards.
 */
import { Command, InvalidArgumentError } from "commander";
import { formatUnits, parseUnits } from "ethers";
import { ChainConfigError, connectPool, type PoolClient } from "../chain/index.js";
import { privateKeyFromKeystore } from "../chain/keystore.js";
import { nonNegativeInt } from "./options.js";

function address(v: string): string {
  if (!/^0x[0-9a-fA-F]{40}$/.test(v)) throw new InvalidArgumentError("an address (0x + 40 hex digits)");
  return v;
}

export interface ChainCliOptions {
  rpc?: string;
  account?: number;
  keystore?: boolean;
  pool?: string;
  deployBlock?: number;
  deployment?: string;
}

/** Add the chain options (module comment) to `cmd`. */
export function addChainOptions(cmd: Command): Command {
  return cmd
    .option("--rpc <url>", "JSON-RPC endpoint (default: POC_RPC_URL or http://127.0.0.1:8545)")
    .option("--account <n>", "use the node's unlocked account N (local dev node); default: the key in POC_PRIVATE_KEY", nonNegativeInt)
    .option("--keystore", "read POC_PRIVATE_KEY from Hardhat's keystore when the environment has none (npx hardhat keystore set POC_PRIVATE_KEY)")
    .option("--pool <address>", "StakePool address (default: the chain's deployment record)", address)
    .option("--deploy-block <n>", "with --pool: first block to scan for events", nonNegativeInt)
    .option("--deployment <file>", "deployment record JSON (default: ignition/deployments/chain-<id>/poc-deployment.json)");
}

/** Connect as the options say; `needSigner` fails early (with a hint) when no account was given. */
export async function connectFromOptions(o: ChainCliOptions, needSigner = true) {
  if (o.keystore && o.account !== undefined) throw new ChainConfigError("--keystore and --account name two different accounts: pass one");
  const conn = await connectPool({
    ...(o.rpc ? { rpcUrl: o.rpc } : {}),
    ...(o.keystore ? { privateKey: await privateKeyFromKeystore() } : {}),
    ...(o.account !== undefined ? { account: o.account } : {}),
    ...(o.pool ? { pool: o.pool } : {}),
    ...(o.deployBlock !== undefined ? { deployBlock: o.deployBlock } : {}),
    ...(o.deployment ? { deploymentFile: o.deployment } : {}),
  });
  if (needSigner && !conn.signer) {
    conn.provider.destroy();
    throw new ChainConfigError("no account: pass --account N (one of a local node's accounts), set POC_PRIVATE_KEY, or store it in Hardhat's keystore and pass --keystore");
  }
  return conn;
}

/** Parse whole tokens ("150", "0.5") into base units. */
export function parseTokenAmount(v: string, decimals: number): bigint {
  if (!/^\d+(\.\d+)?$/.test(v.trim())) throw new ChainConfigError(`not a token amount: "${v}" (whole tokens, e.g. 150 or 0.5)`);
  try {
    return parseUnits(v.trim(), decimals);
  } catch (cause) {
    throw new ChainConfigError(`not a token amount: "${v}"`, { cause });
  }
}

/** Base units as whole tokens. */
export function formatTokens(v: bigint, decimals: number): string {
  const s = formatUnits(v, decimals);
  return s.endsWith(".0") ? s.slice(0, -2) : s;
}

/** Close the provider's polling so the process can exit. */
export function closeClient(client: PoolClient): void {
  (client.provider as { destroy?: () => void }).destroy?.();
}

/** Run `fn` with a connected client and close its provider afterwards (so the process can exit). */
export async function withClient<T>(o: ChainCliOptions, needSigner: boolean, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const { client } = await connectFromOptions(o, needSigner);
  try {
    return await fn(client);
  } finally {
    closeClient(client);
  }
}
