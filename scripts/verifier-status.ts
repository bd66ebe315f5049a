/**
 * Show a verifier's bond, unbonding, credit, wallet and draw weight per declared model, the pool's
 * parameters and its draw queue.
 *
 *   npx hardhat run scripts/verifier-status.ts --network localhost
 *
 * Environment: POC_ACCOUNT (index or address, default 0).
 */
import { formatUnits, openSession, verifierStatus } from "./lib/session.js";

const s = await openSession();
for (const line of await verifierStatus(s, s.signer.address)) console.log(line);
const [p, id] = await s.pool.params();
console.log(
  `params #${id}      α ${Number(p.alphaBps) / 100}%  β ${Number(p.betaBps) / 100}%  commit ${p.commitWindow}s  challenge ${p.challengeWindow}s  verify ${p.verifyWindow}s  draw ${p.drawWindow}s  maxStages ${p.maxStages}  unbondDelay ${p.unbondDelay}s  minBond ${formatUnits(p.minBond, s.decimals)}  minModelStake ${formatUnits(p.minModelStake, s.decimals)}  maxStakeBps ${p.maxStakeBps}  declineFeeBps ${p.declineFeeBps}`,
);
const e = await s.pool.drawEpoch();
console.log(`draws          ${e.frozen ? `epoch in progress (request ${e.requestId})` : "no epoch in progress"}; ${e.tail - e.head} stage(s) queued; ${await s.pool.pendingSyncs()} verifier(s) wait for a sync`);
