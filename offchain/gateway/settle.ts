/**
 * The settle policy (policies.ts): the gateway remembers the jobs it opened and, every `pollMs`,
 * advances each one that is due by chain time — `finalize` a Committed job after its challenge window,
 * `cancel` an Open one after its commit deadline (a generator that never committed: the user's
 * refund) — and then withdraws the account's credit. A job in a final state is forgotten. Errors are
 * logged and retried at the next round.
 */
import { FINAL_STATES, JobState, type PoolClient, describeError } from "../chain/index.js";
import type { Mutex } from "../worker/queue.js";

export interface SettleLog {
  (event: string, message: string, fields?: Record<string, unknown>): void;
}


export class Settler {
  readonly #client: PoolClient;
  readonly #mutex: Mutex;
  readonly #log: SettleLog;
  readonly #jobs = new Set<bigint>();
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<unknown> | undefined;

  constructor(client: PoolClient, mutex: Mutex, log: SettleLog = () => {}) {
    this.#client = client;
    this.#mutex = mutex;
    this.#log = log;
  }

  track(jobId: bigint): void {
    this.#jobs.add(jobId);
  }
  get tracked(): bigint[] {
    return [...this.#jobs];
  }

  start(pollMs: number): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => {
      if (!this.#running) this.#running = this.tick().finally(() => (this.#running = undefined));
    }, pollMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }

  /** One round (module comment); returns the transactions sent. */
  async tick(): Promise<{ jobId: bigint; action: "finalize" | "cancel"; tx: string }[]> {
    const sent: { jobId: bigint; action: "finalize" | "cancel"; tx: string }[] = [];
    if (this.#jobs.size === 0) return sent;
    const now = (await this.#client.latestBlock()).timestamp;
    for (const jobId of [...this.#jobs]) {
      try {
        const job = await this.#client.getJob(jobId);
        if (FINAL_STATES.has(job.state)) {
          this.#jobs.delete(jobId);
          continue;
        }
        const action = job.state === JobState.Committed && now > job.deadline ? "finalize" : job.state === JobState.Open && now > job.deadline ? "cancel" : null;
        if (!action) continue;
        const r = await this.#mutex.run(() => (action === "finalize" ? this.#client.finalize(jobId) : this.#client.cancel(jobId)));
        sent.push({ jobId, action, tx: r.hash });
        this.#log(action, `job ${jobId}: ${action === "finalize" ? "finalized" : "cancelled"} (tx ${r.hash})`, { jobId: jobId.toString(), tx: r.hash });
        this.#jobs.delete(jobId);
      } catch (e) {
        this.#log("settle-error", `job ${jobId}: ${describeError(e)}`, { jobId: jobId.toString() });
      }
    }
    if (sent.length > 0) {
      try {
        const w = await this.#mutex.run(() => this.#client.withdraw());
        if (w.tx) this.#log("withdraw", `withdrew ${w.amount} (tx ${w.tx.hash})`, { amount: w.amount.toString(), tx: w.tx.hash });
      } catch (e) {
        this.#log("settle-error", `withdraw: ${describeError(e)}`);
      }
    }
    return sent;
  }
}
