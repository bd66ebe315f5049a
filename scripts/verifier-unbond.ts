/**
 * Leave (part of) the verifier bond, in two steps separated by the pool's unbond delay:
 *
 *   POC_AMOUNT=50  npx hardhat run scripts/verifier-unbond.ts --network localhost   # request 50
 *   POC_AMOUNT=all npx hardhat run scripts/verifier-unbond.ts --network localhost   # request everything
 *   npx hardhat run scripts/verifier-unbond.ts --network localhost                  # withdraw what is ready
 *
 * Without POC_AMOUNT it withdraws the unbonded tokens whose delay has passed. With POC_AMOUNT it first
 * withdraws anything already ready, then requests the new unbond (each request keeps its own delay).
 * POC_ACCOUNT picks the account (default 0).
 * POC_WITHDRAW_CREDIT=1 also withdraws the account's credit (rewards and refunds).
 */
import { amountFromEnv, formatUnits, openSession, verifierStatus } from "./lib/session.js";

const s = await openSession();
const me = s.signer.address;
const f = (v: bigint) => formatUnits(v, s.decimals);
const before = await s.pool.bondOf(me);
if (before.unbondable > 0n) {
  const r = await (await s.pool.withdrawUnbonded()).wait();
  console.log(`withdrew ${f(before.unbondable)} unbonded tokens (tx ${r?.hash})`);
}
if (before.unbonding > before.unbondable) console.log(`${f(before.unbonding - before.unbondable)} still unbonding (delay not passed)`);

const raw = process.env.POC_AMOUNT;
const amount = raw === "all" ? (await s.pool.bondOf(me)).bond : amountFromEnv(s.decimals);
if (amount !== undefined) {
  if (amount === 0n) throw new Error(`${me} has no bond to unbond`);
  const r = await (await s.pool.requestUnbond(amount)).wait();
  const ev = r?.logs.map((l) => s.pool.interface.parseLog(l)).find((x) => x?.name === "UnbondRequested");
  const readyAt = ev ? Number(ev.args.readyAt) : undefined;
  console.log(`requested unbond of ${f(amount)} (tx ${r?.hash})${readyAt ? `; withdrawable from ${new Date(readyAt * 1000).toISOString()}` : ""}`);
}

if (process.env.POC_WITHDRAW_CREDIT === "1") {
  const credit = await s.pool.creditOf(me);
  if (credit > 0n) {
    const r = await (await s.pool.withdraw()).wait();
    console.log(`withdrew credit ${f(credit)} (tx ${r?.hash})`);
  } else {
    console.log("no credit to withdraw");
  }
}
for (const line of await verifierStatus(s, me)) console.log(line);
