/** Deadlines for people (offchain/chain/clock.ts): relative to now, and to chain time when the chain's clock runs ahead. */
import { expect } from "chai";
import { clocksAt, duration, when } from "../../offchain/chain/clock.js";

describe("clock: deadlines relative to now and to chain time", function () {
  const wall = 1_800_000_000;

  it("counts from the wall clock, not from a stale latest block", function () {
    // The latest block is 10 min old (a node that mines only on transactions): the next block is now.
    const c = clocksAt(wall - 600, wall * 1000);
    expect(c).to.deep.equal({ chain: wall, wall });
    expect(when(wall + 42, c)).to.equal(`${new Date((wall + 42) * 1000).toISOString().replace(".000Z", "Z")} (in 42 s)`);
    expect(when(wall - 3 * 60, c)).to.match(/\(3 min ago\)$/);
  });

  it("says both when the chain's clock was moved ahead", function () {
    const c = clocksAt(wall + 3600, wall * 1000);
    const s = when(wall + 3600 + 42, c);
    expect(s).to.match(/\(in 61 min by this computer's clock; in 42 s of chain time, which runs 60 min ahead\)$/);
  });

  it("formats durations from seconds to days", function () {
    expect([duration(5), duration(-89), duration(600), duration(7200), duration(3 * 86400)]).to.deep.equal(["5 s", "89 s", "10 min", "2.0 h", "3.0 days"]);
  });
});
