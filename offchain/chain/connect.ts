/**
 * Standalone connection (no Hardhat): a JSON-RPC URL and an account.
 *
 *   rpcUrl      --rpc URL, else POC_RPC_URL, else http://127.0.0.1:8545 (`npx hardhat node --hostname 127.0.0.1`)
 *   account     a private key (POC_PRIVATE_KEY; never a flag, so it stays out of shell history and `ps`),
 *               or `--account N`: the node's own unlocked account N (eth_accounts, JsonRpcSigner) —
 *               Hardhat's and anvil's dev nodes have 20 well-known funded accounts; never on a public node
 *   pool        --pool ADDRESS (+ --deploy-block N), else the deployment record of the chain
 *               (scripts/lib/deployment.ts: ignition/deployments/chain-<id>/poc-deployment.json,
 *               or POC_DEPLOYMENT / POC_POOL_ADDRESS)
 *
 * The provider is built for the retry layer: ethers' own 429 back-off is off (withRetry handles it,
 * bounded), one request per HTTP call (no batches: a failure then costs one call, and many public
 * endpoints refuse batches), the chain id is read once with retries (no endless network detection
 * when the node is down).
 */
import { FetchRequest, JsonRpcProvider, Network, Wallet, type Signer } from "ethers";
import { readDeployment, type PocDeployment } from "./deployment-file.js";
import { PoolClient, type PoolClientOptions } from "./client.js";
import { ChainConfigError, describeError } from "./errors.js";
import { withRetry, type RetryOptions } from "./retry.js";

export const DEFAULT_RPC_URL = "http://127.0.0.1:8545";

export interface RpcConnectOptions {
  /** Default: POC_RPC_URL, else http://127.0.0.1:8545. */
  rpcUrl?: string;
  /** 0x-prefixed 32-byte private key (default: POC_PRIVATE_KEY). */
  privateKey?: string;
  /** Index of one of the node's own accounts (eth_accounts); used when no private key is given. */
  account?: number;
  /** Per-request timeout (default 30 s). */
  requestTimeoutMs?: number;
  retry?: RetryOptions;
  env?: NodeJS.ProcessEnv;
}

export interface RpcConnection {
  provider: JsonRpcProvider;
  /** Undefined when neither a key nor an account index was given (read-only). */
  signer: Signer | undefined;
  chainId: bigint;
  rpcUrl: string;
}

/** A provider (and signer) for `rpcUrl` (module comment). */
export async function connectRpc(o: RpcConnectOptions = {}): Promise<RpcConnection> {
  const env = o.env ?? process.env;
  const rpcUrl = o.rpcUrl ?? env.POC_RPC_URL ?? DEFAULT_RPC_URL;
  let url: URL;
  try {
    url = new URL(rpcUrl);
  } catch (cause) {
    throw new ChainConfigError(`not a URL: ${rpcUrl}`, { cause });
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new ChainConfigError(`only http(s) JSON-RPC URLs are supported, not ${url.protocol}`);
  const req = new FetchRequest(rpcUrl);
  req.timeout = o.requestTimeoutMs ?? 30_000;
  req.setThrottleParams({ maxAttempts: 1 });
  // eth_chainId by hand: a JsonRpcProvider without a known network would keep "detecting" it forever
  const probe = async () => {
    const r = req.clone();
    r.body = { jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] };
    const resp = await r.send();
    resp.assertOk();
    const json = resp.bodyJson as { result?: unknown; error?: { message?: string } };
    if (typeof json?.result !== "string") throw new ChainConfigError(`eth_chainId gave no chain id: ${json?.error?.message ?? JSON.stringify(json).slice(0, 200)}`);
    return json.result;
  };
  let chainId: bigint;
  try {
    chainId = BigInt(await withRetry("eth_chainId", probe, o.retry));
  } catch (cause) {
    throw new ChainConfigError(`cannot reach the JSON-RPC endpoint ${rpcUrl}`, {
      details: `${describeError(cause)}${rpcUrl === DEFAULT_RPC_URL ? "; start a local node with `npx hardhat node --hostname 127.0.0.1`, or pass --rpc URL / set POC_RPC_URL" : ""}`,
      cause,
    });
  }
  const provider = new JsonRpcProvider(req, Network.from(chainId), { staticNetwork: true, batchMaxCount: 1, pollingInterval: 1000, cacheTimeout: -1 });
  const key = o.privateKey ?? env.POC_PRIVATE_KEY;
  let signer: Signer | undefined;
  if (key) {
    try {
      signer = new Wallet(key.startsWith("0x") ? key : `0x${key}`, provider);
    } catch (cause) {
      throw new ChainConfigError("POC_PRIVATE_KEY is not a valid private key (0x + 64 hex digits)", { cause });
    }
  } else if (o.account !== undefined) {
    const accounts = (await withRetry("eth_accounts", () => provider.send("eth_accounts", []), o.retry)) as string[];
    const a = accounts[o.account];
    if (!a) {
      throw new ChainConfigError(`--account ${o.account}: the node has ${accounts.length} unlocked accounts`, {
        details: accounts.length === 0 ? "this node manages no accounts: set POC_PRIVATE_KEY instead" : `use 0..${accounts.length - 1}`,
      });
    }
    signer = await provider.getSigner(a);
  }
  return { provider, signer, chainId, rpcUrl };
}

export interface ConnectPoolOptions extends RpcConnectOptions {
  /** Pool address (default: the deployment record). */
  pool?: string;
  /** With `pool`: the block to scan events from (default 0). */
  deployBlock?: number;
  /** A deployment record file to use instead of the default (like POC_DEPLOYMENT). */
  deploymentFile?: string;
  client?: Omit<PoolClientOptions, "runner" | "pool" | "deployBlock" | "token" | "retry">;
}

/** connectRpc + the pool client (flags first, then the deployment record). */
export async function connectPool(o: ConnectPoolOptions = {}): Promise<RpcConnection & { client: PoolClient; deployment?: PocDeployment }> {
  const conn = await connectRpc(o);
  const runner = conn.signer ?? conn.provider;
  const base = { ...o.client, ...(o.retry ? { retry: o.retry } : {}) };
  if (o.pool) {
    const client = await PoolClient.create({ ...base, runner, pool: o.pool, deployBlock: o.deployBlock ?? 0 });
    return { ...conn, client };
  }
  const env = { ...(o.env ?? process.env), ...(o.deploymentFile ? { POC_DEPLOYMENT: o.deploymentFile } : {}) };
  let deployment: PocDeployment;
  try {
    deployment = await readDeployment(conn.chainId, env);
  } catch (cause) {
    throw new ChainConfigError(describeError(cause), {
      details: "pass --pool ADDRESS, or deploy first: npx hardhat run scripts/deploy.ts --network localhost",
      cause,
    });
  }
  const client = await PoolClient.fromDeployment(runner, { ...base, deployment });
  return { ...conn, client, deployment };
}
