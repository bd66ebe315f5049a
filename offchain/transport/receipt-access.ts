/**
 * Who may read a receipt (docs/NETWORK.md "The generator's server", `GET /receipts/{root}?job={jobId}`):
 * a party of job `jobId` — its user, or the verifier drawn for one of its stages — authenticated by
 * `Authorization: PoC …` (./auth.ts), and only when `root` is the receipt root that job committed
 * on-chain (its `JobCommitted` event). One check for every server that holds receipts: the
 * generator's, and the user's copy served as a mirror (`poc receipts serve --store`).
 *
 *   serveReceipts(store, { authorize: receiptAuthorizer(client) })
 *
 * Refusals: 401 (no or bad signature, no `?job=`), 403 (not a party, or the root is not the job's),
 * 404 (the job has not committed a receipt).
 */
import type { PoolClient } from "../chain/index.js";
import { ReceiptNotFoundError } from "../receipt/errors.js";
import type { ReceiptAccessRequest, ReceiptAuthorizer } from "../receipt/store.js";
import { AccessError, verifyAccess, type AccessGrant } from "./auth.js";

export interface ReceiptAuthorizerOptions {
  /** The clock (unix seconds; default: the system clock). */
  nowS?: () => number;
  /** Called with every grant (for logging). */
  onGrant?: (grant: AccessGrant & { jobId: bigint; root: string }) => void;
}

/** Parse `?job=`: a positive decimal job id; AccessError(401) otherwise. */
export function parseJobParam(job: string | undefined): bigint {
  if (job === undefined || job === "") throw new AccessError(401, "name the job: GET /receipts/<root>?job=<jobId>, signed by a party of that job (docs/NETWORK.md)");
  if (!/^[1-9]\d{0,30}$/.test(job)) throw new AccessError(401, `?job= must be a job id (a positive integer), got "${job.slice(0, 40)}"`);
  return BigInt(job);
}

/**
 * The party check above, against the pool of `client` (or of the client `client()` returns at the
 * time of the request: a worker that reconnects after a redeploy passes a getter). Committed roots
 * are cached per client and job (a commit is final on one chain); a root that differs from the
 * cached one is read again before the request is refused, so a node restarted under the same pool
 * address (job ids start again at 1) never makes the server refuse a new job's receipt.
 */
export function receiptAuthorizer(client: PoolClient | (() => PoolClient), options: ReceiptAuthorizerOptions = {}): ReceiptAuthorizer {
  const current = typeof client === "function" ? client : () => client;
  const caches = new WeakMap<PoolClient, Map<bigint, string>>();
  const committedRoot = async (c: PoolClient, jobId: bigint): Promise<string> => {
    const rec = await c.jobRecord(jobId);
    if (!rec.committed) throw new ReceiptNotFoundError(`job ${jobId} has not committed a receipt`);
    return rec.committed.receiptRoot.toLowerCase();
  };
  return async (r: ReceiptAccessRequest) => {
    const c = current();
    const jobId = parseJobParam(r.job);
    const scope = { chainId: c.chainId, pool: c.address, jobId };
    const grant = await verifyAccess(r.authorization, scope, c, options.nowS ? { nowS: options.nowS() } : {});
    let cache = caches.get(c);
    if (!cache) caches.set(c, (cache = new Map()));
    let root = cache.get(jobId);
    if (root === undefined || root !== r.root) {
      root = await committedRoot(c, jobId);
      cache.set(jobId, root);
    }
    if (root !== r.root) throw new AccessError(403, `receipt ${r.root} is not job ${jobId}'s: it committed ${root}`);
    options.onGrant?.({ ...grant, jobId, root });
    return grant;
  };
}
