/**
 * Show a verifier's bond, pending unbond, credit and wallet, and the pool's verifier set.
 *
 *   npx hardhat run scripts/verifier-status.ts --network localhost
 *
 * Environment: POC_ACCOUNT (index or address, default 0); POC_ALL=1 lists every verifier in the set.
 */
import { formatUnits, openSession, verifierStatus } from "./lib/session.js";

const s = await openSession();
for (const line of await verifierStatus(s, s.signer.address)) console.log(line);
const [p, id] = await s.pool.params();
console.log(
  `params #${id}      α ${Number(p.alphaBps) / 100}%  β ${Number(p.betaBps) / 100}%  commit ${p.commitWindow}s  challenge ${p.challengeWindow}s  verify ${p.verifyWindow}s  draw ${p.drawWindow}s  maxStages ${p.maxStages}  unbondDelay ${p.unbondDelay}s  minBond ${formatUnits(p.minBond, s.decimals)}`,
);
if (process.env.POC_ALL === "1") {
  const n = await s.pool.verifierCount();
  for (let i = 0n; i < n; i++) {
    const v = await s.pool.verifierAt(i);
    const b = await s.pool.bondOf(v);
    console.log(`  #${i}  ${v}  bond ${formatUnits(b.bond, s.decimals)}  unbonding ${formatUnits(b.unbonding, s.decimals)}`);
  }
}
