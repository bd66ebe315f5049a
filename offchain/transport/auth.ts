/**
 * Party authentication for off-chain servers (docs/NETWORK.md "Authentication of a party of a job").
 *
 * A request that needs a party of job J carries `Authorization: PoC <address>:<expires>:<signature>`,
 * the signature being EIP-191 `personal_sign` of {@link accessMessage}. {@link verifyAccess} checks the
 * signature and the expiry and asks the pool whether the address is the job's user, the verifier of
 * one of its stages, or the pick of its pending draw.
 */
import { getAddress, isAddress, verifyMessage, type Signer } from "ethers";
import { JobState } from "../chain/state.js";
import { PocError } from "../errors.js";

/** At most this far in the future may `expires` lie (seconds). */
export const MAX_ACCESS_LIFETIME_S = 600;
/** What {@link signAccess} uses when no lifetime is given (seconds). */
export const DEFAULT_ACCESS_LIFETIME_S = 300;

export class AccessError extends PocError {
  override name = "AccessError";
  /** 401: missing, malformed, bad signature or expired; 403: a valid signature of someone who is not a party. */
  readonly status: 401 | 403;
  constructor(status: 401 | 403, message: string, options: { details?: string; cause?: unknown } = {}) {
    super(message, options);
    this.status = status;
  }
}

export interface AccessScope {
  chainId: bigint;
  /** The pool address (any case). */
  pool: string;
  jobId: bigint;
}

export interface AccessGrant {
  /** The authenticated address, checksummed. */
  address: string;
  /** What the address is to the job. */
  role: "user" | "verifier";
  /** For a verifier: the stage it was drawn for. */
  stage?: number;
  expires: number;
}

/** The text that is signed (lines joined by "\n", no trailing newline). */
export function accessMessage(scope: AccessScope, expires: number): string {
  return [
    "Proof of Cache access v1",
    `chain: ${scope.chainId.toString()}`,
    `pool: ${scope.pool.toLowerCase()}`,
    `job: ${scope.jobId.toString()}`,
    `expires: ${expires}`,
  ].join("\n");
}

/** The `Authorization` header value for `signer` as a party of the scoped job. */
export async function signAccess(signer: Signer, scope: AccessScope, options: { nowS?: number; lifetimeS?: number } = {}): Promise<string> {
  const now = options.nowS ?? Math.floor(Date.now() / 1000);
  const lifetime = Math.min(options.lifetimeS ?? DEFAULT_ACCESS_LIFETIME_S, MAX_ACCESS_LIFETIME_S);
  const expires = now + lifetime;
  const address = getAddress(await signer.getAddress());
  const signature = await signer.signMessage(accessMessage(scope, expires));
  return `PoC ${address}:${expires}:${signature}`;
}

export interface ParsedAccess {
  address: string;
  expires: number;
  signature: string;
}

/** Parse an `Authorization` header; throws AccessError(401) when missing or malformed. */
export function parseAuthorization(header: string | undefined | null): ParsedAccess {
  if (!header) throw new AccessError(401, "authentication required: send Authorization: PoC <address>:<expires>:<signature> (docs/NETWORK.md)");
  const m = /^PoC (0x[0-9a-fA-F]{40}):(\d{1,12}):(0x[0-9a-fA-F]{130})$/.exec(header.trim());
  if (!m || !isAddress(m[1]!)) throw new AccessError(401, "malformed Authorization header: expected PoC <address>:<expires>:<signature>");
  return { address: getAddress(m[1]!), expires: Number(m[2]), signature: m[3]! };
}

/** What the verifier needs from the pool (a PoolClient fits). */
export interface JobParties {
  getJob(jobId: bigint): Promise<{ user: string; stage: number; state: number }>;
  getStage(jobId: bigint, stage: number): Promise<{ verifier: string }>;
  /**
   * Whether `who` is the pick of the job's pending draw (PoolClient `drawPick`): the pick replays
   * before it draws its own stage in commitResult, so it needs the receipt before it is assigned.
   */
  drawPick?(jobId: bigint, who: string): Promise<{ seed: bigint } | null>;
}

/**
 * Check an `Authorization` header for the scoped job: signature, expiry window, and that the address
 * is the job's user, the verifier of one of stages 1 … current stage, or the pick of the job's pending
 * draw (when `parties` can tell: PoolClient `drawPick`). `allow` narrows the roles
 * (e.g. `["user"]` for the token stream).
 */
export async function verifyAccess(
  header: string | undefined | null,
  scope: AccessScope,
  parties: JobParties,
  options: { nowS?: number; allow?: readonly ("user" | "verifier")[] } = {}
): Promise<AccessGrant> {
  const p = parseAuthorization(header);
  const now = options.nowS ?? Math.floor(Date.now() / 1000);
  if (p.expires <= now) throw new AccessError(401, `the authorization expired at ${p.expires} (now ${now}): sign a new one`);
  if (p.expires > now + MAX_ACCESS_LIFETIME_S) throw new AccessError(401, `the authorization expires too late (${p.expires}; at most ${MAX_ACCESS_LIFETIME_S} s from now)`);
  let signer: string;
  try {
    signer = getAddress(verifyMessage(accessMessage(scope, p.expires), p.signature));
  } catch (cause) {
    throw new AccessError(401, "the authorization's signature is not valid", { cause });
  }
  if (signer !== p.address) throw new AccessError(401, `the authorization is signed by ${signer}, not by ${p.address}`);
  const allow = options.allow ?? ["user", "verifier"];
  const job = await parties.getJob(scope.jobId);
  if (job.state === 0) throw new AccessError(403, `job ${scope.jobId} does not exist`);
  if (allow.includes("user") && getAddress(job.user) === p.address) return { address: p.address, role: "user", expires: p.expires };
  if (allow.includes("verifier")) {
    for (let s = 1; s <= job.stage; s++) {
      const st = await parties.getStage(scope.jobId, s);
      if (getAddress(st.verifier) === p.address) return { address: p.address, role: "verifier", stage: s, expires: p.expires };
    }
    if (job.state === JobState.AwaitingVerifier && parties.drawPick && (await parties.drawPick(scope.jobId, p.address))) {
      return { address: p.address, role: "verifier", stage: job.stage, expires: p.expires };
    }
  }
  throw new AccessError(403, `${p.address} is not ${allow.length === 1 && allow[0] === "user" ? "the user" : "a party"} of job ${scope.jobId}`);
}
