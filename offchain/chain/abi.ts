/**
 * Node only: the ABIs of the StakePool and its stake token read from Hardhat's build artifacts
 * (`artifacts/contracts/StakePool.sol/StakePool.json`, `…/mocks/TestToken.sol/TestToken.json`). A
 * missing artifact is an ArtifactError that says to run `npx hardhat build`. The chain client itself
 * speaks the generated ABIs of abis.ts (browser-safe, written from these artifacts by
 * `npm run build:abis`); `artifactAbis(dir)` gives it these instead (`PoolClientOptions.abi`).
 */
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Interface, type InterfaceAbi } from "ethers";
import { z } from "zod";
import { ArtifactError } from "./errors.js";
import { erc20Interface } from "./interfaces.js";

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** Where the artifacts are read from: POC_ARTIFACTS_DIR, else `<repo>/artifacts`. */
export function artifactsDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.POC_ARTIFACTS_DIR ? resolve(env.POC_ARTIFACTS_DIR) : join(REPO_ROOT, "artifacts");
}

const artifactSchema = z.object({
  contractName: z.string(),
  abi: z.array(z.looseObject({ type: z.string() })),
});

const cache = new Map<string, Interface>();

/** The ABI of `contracts/<sourcePath>` contract `name` as an ethers Interface (cached). */
export function artifactInterface(sourcePath: string, name: string, dir = artifactsDir()): Interface {
  const file = join(dir, "contracts", sourcePath, `${name}.json`);
  const hit = cache.get(file);
  if (hit) return hit;
  let raw: string;
  try {
    raw = readFileSync(file, "utf8");
  } catch (cause) {
    throw new ArtifactError(`the compiled ABI of ${name} is missing (${file})`, {
      details: "run `npx hardhat build` in the repository first",
      cause,
    });
  }
  let parsed: z.infer<typeof artifactSchema>;
  try {
    parsed = artifactSchema.parse(JSON.parse(raw));
  } catch (cause) {
    throw new ArtifactError(`${file} is not a Hardhat artifact`, { details: "run `npx hardhat build` again", cause });
  }
  const iface = new Interface(parsed.abi as InterfaceAbi);
  cache.set(file, iface);
  return iface;
}

/** The StakePool ABI. */
export function stakePoolInterface(dir?: string): Interface {
  return artifactInterface("StakePool.sol", "StakePool", dir);
}

/**
 * The stake token ABI: the local TestToken artifact when present (ERC-20 + `mint`), else a minimal
 * ERC-20 (any deployed token speaks it).
 */
export function tokenInterface(dir?: string): Interface {
  try {
    return artifactInterface("mocks/TestToken.sol", "TestToken", dir);
  } catch (e) {
    if (!(e instanceof ArtifactError)) throw e;
    return ERC20_INTERFACE;
  }
}

/** A minimal ERC-20 (interfaces.ts `erc20Interface`). */
export const ERC20_INTERFACE = erc20Interface();

/** The pool and token ABIs of an artifacts directory, for `PoolClientOptions.abi`. */
export function artifactAbis(dir?: string): { pool: Interface; token: Interface } {
  return { pool: stakePoolInterface(dir), token: tokenInterface(dir) };
}
