/**
 * Leave (part of) the verifier bond, in two steps separated by the pool's unbond delay:
 *
 *   POC_AMOUNT=50  npx hardhat run scripts/verifier-unbond.ts --network localhost   # request 50
 *   POC_AMOUNT=all npx hardhat run scripts/verifier-unbond.ts --network localhost   # request everything
 *   npx hardhat run scripts/verifier-unbond.ts --network localhost                  # withdraw what is ready
 *
 * Without POC_AMOUNT it withdraws the unbonded tokens if the delay has passed (and says when it will
 * have otherwise). With POC_AMOUNT it first withdraws anything already ready, then requests the new
 * unbond (which restarts the delay for everything pending). POC_ACCOUNT picks the account (default 0).
 * POC_WITHDRAW_CREDIT=1 also withdraws the account's credit (rewards and refunds).
 */
import { amountFromEnv, formatUnits, openSession, verifierStatus } from "./lib/session.js";

const s = await openSession();
const me = s.signer.address;
const f = (v: bigint) => formatUnits(v, s.decimals);
const now = Number((await s.ethers.provider.getBlock("latest"))!.timestamp);

const before = await s.pool.bondOf(me);
if (before.unbonding > 0n && Number(before.unbondReadyAt) <= now) {
  const r = await (await s.pool.withdrawUnbonded()).wait();
  console.log(`withdrew ${f(before.unbonding)} unbonded tokens (tx ${r?.hash})`);
} else if (before.unbonding > 0n) {
  console.log(`${f(before.unbonding)} unbonding, withdrawable in ${Number(before.unbondReadyAt) - now} s`);
}

const raw = process.env.POC_AMOUNT;
const amount = raw === "all" ? (await s.pool.bondOf(me)).bond : amountFromEnv(s.decimals);
if (amount !== undefined) {
  if (amount === 0n) throw new Error(`${me} has no bond to unbond`);
  const r = await (await s.pool.requestUnbond(amount)).wait();
  const after = await s.pool.bondOf(me);
  console.log(`requested unbond of ${f(amount)} (tx ${r?.hash}); ${f(after.unbonding)} withdrawable from ${new Date(Number(after.unbondReadyAt) * 1000).toISOString()}`);
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
