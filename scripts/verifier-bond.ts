/**
 * Bond stake as a verifier.
 *
 *   POC_AMOUNT=150 npx hardhat run scripts/verifier-bond.ts --network localhost
 *
 * Environment: POC_AMOUNT (whole tokens; default: the pool's minimum bond) or POC_AMOUNT_WEI,
 * POC_ACCOUNT (index or address, default 0). On a local chain (id 31337) a shortfall in the wallet is
 * minted first (the local stake token is TestToken); POC_MINT=0 turns that off.
 */
import { amountFromEnv, formatUnits, openSession, verifierStatus } from "./lib/session.js";

const s = await openSession();
const [params] = await s.pool.params();
const amount = amountFromEnv(s.decimals) ?? params.minBond;
const me = s.signer.address;
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
