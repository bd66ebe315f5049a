// every job of a pool and its next steps: node list-jobs.mjs RPC_URL POOL DEPLOY_BLOCK
import { JsonRpcProvider } from "ethers";
import { PoolClient, listJobs, nextActions } from "@proof-of-cache/client";

const [rpcUrl, pool, deployBlock] = process.argv.slice(2);
const provider = new JsonRpcProvider(rpcUrl, undefined, { staticNetwork: true });
const client = await PoolClient.create({ runner: provider, pool, deployBlock: Number(deployBlock) });
const { timestamp: now } = await provider.getBlock("latest");
for (const job of await listJobs(client)) {
  console.log(JSON.stringify({
    job: String(job.jobId),
    state: job.stateName,
    user: job.view.user,
    stages: job.stages.map((s) => s.assignments.map((a) => a.outcome).join(",")),
    paid: String(job.settlement?.payouts.total ?? 0n),
    next: nextActions(job, now).filter((a) => a.open).map((a) => `${a.action} by ${a.by}`),
  }));
}
provider.destroy();
