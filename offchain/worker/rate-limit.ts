/**
 * Repeated log lines at most once per interval per key: `allow(key)` is true the first time a key is
 * seen and then again once `intervalMs` has passed since it was last allowed (e.g. "waiting for
 * funds" on every 2-second poll becomes one line a minute, and a new line as soon as the situation
 * — part of the key — changes).
 */
export class RateLimiter {
  readonly #last = new Map<string, number>();

  constructor(
    readonly intervalMs: number,
    readonly now: () => number = Date.now,
  ) {}

  allow(key: string): boolean {
    const t = this.now();
    const prev = this.#last.get(key);
    if (prev !== undefined && t - prev < this.intervalMs) return false;
    this.#last.set(key, t);
    if (this.#last.size > 1000) this.#last.delete(this.#last.keys().next().value!);
    return true;
  }
}
