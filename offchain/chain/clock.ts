/**
 * Times for people: a chain timestamp as an ISO time, relative to now by this computer's clock and,
 * when the chain's clock differs, relative to chain time too. A deadline passes when the next block's
 * timestamp exceeds it; the next block's time is the latest block's or the wall clock, whichever is
 * later (a node that mines only on transactions, or one whose clock was moved ahead).
 */

/** The two clocks a deadline is read against, in unix seconds. */
export interface Clocks {
  /** The next block's time: max(latest block's timestamp, wall). */
  chain: number;
  /** This computer's clock. */
  wall: number;
}

/** The clocks given the latest block's timestamp (and the wall clock, default now). */
export function clocksAt(latestBlockTimestamp: number, wallMs = Date.now()): Clocks {
  const wall = Math.floor(wallMs / 1000);
  return { chain: Math.max(latestBlockTimestamp, wall), wall };
}

/** A duration in seconds as "42 s", "12 min", "1.5 h" or "3.2 days". */
export function duration(sec: number): string {
  const a = Math.abs(sec);
  if (a < 90) return `${a} s`;
  if (a < 5400) return `${Math.round(a / 60)} min`;
  if (a < 2 * 86400) return `${(a / 3600).toFixed(1)} h`;
  return `${(a / 86400).toFixed(1)} days`;
}

const rel = (d: number) => (d >= 0 ? `in ${duration(d)}` : `${duration(d)} ago`);

/** Clocks that differ by less than this read as one. */
const SAME_CLOCK_S = 30;

/**
 * `sec` for people: "2026-12-02T08:00:00Z (in 42 s)", or, when the chain's clock runs ahead of this
 * computer's, "2026-12-02T08:00:00Z (in 58 min by this computer's clock; in 42 s of chain time, which
 * runs 58 min ahead)".
 */
export function when(sec: number, clocks: Clocks): string {
  const iso = new Date(sec * 1000).toISOString().replace(".000Z", "Z");
  const ahead = clocks.chain - clocks.wall;
  if (Math.abs(ahead) < SAME_CLOCK_S) return `${iso} (${rel(sec - clocks.wall)})`;
  return `${iso} (${rel(sec - clocks.wall)} by this computer's clock; ${rel(sec - clocks.chain)} of chain time, which runs ${duration(ahead)} ${ahead > 0 ? "ahead" : "behind"})`;
}
