/**
 * A StakePool deployment record (what scripts/deploy.ts writes to
 * `ignition/deployments/chain-<id>/poc-deployment.json`), validated; and the records committed to the
 * repository, by chain id (`addresses`, generated into addresses.ts by `npm run build:abis`).
 * Browser-safe: reading the file from disk is scripts/lib/deployment.ts's job.
 */
import { getAddress } from "ethers";
import * as z from "zod"; // the namespace import lets bundlers drop what is unused (zod 4)
import { addresses as recorded } from "./addresses.js";
import { ChainConfigError } from "./errors.js";
import { formatIssues } from "../sampling/errors.js";

export interface PocDeployment {
  chainId: number;
  /** Hardhat network name used for the deployment (informational). */
  network: string;
  stakePool: string;
  token: string;
  randomness: string;
  /** GeneratorRegistry bound to the pool (contracts/GeneratorRegistry.sol); absent in older records. */
  generatorRegistry?: string;
  /** Block in which the StakePool contract was created: scan its events from here. */
  deployBlock: number;
  deployedAt: string;
  /** Ignition deployment id (absent for ephemeral in-process deployments). */
  ignitionDeploymentId?: string;
  params: Record<string, string | number>;
}

const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/, "must be an address").transform((a) => getAddress(a));
const count = z.number().int().min(0);

const deploymentSchema = z.looseObject({
  chainId: count,
  network: z.string().default(""),
  stakePool: address,
  token: address,
  randomness: address,
  generatorRegistry: address.optional(),
  deployBlock: count,
  deployedAt: z.string().default(""),
  ignitionDeploymentId: z.string().optional(),
  params: z.record(z.string(), z.union([z.string(), z.number()])).default({}),
});

/** Validate a deployment record (parsed JSON, e.g. a `poc-deployment.json`); ChainConfigError naming the field. */
export function deploymentFromRecord(json: unknown): PocDeployment {
  const r = deploymentSchema.safeParse(json);
  if (!r.success) throw new ChainConfigError("not a StakePool deployment record", { details: formatIssues(r.error.issues) });
  const { ignitionDeploymentId, generatorRegistry, ...d } = r.data;
  return {
    ...d,
    ...(generatorRegistry !== undefined ? { generatorRegistry } : {}),
    ...(ignitionDeploymentId !== undefined ? { ignitionDeploymentId } : {}),
  } as PocDeployment;
}

/** The deployments committed to the repository, by chain id (local chains 31337 are never recorded). */
export const addresses: Readonly<Record<number, PocDeployment>> = recorded;

/** The committed deployment of `chainId`; ChainConfigError when there is none. */
export function deploymentFor(chainId: number | bigint): PocDeployment {
  const d = addresses[Number(chainId)];
  if (!d) {
    const known = Object.keys(addresses);
    throw new ChainConfigError(`no StakePool deployment recorded for chain ${chainId}`, {
      details: known.length ? `recorded chains: ${known.join(", ")}` : "none is recorded yet: pass the record (deploymentFromRecord) or the pool address",
    });
  }
  return d;
}
