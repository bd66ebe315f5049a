// A browser entry (bundle it: esbuild browser.js --bundle --platform=browser --format=esm):
// every job of a pool, the next steps of each, and the first job's request decoded.
import { JsonRpcProvider } from "ethers";
import { PoolClient, listJobs, nextActions, decodeReceipt, decodeJobRequest, fetchJobRequest, stakePoolAbi, addresses } from "@proof-of-cache/client";
export { decodeReceipt, decodeJobRequest, stakePoolAbi, addresses };
export async function jobs(rpcUrl, pool, deployBlock) {
  const client = await PoolClient.create({ runner: new JsonRpcProvider(rpcUrl, undefined, { staticNetwork: true }), pool, deployBlock });
  const list = await listJobs(client);
  const first = list[0];
  const request = first ? await fetchJobRequest(first.opened.requestUri, first.opened.requestHash) : undefined;
  return { states: list.map((j) => j.stateName), next: list.map((j) => nextActions(j, 0).map((a) => a.action)), prompt: request?.promptTokens.length };
}
