/**
 * The grace a ready draw epoch is left to its picks (docs/PROTOCOL.md "Chain, version 2"): once the
 * epoch's randomness exists, each stage's pick draws its own stage in its `commitResult`, which saves
 * the draw's transaction; only after the grace does a bystander (a verifier worker, the keeper) call
 * `drawVerifiers`, so a pick that never draws itself is still locked in and can be timed out.
 *
 *   const grace = new DrawGrace(client);          // a quarter of the pool's draw window
 *   const left = await grace.left(epoch.requestId, chainNow);   // > 0: leave the draw to the picks
 */
import type { PoolClient } from "./client.js";

export class DrawGrace {
  /** The epoch whose randomness was first seen ready, when (chain time), and the grace then in force. */
  #ready: { requestId: bigint; at: number; grace: number } | undefined;

  /** `graceS`: seconds of chain time (default: a quarter of the pool's draw window; 0: none). */
  constructor(
    readonly client: PoolClient,
    readonly graceS?: number,
  ) {}

  /**
   * Seconds of the grace left for the running epoch `requestId` at chain time `now`: 0 while its
   * randomness is pending and once the grace is over. The randomness and the parameters are read once
   * per epoch (a word once ready stays ready for its epoch; an expired one is drawVerifiers' to ask
   * again).
   */
  async left(requestId: bigint, now: number): Promise<number> {
    if (!(await this.ready(requestId, now))) return 0;
    return Math.max(0, this.#ready!.at + this.#ready!.grace - now);
  }

  /** Whether the randomness of the running epoch `requestId` exists (first seen at chain time `now`). */
  async ready(requestId: bigint, now: number): Promise<boolean> {
    if (this.#ready?.requestId === requestId) return true;
    if (!(await this.client.drawReady())) return false;
    const grace = this.graceS ?? Math.floor((await this.client.params()).params.drawWindow / 4);
    this.#ready = { requestId, at: now, grace };
    return true;
  }

  /** Chain time at which the grace of the epoch last seen ready ends. */
  get until(): number | undefined {
    return this.#ready ? this.#ready.at + this.#ready.grace : undefined;
  }
}
