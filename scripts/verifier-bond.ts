/**
 * Bond stake as a verifier and declare the models it replays.
 *
 *   POC_AMOUNT=150 POC_MODELS=0xabc…,0xdef… npx hardhat run scripts/verifier-bond.ts --network localhost
 *   POC_REBOND=1 npx hardhat run scripts/verifier-bond.ts --network localhost   # bond the credit (payouts) instead
 *
 * A verifier is drawn only for jobs of the models it declared (POC_MODELS, comma-separated ids; the
 * list replaces the earlier one; `npx poc verifier models --dir DIR` reads them from a directory).
 * Environment: POC_AMOUNT (whole tokens; default: the pool's minimum bond) or POC_AMOUNT_WEI,
 * POC_ACCOUNT (index or address, default 0). On a local chain (id 31337) a shortfall in the wallet is
 * minted first (the local stake token is TestToken); POC_MINT=0 turns that off.
 */
import { amountFromEnv, formatUnits, modelsFromEnv, openSession, verifierStatus } from "./lib/session.js";

const s = await openSession();
const [params] = await s.pool.params();
const me = s.signer.address;
const models = modelsFromEnv();
if (models) {
  const r = await (await s.pool.setModels(models)).wait();
  console.log(`declared ${models.length} model(s) (tx ${r?.hash}, gas ${r?.gasUsed})`);
}
if (process.env.POC_REBOND === "1") {
  const credit = await s.pool.creditOf(me);
  const amount = amountFromEnv(s.decimals) ?? credit;
  if (amount === 0n) throw new Error(`${me} has no credit to bond`);
  const r = await (await s.pool.bondFromCredit(amount)).wait();
  console.log(`bonded ${formatUnits(amount, s.decimals)} of the credit (tx ${r?.hash}, gas ${r?.gasUsed})`);
  for (const line of await verifierStatus(s, me)) console.log(line);
  process.exit(0);
}
const amount = amountFromEnv(s.decimals) ?? params.minBond;
const balance = await s.token.balanceOf(me);
if (balance < amount) {
  if (!s.local || process.env.POC_MINT === "0") {
    throw new Error(`${me} holds ${formatUnits(balance, s.decimals)} tokens, needs ${formatUnits(amount, s.decimals)}`);
  }
  console.log(`minting ${formatUnits(amount - balance, s.decimals)} test tokens to ${me}`);
  await (await s.token.mint(me, amount - balance)).wait();
}
const allowance = await s.token.allowance(me, s.deployment.stakePool);
if (allowance < amount) await (await s.token.approve(s.deployment.stakePool, amount)).wait();
const receipt = await (await s.pool.bond(amount)).wait();
console.log(`bonded ${formatUnits(amount, s.decimals)} (tx ${receipt?.hash}, gas ${receipt?.gasUsed})`);
for (const line of await verifierStatus(s, me)) console.log(line);
