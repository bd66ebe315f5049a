import { PocError } from "../errors.js";

/** Base class of the errors raised by `offchain/chain`. */
export class ChainError extends PocError {
  override name = "ChainError";
}

/** The compiled contract artifacts are missing or unreadable (run `npx hardhat build`). */
export class ArtifactError extends ChainError {
  override name = "ArtifactError";
}

/** Bad connection settings: RPC URL, private key, account index, pool address, deployment record. */
export class ChainConfigError extends ChainError {
  override name = "ChainConfigError";
}

/** An RPC call kept failing with transient errors (network, 429/5xx, timeouts) until the retry budget ran out. */
export class RpcUnavailableError extends ChainError {
  override name = "RpcUnavailableError";
  readonly attempts: number;
  constructor(what: string, attempts: number, cause: unknown) {
    super(`${what}: the RPC endpoint kept failing (${attempts} attempts)`, { details: describeError(cause), cause });
    this.attempts = attempts;
  }
}

/**
 * A call or transaction reverted. When the revert data is one of the pool's (or token's) custom errors
 * it is decoded: `errorName` and `errorArgs`, and `reason` reads like `StakePoolWrongState(job 3, Committed)`.
 */
export class ContractRevertError extends ChainError {
  override name = "ContractRevertError";
  /** The custom error's name (e.g. "StakePoolWrongState"), "Error" for require(msg), "Panic", or undefined when unknown. */
  readonly errorName: string | undefined;
  /** The decoded arguments, by name (and position). */
  readonly errorArgs: Record<string, unknown>;
  /** The readable reason. */
  readonly reason: string;
  /** Raw revert data (0x… or undefined). */
  readonly data: string | undefined;
  constructor(action: string, reason: string, info: { errorName?: string; errorArgs?: Record<string, unknown>; data?: string; cause?: unknown; details?: string }) {
    super(`${action} reverted: ${reason}`, { cause: info.cause, ...(info.details ? { details: info.details } : {}) });
    this.reason = reason;
    this.errorName = info.errorName;
    this.errorArgs = info.errorArgs ?? {};
    this.data = info.data;
  }
}

/** A transaction was sent but its outcome is unknown (no receipt in time, or a resend found its nonce used). */
export class TxUncertainError extends ChainError {
  override name = "TxUncertainError";
  readonly hash: string | undefined;
  readonly nonce: number | undefined;
  constructor(message: string, info: { hash?: string; nonce?: number; details?: string; cause?: unknown }) {
    super(message, { ...(info.details ? { details: info.details } : {}), cause: info.cause });
    this.hash = info.hash;
    this.nonce = info.nonce;
  }
}

/** A short one-line description of any error (for details and logs). */
export function describeError(e: unknown): string {
  if (e instanceof PocError) return e.shortMessage;
  if (e && typeof e === "object") {
    const o = e as { shortMessage?: unknown; message?: unknown; code?: unknown };
    const msg = typeof o.shortMessage === "string" ? o.shortMessage : typeof o.message === "string" ? o.message : String(e);
    const code = typeof o.code === "string" || typeof o.code === "number" ? ` [${o.code}]` : "";
    return `${msg.split("\n")[0]}${code}`;
  }
  return String(e);
}
