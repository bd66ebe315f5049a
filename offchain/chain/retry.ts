/**
 * Retry with exponential backoff for transient RPC failures.
 *
 * Transient (retried): connection errors (ECONNREFUSED, ECONNRESET, ETIMEDOUT, EPIPE, EAI_AGAIN,
 * undici socket errors, "fetch failed"), ethers NETWORK_ERROR / TIMEOUT, HTTP 429 and 5xx
 * (ethers SERVER_ERROR with that status), JSON-RPC "limit exceeded" (-32005) and "header not found"
 * (load-balanced nodes lagging a block). Never retried: reverts (CALL_EXCEPTION, JSON-RPC code 3,
 * revert data), bad arguments, insufficient funds, nonce errors, HTTP 4xx other than 429 — retrying
 * those cannot help and, for a transaction, could only do harm.
 */
import { RpcUnavailableError } from "./errors.js";

export interface RetryOptions {
  /** Attempts in all (default 6). */
  attempts?: number;
  /** First delay in ms (default 250); doubled each time, ±25 % jitter. */
  baseDelayMs?: number;
  /** Longest delay (default 8000 ms). */
  maxDelayMs?: number;
  /** Stop retrying (the last error is thrown) once this much time has passed (default: no limit). */
  budgetMs?: number;
  /** Abort waiting between attempts. */
  signal?: AbortSignal;
  /** Called before each retry (for logs). */
  onRetry?: (info: { what: string; attempt: number; delayMs: number; error: unknown }) => void;
  /** Decides what is transient (default isTransientError). */
  isTransient?: (e: unknown) => boolean;
}

export const DEFAULT_RETRY: Required<Pick<RetryOptions, "attempts" | "baseDelayMs" | "maxDelayMs">> = {
  attempts: 6,
  baseDelayMs: 250,
  maxDelayMs: 8000,
};

const TRANSIENT_NODE_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "ETIMEDOUT",
  "EPIPE",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENETDOWN",
  "EAI_AGAIN",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "UND_ERR_CLOSED",
]);

/** An error and the objects nested in it under `keys` (depth first, each once): where ethers and fetch keep the details. */
export function* errorChain(e: unknown, keys: readonly string[] = ["cause", "error", "info"]): Generator<Record<string, unknown>> {
  const seen = new Set<unknown>();
  const stack: unknown[] = [e];
  while (stack.length > 0) {
    const x = stack.pop();
    if (!x || typeof x !== "object" || seen.has(x)) continue;
    seen.add(x);
    const o = x as Record<string, unknown>;
    yield o;
    for (const k of keys) if (o[k] && typeof o[k] === "object") stack.push(o[k]);
  }
}

/** Whether an error is a revert (never retried). */
export function isRevertError(e: unknown): boolean {
  for (const o of errorChain(e)) {
    if (o.code === "CALL_EXCEPTION" || o.code === 3) return true;
    if (typeof o.data === "string" && /^0x[0-9a-fA-F]{8}/.test(o.data)) return true;
    if (typeof o.message === "string" && /execution reverted|reverted with/i.test(o.message)) return true;
  }
  return false;
}

/** Whether an error is worth retrying (module comment). */
export function isTransientError(e: unknown): boolean {
  if (isRevertError(e)) return false;
  for (const o of errorChain(e)) {
    const code = o.code;
    if (typeof code === "string") {
      if (TRANSIENT_NODE_CODES.has(code)) return true;
      if (code === "NETWORK_ERROR" || code === "TIMEOUT") return true;
      if (code === "SERVER_ERROR") {
        const status = responseStatus(o);
        // no status: a fetch that never got a response
        if (status === undefined || status === 429 || status >= 500) return true;
      }
      if (code === "INSUFFICIENT_FUNDS" || code === "NONCE_EXPIRED" || code === "INVALID_ARGUMENT" || code === "REPLACEMENT_UNDERPRICED") return false;
    }
    if (code === -32005 || code === 429) return true;
    const status = typeof o.status === "number" ? o.status : undefined;
    if (status !== undefined && (status === 429 || status >= 500)) return true;
    if (o.name === "TimeoutError") return true;
    const msg = typeof o.message === "string" ? o.message : "";
    if (/fetch failed|socket hang up|network error|timed? ?out|temporarily unavailable|too many requests|rate limit|header not found|service unavailable|bad gateway/i.test(msg)) return true;
  }
  return false;
}

function responseStatus(o: Record<string, unknown>): number | undefined {
  const info = o.info as { responseStatus?: unknown } | undefined;
  const s = info?.responseStatus;
  if (typeof s !== "string") return undefined;
  // ethers escalates an exhausted 429 as "599 CLIENT ESCALATED SERVER ERROR (429 …)"
  const m = /^(\d{3})/.exec(s);
  return m ? Number(m[1]) : undefined;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((ok, fail) => {
    if (signal?.aborted) return fail(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      ok();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      fail(signal!.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });

export { sleep };

/**
 * Run `fn`, retrying transient failures with exponential backoff. A non-transient error is thrown at
 * once; when the attempts or the budget run out, RpcUnavailableError (with the last error as cause).
 */
export async function withRetry<T>(what: string, fn: (attempt: number) => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const attempts = Math.max(1, options.attempts ?? DEFAULT_RETRY.attempts);
  const base = options.baseDelayMs ?? DEFAULT_RETRY.baseDelayMs;
  const max = options.maxDelayMs ?? DEFAULT_RETRY.maxDelayMs;
  const transient = options.isTransient ?? isTransientError;
  const start = Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (e) {
      if (!transient(e)) throw e;
      if (options.signal?.aborted) throw e;
      let delay = Math.min(max, base * 2 ** (attempt - 1));
      delay = Math.round(delay * (0.75 + Math.random() * 0.5));
      const overBudget = options.budgetMs !== undefined && Date.now() - start + delay > options.budgetMs;
      if (attempt >= attempts || overBudget) throw new RpcUnavailableError(what, attempt, e);
      options.onRetry?.({ what, attempt, delayMs: delay, error: e });
      await sleep(delay, options.signal);
    }
  }
}
