/**
 * The generator's request intake (docs/NETWORK.md "The generator's server"): requests delivered
 * directly by users (`POST /v1/jobs/{jobId}/request`) for private jobs (`requestUri = "poc:direct"`),
 * kept in memory by their hash. The worker takes a job's request by its on-chain `requestHash`.
 *
 * - A request whose job is known (the worker saw its `JobOpened`, or the route found it on-chain) is
 *   checked against the job's hash before it is kept; a request for a job not seen yet is **held** by
 *   its own hash for `holdMs` (10 minutes) — it can only ever be used for a job bound to that hash.
 * - Bounded: at most `maxBytes` of requests are kept (the oldest held ones go first); a request
 *   taken by the worker for a job stays until `release`d (the worker releases it once the job is
 *   done).
 */
import { keccak256 } from "ethers";
import { PocError } from "../errors.js";

export class IntakeError extends PocError {
  override name = "IntakeError";
}

/** How long a request for a job not seen yet is held (docs/NETWORK.md: 10 minutes). */
export const HOLD_MS = 10 * 60 * 1000;
/** Default bound on the bytes of requests kept in memory. */
export const DEFAULT_INTAKE_BYTES = 64 * 1024 * 1024;

interface Entry {
  bytes: Uint8Array;
  /** Unix ms after which a held entry is dropped; undefined: bound to a known job (kept until released). */
  expires: number | undefined;
  at: number;
}

export interface IntakeOptions {
  holdMs?: number;
  maxBytes?: number;
  /** Clock (unix ms), for tests. */
  now?: () => number;
}

export class RequestIntake {
  readonly #entries = new Map<string, Entry>();
  readonly #waiters = new Map<string, Set<() => void>>();
  readonly #holdMs: number;
  readonly #maxBytes: number;
  readonly #now: () => number;
  #bytes = 0;

  constructor(o: IntakeOptions = {}) {
    this.#holdMs = o.holdMs ?? HOLD_MS;
    this.#maxBytes = o.maxBytes ?? DEFAULT_INTAKE_BYTES;
    this.#now = o.now ?? Date.now;
  }

  /**
   * Keep `bytes` under their hash. `bound`: the job is known and its hash was checked (kept until
   * released); otherwise held for the hold time. Returns the hash.
   */
  put(bytes: Uint8Array, o: { bound: boolean }): string {
    this.#expire();
    const hash = keccak256(bytes).toLowerCase();
    const old = this.#entries.get(hash);
    if (old) {
      if (o.bound) old.expires = undefined;
      else if (old.expires !== undefined) old.expires = this.#now() + this.#holdMs;
      return hash;
    }
    if (bytes.length > this.#maxBytes) throw new IntakeError(`request of ${bytes.length} bytes is over the intake's ${this.#maxBytes}-byte bound`);
    this.#makeRoom(bytes.length);
    if (this.#bytes + bytes.length > this.#maxBytes) throw new IntakeError("the intake is full: try again later");
    this.#entries.set(hash, { bytes: Uint8Array.from(bytes), expires: o.bound ? undefined : this.#now() + this.#holdMs, at: this.#now() });
    this.#bytes += bytes.length;
    for (const w of this.#waiters.get(hash) ?? []) w();
    return hash;
  }

  /** The request bytes of `hash` (any case), if delivered and not expired. */
  get(hash: string): Uint8Array | undefined {
    this.#expire();
    return this.#entries.get(hash.toLowerCase())?.bytes;
  }

  /** Whether a request with this hash is kept. */
  has(hash: string): boolean {
    return this.get(hash) !== undefined;
  }

  /** Bind a held request to a job that is now known (no expiry until released). */
  bind(hash: string): void {
    const e = this.#entries.get(hash.toLowerCase());
    if (e) e.expires = undefined;
  }

  /** Drop the request of `hash` (the job is done). */
  release(hash: string): void {
    const h = hash.toLowerCase();
    const e = this.#entries.get(h);
    if (!e) return;
    this.#entries.delete(h);
    this.#bytes -= e.bytes.length;
  }

  /** Resolves with the bytes once a request with `hash` arrives; rejects on `signal`. */
  wait(hash: string, signal?: AbortSignal): Promise<Uint8Array> {
    const h = hash.toLowerCase();
    const have = this.get(h);
    if (have) return Promise.resolve(have);
    return new Promise((ok, fail) => {
      const set = this.#waiters.get(h) ?? new Set();
      this.#waiters.set(h, set);
      const done = () => {
        set.delete(wake);
        if (set.size === 0) this.#waiters.delete(h);
        signal?.removeEventListener("abort", onAbort);
      };
      const wake = () => {
        const b = this.#entries.get(h)?.bytes;
        if (!b) return;
        done();
        ok(b);
      };
      const onAbort = () => {
        done();
        fail(signal!.reason instanceof Error ? signal!.reason : new IntakeError("stopped waiting for the request"));
      };
      if (signal?.aborted) return onAbort();
      set.add(wake);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** Bytes kept now. */
  get size(): number {
    return this.#bytes;
  }

  #expire(): void {
    const now = this.#now();
    for (const [h, e] of this.#entries) if (e.expires !== undefined && e.expires <= now) this.release(h);
  }

  /** Drop the oldest held (unbound) entries until `n` more bytes fit. */
  #makeRoom(n: number): void {
    if (this.#bytes + n <= this.#maxBytes) return;
    const held = [...this.#entries.entries()].filter(([, e]) => e.expires !== undefined).sort((a, b) => a[1].at - b[1].at);
    for (const [h] of held) {
      if (this.#bytes + n <= this.#maxBytes) return;
      this.release(h);
    }
  }
}
