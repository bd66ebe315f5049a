/**
 * A bounded work queue: at most `concurrency` tasks run at once, the rest wait in FIFO order.
 * `drained()` resolves when nothing is queued or running.
 */
export class WorkQueue {
  readonly concurrency: number;
  #running = 0;
  readonly #waiting: (() => void)[] = [];
  #drainWaiters: (() => void)[] = [];

  constructor(concurrency: number) {
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`concurrency must be a positive integer, got ${concurrency}`);
    this.concurrency = concurrency;
  }

  get running(): number {
    return this.#running;
  }
  get pending(): number {
    return this.#waiting.length;
  }
  get size(): number {
    return this.#running + this.#waiting.length;
  }

  /** Run `task` when a slot is free; resolves/rejects with it. */
  push<T>(task: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const start = () => {
        this.#running++;
        task()
          .then(resolve, reject)
          .finally(() => {
            this.#running--;
            const next = this.#waiting.shift();
            if (next) next();
            else if (this.#running === 0) this.#notifyDrained();
          });
      };
      if (this.#running < this.concurrency) start();
      else this.#waiting.push(start);
    });
  }

  drained(): Promise<void> {
    if (this.size === 0) return Promise.resolve();
    return new Promise((ok) => this.#drainWaiters.push(ok));
  }

  #notifyDrained() {
    const w = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const ok of w) ok();
  }
}

/** A mutex: `run` executes its tasks one at a time, in call order. */
export class Mutex {
  #tail: Promise<unknown> = Promise.resolve();
  run<T>(task: () => Promise<T>): Promise<T> {
    const p = this.#tail.then(task, task);
    this.#tail = p.catch(() => {});
    return p;
  }
}
