/**
 * What the user-facing scripts share: connect to the network Hardhat was started with, find the
 * recorded deployment, pick the acting account, and parse and format token amounts.
 *
 *   POC_ACCOUNT   index (0, 1, …) or address of the acting account among the network's accounts (default 0)
 *   POC_AMOUNT    an amount in whole tokens (decimals allowed, e.g. "150.5"); POC_AMOUNT_WEI in base units
 */
import { network } from "hardhat";
import { loadDeployment, type PocDeployment } from "./deployment.js";

export const LOCAL_CHAIN_ID = 31337n;

export async function openSession(env: NodeJS.ProcessEnv = process.env) {
  const conn = await network.create();
  const { ethers } = conn;
  const send = (m: string, p: unknown[]) => ethers.provider.send(m, p);
  const deployment: PocDeployment = await loadDeployment(send, env);
  const chainId = (await ethers.provider.getNetwork()).chainId;
  const signers = await ethers.getSigners();
  const pick = env.POC_ACCOUNT ?? "0";
  const signer = /^\d+$/.test(pick)
    ? signers[Number(pick)]
    : signers.find((s) => s.address.toLowerCase() === pick.toLowerCase());
  if (!signer) throw new Error(`POC_ACCOUNT=${pick}: no such account on ${conn.networkName} (${signers.length} accounts)`);
  const pool = await ethers.getContractAt("StakePool", deployment.stakePool, signer);
  const token = await ethers.getContractAt("TestToken", await pool.stakeToken(), signer);
  let decimals = 18;
  try {
    decimals = Number(await token.decimals());
  } catch {
    // a token without decimals(): base units
  }
  const local = chainId === LOCAL_CHAIN_ID;
  return { conn, ethers, deployment, chainId, local, signer, signers, pool, token, decimals };
}

export type Session = Awaited<ReturnType<typeof openSession>>;

/** POC_AMOUNT (whole tokens) or POC_AMOUNT_WEI, or undefined when neither is set. */
export function amountFromEnv(decimals: number, env: NodeJS.ProcessEnv = process.env): bigint | undefined {
  if (env.POC_AMOUNT_WEI) {
    if (!/^\d+$/.test(env.POC_AMOUNT_WEI)) throw new Error(`POC_AMOUNT_WEI must be an integer, got "${env.POC_AMOUNT_WEI}"`);
    return BigInt(env.POC_AMOUNT_WEI);
  }
  if (env.POC_AMOUNT) return parseUnits(env.POC_AMOUNT, decimals);
  return undefined;
}

export function parseUnits(s: string, decimals: number): bigint {
  const m = /^(\d+)(?:\.(\d*))?$/.exec(s.trim());
  if (!m) throw new Error(`not a token amount: "${s}"`);
  const frac = m[2] ?? "";
  if (frac.length > decimals) throw new Error(`"${s}" has more than ${decimals} decimals`);
  return BigInt(m[1]!) * 10n ** BigInt(decimals) + BigInt(frac.padEnd(decimals, "0") || "0");
}

export function formatUnits(v: bigint, decimals: number): string {
  const neg = v < 0n;
  const a = neg ? -v : v;
  const base = 10n ** BigInt(decimals);
  const frac = (a % base).toString().padStart(decimals, "0").replace(/0+$/, "");
  return `${neg ? "-" : ""}${a / base}${frac ? "." + frac : ""}`;
}

/** A verifier's standing in the pool, as printed by the scripts. */
export async function verifierStatus(s: Session, address: string) {
  const [b, credit, balance, count] = await Promise.all([
    s.pool.bondOf(address),
    s.pool.creditOf(address),
    s.token.balanceOf(address),
    s.pool.verifierCount(),
  ]);
  const now = Number((await s.ethers.provider.getBlock("latest"))!.timestamp);
  const f = (v: bigint) => formatUnits(v, s.decimals);
  const ready = b.unbonding === 0n ? "-" : Number(b.unbondReadyAt) <= now ? "withdrawable now" : `withdrawable at ${new Date(Number(b.unbondReadyAt) * 1000).toISOString()} (in ${Number(b.unbondReadyAt) - now} s)`;
  return [
    `account        ${address}`,
    `bond           ${f(b.bond)}${b.listed ? "  (in the verifier set)" : "  (not in the verifier set)"}`,
    `unbonding      ${f(b.unbonding)}  ${ready}`,
    `credit         ${f(credit)}  (withdraw() pays it out)`,
    `wallet         ${f(balance)}`,
    `verifiers      ${count} in the set; pool ${s.deployment.stakePool} on chain ${s.chainId}`,
  ];
}
