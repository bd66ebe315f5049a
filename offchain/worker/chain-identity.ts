/**
 * Which chain and which deployment a worker's state belongs to: chain id, the hash of block 0
 * (a restarted dev node has a new genesis hash), the pool address, its deployment block and that
 * block's hash, and the hash of the pool's code.
 *
 * - `readChainIdentity(client)`: the identity the chain has now.
 * - `compareIdentity(saved, now)`: same, or what happened: `node-restarted` (another genesis),
 *   `pool-redeployed` (same chain, another deployment block or code), `pool-gone` (no code at the
 *   pool address any more).
 * - `bindStateFile(path, now, client)`: before a worker opens its state file; a file of another
 *   identity is moved aside (`<file>.<what>-<time>.json`, never deleted) so the worker starts fresh.
 *   A file of an older version without an identity is checked by its last scanned block's hash.
 */
import { readFile, rename } from "node:fs/promises";
import { keccak256 } from "ethers";
import { z } from "zod";
import { PocError } from "../errors.js";
import type { PoolClient } from "../chain/index.js";

export class ChainChangedError extends PocError {
  override name = "ChainChangedError";
  constructor(
    readonly change: IdentityChange,
    options: { cause?: unknown } = {},
  ) {
    super(change.message, options);
  }
}

const hex = z.string().regex(/^0x[0-9a-fA-F]*$/);

export const chainIdentitySchema = z.object({
  chainId: z.string().regex(/^\d+$/),
  genesisHash: hex,
  pool: hex,
  deployBlock: z.number().int().min(0),
  deployBlockHash: hex.nullable(),
  poolCodeHash: hex.nullable(),
});
export type ChainIdentity = z.infer<typeof chainIdentitySchema>;

export type IdentityChangeKind = "node-restarted" | "pool-redeployed" | "pool-gone" | "other-pool";
export interface IdentityChange {
  kind: IdentityChangeKind;
  /** One line for the operator. */
  message: string;
}

/** The identity of the client's chain and pool as they are now. */
export async function readChainIdentity(client: PoolClient): Promise<ChainIdentity> {
  const p = client.provider;
  const [genesis, deploy, code] = await Promise.all([
    client.retry("eth_getBlockByNumber(0)", () => p.getBlock(0)),
    client.retry(`eth_getBlockByNumber(${client.deployBlock})`, () => p.getBlock(client.deployBlock)),
    client.retry("eth_getCode", () => p.getCode(client.address)),
  ]);
  return {
    chainId: client.chainId.toString(),
    genesisHash: (genesis?.hash ?? "0x").toLowerCase(),
    pool: client.address.toLowerCase(),
    deployBlock: client.deployBlock,
    deployBlockHash: deploy?.hash?.toLowerCase() ?? null,
    poolCodeHash: code === "0x" ? null : keccak256(code),
  };
}

/** undefined when `now` is the same chain and deployment as `saved`; otherwise what changed. */
export function compareIdentity(saved: ChainIdentity, now: ChainIdentity): IdentityChange | undefined {
  const pool = now.pool;
  if (saved.chainId !== now.chainId) return { kind: "node-restarted", message: `the node now serves chain ${now.chainId}, the state is of chain ${saved.chainId}` };
  if (saved.genesisHash !== now.genesisHash) {
    return {
      kind: "node-restarted",
      message: `the node was restarted: chain ${now.chainId} has a new genesis block (${now.genesisHash.slice(0, 10)}…, was ${saved.genesisHash.slice(0, 10)}…)${now.poolCodeHash === null ? `, and there is no pool at ${pool} yet` : `; the pool at ${pool} is a new deployment (block ${now.deployBlock})`}`,
    };
  }
  if (now.poolCodeHash === null) return { kind: "pool-gone", message: `the pool is gone: no contract at ${pool} on chain ${now.chainId} any more` };
  if (saved.pool !== now.pool) return { kind: "other-pool", message: `the state is of pool ${saved.pool}, the worker now uses ${pool}` };
  if (saved.deployBlock !== now.deployBlock || saved.deployBlockHash !== now.deployBlockHash || saved.poolCodeHash !== now.poolCodeHash) {
    return {
      kind: "pool-redeployed",
      message: `the pool at ${pool} was redeployed (deployment block ${now.deployBlock}${now.deployBlockHash ? ` ${now.deployBlockHash.slice(0, 10)}…` : ""}, was ${saved.deployBlock}${saved.deployBlockHash ? ` ${saved.deployBlockHash.slice(0, 10)}…` : ""}${saved.poolCodeHash !== now.poolCodeHash ? ", other code" : ""})`,
    };
  }
  return undefined;
}

export interface BindResult {
  /** Where an old state of another chain or deployment was moved, and why. */
  movedTo?: string;
  change?: IdentityChange;
}

/**
 * Make `path` (a worker's state file) belong to `now`: a missing file or one of the same identity is
 * left as it is; one of another identity is renamed aside. Files without an `identity` (older
 * versions) are compared by the hash of their last scanned block (`lastBlock`/`lastBlockHash`) and
 * their chain length: a block the chain no longer has, or has with another hash, means another chain.
 */
export async function bindStateFile(path: string, now: ChainIdentity, client: PoolClient): Promise<BindResult> {
  let raw: string;
  try {
    raw = await readFile(path, "utf8");
  } catch (e) {
    if ((e as { code?: string }).code === "ENOENT") return {};
    throw e;
  }
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(raw) as Record<string, unknown>;
  } catch {
    return {}; // corrupt: the worker's own loader says so (and never overwrites it)
  }
  let change: IdentityChange | undefined;
  const saved = chainIdentitySchema.safeParse(json.identity);
  if (saved.success) change = compareIdentity(saved.data, now);
  else change = await legacyChange(json, now, client);
  if (!change) return {};
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const movedTo = `${path.replace(/\.json$/, "")}.${change.kind}-${stamp}.json`;
  await rename(path, movedTo);
  return { movedTo, change };
}

async function legacyChange(json: Record<string, unknown>, now: ChainIdentity, client: PoolClient): Promise<IdentityChange | undefined> {
  const last = typeof json.lastBlock === "number" ? json.lastBlock : null;
  if (last === null || last < 0) return undefined;
  const head = await client.blockNumber();
  const savedHash = typeof json.lastBlockHash === "string" ? json.lastBlockHash.toLowerCase() : null;
  if (last > head) return { kind: "node-restarted", message: `the state was scanned up to block ${last}, the chain has only ${head} blocks: the node was restarted (or the pool redeployed on a new chain)` };
  if (savedHash) {
    const h = (await client.blockHash(last))?.toLowerCase();
    if (h !== savedHash) return { kind: "node-restarted", message: `block ${last} of the state has another hash now: the node was restarted (or the pool redeployed)` };
  }
  void now;
  return undefined;
}
