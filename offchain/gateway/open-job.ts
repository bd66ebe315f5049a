/**
 * Open a private job (docs/NETWORK.md "What is public, what is private"): only the request's hash
 * goes on-chain, with the marker URI `poc:direct` (the request is delivered to the generator
 * directly). Approves αCg + αCv when the allowance is short (as `poc job open` does) and, with
 * `mint` on a local TestToken, mints the wallet's shortfall first.
 */
import { ContractRevertError, type PoolClient } from "../chain/index.js";
import { type JobRequest, requestHash } from "../request/index.js";
import { GatewayError } from "./errors.js";

/** The `requestUri` of a job whose request was delivered directly. */
export const PRIVATE_REQUEST_URI = "poc:direct";

export interface OpenedPrivateJob {
  jobId: bigint;
  requestHash: string;
  tx: string;
  approveTx?: string;
  mintTx?: string;
  commitDeadline: number;
}

export async function openPrivateJob(client: PoolClient, o: { generator: string; request: JobRequest; cg: bigint; cv: bigint; mint?: boolean }): Promise<OpenedPrivateJob> {
  const hash = requestHash(o.request);
  const deposit = await client.openDeposit(o.cg, o.cv);
  const me = await client.account();
  const wallet = await client.tokenBalance(me);
  let mintTx: string | undefined;
  if (wallet < deposit) {
    if (!o.mint)
      throw new GatewayError(402, `the gateway's wallet ${me} holds ${wallet} base units of the stake token, this job needs αCg + αCv = ${deposit}`, {
        code: "insufficient_funds",
        type: "invalid_request_error",
      });
    mintTx = (await client.mintTestTokens(me, deposit - wallet)).hash;
  }
  const approve = await client.approveIfNeeded(deposit);
  let r: Awaited<ReturnType<PoolClient["openJob"]>>;
  try {
    r = await client.openJob({ generator: o.generator, modelId: o.request.modelId, cg: o.cg, cv: o.cv, requestHash: hash, requestUri: PRIVATE_REQUEST_URI });
  } catch (e) {
    if (e instanceof ContractRevertError && e.errorName === "StakePoolModelUnderserved")
      throw new GatewayError(503, `the pool takes no jobs for this model yet: too few verifiers serve it (${e.reason})`, { code: "model_underserved", cause: e });
    if (e instanceof ContractRevertError) throw new GatewayError(502, `the pool refused the job: ${e.reason}`, { code: "pool_refused", cause: e });
    throw e;
  }
  return {
    jobId: r.jobId,
    requestHash: hash,
    tx: r.hash,
    ...(approve ? { approveTx: approve.hash } : {}),
    ...(mintTx ? { mintTx } : {}),
    commitDeadline: r.opened.commitDeadline,
  };
}
