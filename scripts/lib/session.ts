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

/** A verifier's standing in the pool, as printed by the scripts: bond, unbonding, credit, wallet, weight per declared model. */
export async function verifierStatus(s: Session, address: string) {
  const [b, credit, balance, [params]] = await Promise.all([s.pool.bondOf(address), s.pool.creditOf(address), s.token.balanceOf(address), s.pool.params()]);
  const f = (v: bigint) => formatUnits(v, s.decimals);
  const lines = [
    `account        ${address}`,
    `bond           ${f(b.bond)}${b.pendingBond > 0n ? ` + ${f(b.pendingBond)} pending (next sync)` : ""}${b.bond < params.minBond ? `  (below the minimum ${f(params.minBond)}: no draw weight)` : ""}${b.needsSync ? "  (waits for a sync)" : ""}`,
    `unbonding      ${f(b.unbonding)}${b.unbonding > 0n ? `  (${f(b.unbondable)} withdrawable now)` : ""}`,
    `credit         ${f(credit)}  (withdraw() pays it out, bondFromCredit() bonds it)`,
    `wallet         ${f(balance)}`,
  ];
  if (b.models.length === 0) lines.push("models         none declared: never drawn (POC_MODELS=0x…,0x… with verifier-bond.ts)");
  for (const m of b.models) {
    const [w, [total, n]] = await Promise.all([s.pool.weightOf(m, address), s.pool.modelStake(m)]);
    lines.push(`model          ${m}  weight ${f(w)} of ${f(total)} (${n} verifier(s))${w > 0n ? "" : "  NOT drawn"}`);
  }
  lines.push(`pool           ${s.deployment.stakePool} on chain ${s.chainId}`);
  return lines;
}

/** POC_MODELS: comma-separated model ids (0x + 64 hex digits each), or undefined when unset. */
export function modelsFromEnv(env: NodeJS.ProcessEnv = process.env): string[] | undefined {
  const raw = env.POC_MODELS;
  if (raw === undefined || raw.trim() === "") return undefined;
  const ids = raw.split(",").map((x) => x.trim().toLowerCase()).filter(Boolean);
  for (const id of ids) if (!/^0x[0-9a-f]{64}$/.test(id)) throw new Error(`POC_MODELS: "${id}" is not a model id (0x + 64 hex digits)`);
  return ids;
}
