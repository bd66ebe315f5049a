/**
 * Where a StakePool deployment is recorded and how to read it back: the pool, token and randomness
 * addresses and the block the pool was created in (where to start reading its events).
 *
 * scripts/deploy.ts writes `ignition/deployments/chain-<chainId>/poc-deployment.json` next to
 * Ignition's own files. Readers (the verifier scripts, the chain client) call `readDeployment` or
 * `loadDeployment`; the environment can override or replace the file:
 *   POC_DEPLOYMENT      path of a deployment JSON to use instead
 *   POC_POOL_ADDRESS    StakePool address (with POC_DEPLOY_BLOCK, default 0), no file needed
 *   POC_GENERATOR_REGISTRY  GeneratorRegistry address (overrides the record's `generatorRegistry`)
 *
 * No Hardhat imports here: plain Node + an EIP-1193-ish `request` for the checks, so that any client
 * (ethers, viem, a bare JSON-RPC fetch) can use it.
 */
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The record's shape (offchain/chain/deployment.ts, where the package validates it too). */
import type { PocDeployment } from "./deployment.js";
export type { PocDeployment };

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

export function ignitionDeploymentId(chainId: number | bigint): string {
  return `chain-${chainId}`;
}

export function deploymentDir(chainId: number | bigint, root = REPO_ROOT): string {
  return join(root, "ignition", "deployments", ignitionDeploymentId(chainId));
}

export function deploymentFile(chainId: number | bigint, root = REPO_ROOT): string {
  return join(deploymentDir(chainId, root), "poc-deployment.json");
}

export class DeploymentNotFoundError extends Error {
  override name = "DeploymentNotFoundError";
}

function isAddress(s: unknown): s is string {
  return typeof s === "string" && /^0x[0-9a-fA-F]{40}$/.test(s);
}

function validate(d: unknown, where: string): PocDeployment {
  const o = d as Partial<PocDeployment>;
  if (!o || typeof o !== "object") throw new Error(`${where}: not a JSON object`);
  for (const k of ["stakePool", "token", "randomness"] as const) {
    if (!isAddress(o[k])) throw new Error(`${where}: "${k}" is not an address`);
  }
  if (o.generatorRegistry !== undefined && !isAddress(o.generatorRegistry)) throw new Error(`${where}: "generatorRegistry" is not an address`);
  if (!Number.isInteger(o.chainId) || !Number.isInteger(o.deployBlock) || (o.deployBlock as number) < 0) {
    throw new Error(`${where}: "chainId" and "deployBlock" must be non-negative integers`);
  }
  return o as PocDeployment;
}

/**
 * The recorded deployment for `chainId` (env overrides first, see the module comment). Does not touch
 * the chain; see `loadDeployment` for a version that checks the contract exists.
 */
export async function readDeployment(chainId: number | bigint, env: NodeJS.ProcessEnv = process.env): Promise<PocDeployment> {
  const registry = env.POC_GENERATOR_REGISTRY;
  if (registry !== undefined && registry !== "" && !isAddress(registry)) throw new Error(`POC_GENERATOR_REGISTRY is not an address: ${registry}`);
  const d = await readRecorded(chainId, env);
  return registry ? { ...d, generatorRegistry: registry } : d;
}

async function readRecorded(chainId: number | bigint, env: NodeJS.ProcessEnv): Promise<PocDeployment> {
  if (env.POC_POOL_ADDRESS) {
    if (!isAddress(env.POC_POOL_ADDRESS)) throw new Error(`POC_POOL_ADDRESS is not an address: ${env.POC_POOL_ADDRESS}`);
    return {
      chainId: Number(chainId),
      network: "env",
      stakePool: env.POC_POOL_ADDRESS,
      token: env.POC_TOKEN ?? "0x0000000000000000000000000000000000000000",
      randomness: "0x0000000000000000000000000000000000000000",
      deployBlock: Number(env.POC_DEPLOY_BLOCK ?? 0),
      deployedAt: "",
      params: {},
    };
  }
  const file = env.POC_DEPLOYMENT ? resolve(env.POC_DEPLOYMENT) : deploymentFile(chainId);
  if (!existsSync(file)) {
    throw new DeploymentNotFoundError(
      `no StakePool deployment recorded for chain ${chainId} (looked for ${file}); run scripts/deploy.ts on that network first, or set POC_POOL_ADDRESS`,
    );
  }
  const d = validate(JSON.parse(await readFile(file, "utf8")), file);
  if (BigInt(d.chainId) !== BigInt(chainId)) throw new Error(`${file} is for chain ${d.chainId}, not ${chainId}`);
  return d;
}

export async function writeDeployment(d: PocDeployment, root = REPO_ROOT): Promise<string> {
  const file = deploymentFile(d.chainId, root);
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, JSON.stringify(d, null, 2) + "\n");
  return file;
}

/** Minimal JSON-RPC access: what `ethers.provider.send` or a viem client's `request` offer. */
export type RpcSend = (method: string, params: unknown[]) => Promise<unknown>;

/** Whether there is contract code at `address` (at `block`, default latest). */
export async function hasCode(send: RpcSend, address: string, block: number | "latest" = "latest"): Promise<boolean> {
  const tag = block === "latest" ? "latest" : "0x" + block.toString(16);
  const code = (await send("eth_getCode", [address, tag])) as string;
  return typeof code === "string" && code !== "0x" && code !== "0x0";
}

/**
 * The recorded deployment for the chain behind `send`, checked against the chain: fails with a clear
 * message when the pool has no code there (e.g. a restarted `hardhat node`).
 */
export async function loadDeployment(send: RpcSend, env: NodeJS.ProcessEnv = process.env): Promise<PocDeployment> {
  const chainId = BigInt((await send("eth_chainId", [])) as string);
  const d = await readDeployment(chainId, env);
  if (!(await hasCode(send, d.stakePool))) {
    throw new DeploymentNotFoundError(
      `the recorded StakePool ${d.stakePool} has no code on chain ${chainId} (was the node restarted?); run scripts/deploy.ts again`,
    );
  }
  return d;
}

/** The first block in [from, to] at which `address` has code (binary search; needs state history). */
export async function findCreationBlock(send: RpcSend, address: string, from: number, to: number): Promise<number> {
  let lo = from;
  let hi = to;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    if (await hasCode(send, address, mid)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** The block of the transaction that created `futureId`, from Ignition's journal, if recorded. */
export async function creationBlockFromJournal(dir: string, futureId: string): Promise<number | undefined> {
  const journal = join(dir, "journal.jsonl");
  if (!existsSync(journal)) return undefined;
  let block: number | undefined;
  for (const line of (await readFile(journal, "utf8")).split("\n")) {
    if (!line.trim()) continue;
    try {
      const msg = JSON.parse(line) as { type?: string; futureId?: string; receipt?: { blockNumber?: number } };
      if (msg.type === "TRANSACTION_CONFIRM" && msg.futureId === futureId && typeof msg.receipt?.blockNumber === "number") {
        block = msg.receipt.blockNumber;
      }
    } catch {
      // ignore a torn last line
    }
  }
  return block;
}
