/**
 * Per-job event logs of the generator (docs/NETWORK.md `GET /v1/jobs/{jobId}/stream`): the worker
 * appends `token`, `done`, `committed` and `error` events as they happen; a subscriber gets every
 * event from the start (a late subscriber the replay), then the live ones, until `committed` or
 * `error` ends the log. Bounded: the logs of the oldest jobs are dropped beyond `maxJobs`.
 */
export type FinishReason = "stop" | "length";

export type JobStreamEvent =
  | { event: "token"; data: { index: number; token: number } }
  | { event: "done"; data: { tokens: number[]; finishReason: FinishReason } }
  | { event: "committed"; data: { receiptRoot: string; receiptUri: string; tx: string } }
  | { event: "error"; data: { message: string } };

/** Events after which a job's log ends. */
export const FINAL_EVENTS: ReadonlySet<JobStreamEvent["event"]> = new Set(["committed", "error"]);

interface Log {
  events: JobStreamEvent[];
  ended: boolean;
  listeners: Set<() => void>;
}

export class JobEventLog {
  readonly #logs = new Map<string, Log>();
  readonly #maxJobs: number;

  constructor(o: { maxJobs?: number } = {}) {
    this.#maxJobs = o.maxJobs ?? 1000;
  }

  #log(jobId: bigint | string): Log {
    const id = jobId.toString();
    let l = this.#logs.get(id);
    if (!l) {
      l = { events: [], ended: false, listeners: new Set() };
      this.#logs.set(id, l);
      for (const [k, old] of this.#logs) {
        if (this.#logs.size <= this.#maxJobs) break;
        if (old.listeners.size === 0) this.#logs.delete(k);
      }
    }
    return l;
  }

  /** Append an event (ignored once the log ended). */
  append(jobId: bigint | string, e: JobStreamEvent): void {
    const l = this.#log(jobId);
    if (l.ended) return;
    l.events.push(e);
    if (FINAL_EVENTS.has(e.event)) l.ended = true;
    for (const w of [...l.listeners]) w();
  }

  /** A copy of the events so far. */
  events(jobId: bigint | string): JobStreamEvent[] {
    return [...(this.#logs.get(jobId.toString())?.events ?? [])];
  }

  /** Output tokens logged so far (a generation run again after a restart logs only the ones after these). */
  tokenCount(jobId: bigint | string): number {
    return (this.#logs.get(jobId.toString())?.events ?? []).filter((e) => e.event === "token").length;
  }

  /** Whether the job's log ended (committed or error). */
  ended(jobId: bigint | string): boolean {
    return this.#logs.get(jobId.toString())?.ended ?? false;
  }

  /**
   * Every event of the job from the start, then the live ones; ends after `committed` or `error`, or
   * when `signal` aborts.
   */
  async *subscribe(jobId: bigint | string, signal?: AbortSignal): AsyncGenerator<JobStreamEvent> {
    const l = this.#log(jobId);
    let i = 0;
    let wake: (() => void) | undefined;
    const listener = () => wake?.();
    l.listeners.add(listener);
    const onAbort = () => wake?.();
    signal?.addEventListener("abort", onAbort);
    try {
      for (;;) {
        if (signal?.aborted) return;
        while (i < l.events.length) {
          const e = l.events[i++]!;
          yield e;
          if (FINAL_EVENTS.has(e.event)) return;
        }
        if (l.ended) return;
        await new Promise<void>((ok) => (wake = ok));
        wake = undefined;
      }
    } finally {
      l.listeners.delete(listener);
      signal?.removeEventListener("abort", onAbort);
    }
  }
}
