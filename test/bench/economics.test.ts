/**
 * The strategy simulator (scripts/bench/economics.ts) on a few jobs: it drives the real pool through
 * the commit–reveal flow with replay fingerprints (H-2), its counterfactual is exact (common random
 * numbers), and the clearest deviations lose money. The full table is `npm run bench -- --only economics`.
 */
import { expect } from "chai";
import { STRATEGIES, runScenario } from "../../scripts/bench/economics.js";

const spec = (name: string) => {
  const s = STRATEGIES.find((x) => x.name === name);
  if (!s) throw new Error(`no strategy ${name}`);
  return s;
};

describe("economics simulator", function () {
  this.timeout(300_000);

  it("replays the same jobs and draw words for a strategy and its honest counterfactual", async function () {
    const a = await runScenario(spec("honest").deviation, 0.2, 4, 11n);
    const b = await runScenario(spec("honest").honest, 0.2, 4, 11n);
    expect(a.meanProfit).to.equal(b.meanProfit);
    expect(a.outcomes).to.deep.equal(b.outcomes);
    expect(a.jobs).to.equal(4);
  });

  it("a cheating generator earns less than an honest one when users audit half the jobs", async function () {
    const s = spec("cheating-generator");
    const dev = await runScenario(s.deviation, 0.2, 8, 5n);
    const hon = await runScenario(s.honest, 0.2, 8, 5n);
    expect(dev.meanProfit).to.be.lessThan(hon.meanProfit);
    expect(dev.outcomes.VerifierUpheld ?? 0).to.be.greaterThan(0);
  });

  it("a user that makes its own challenge unverifiable earns less than one that does not challenge", async function () {
    const s = spec("unverifiable-challenge");
    const dev = await runScenario(s.deviation, 0.2, 6, 3n);
    const hon = await runScenario(s.honest, 0.2, 6, 3n);
    expect(dev.meanProfit).to.be.lessThan(hon.meanProfit);
  });

  // H-2: an agreement or a confirmation without a replay's fingerprint settles nothing, and its
  // verifier loses its stake when a later verifier settles the job (these paid before commit–reveal);
  // a verifier that learns the generator's fingerprint off-chain and commits a copy is reported.
  for (const name of ["lazy-agree", "lazy-agree-no-cheats", "copy-dissent", "equivocate"]) {
    it(`${name} earns strictly less than honest verification at the default share (20 %)`, async function () {
      const s = spec(name);
      // the bench's seed for this strategy at 20 %, on fewer jobs
      const seed = BigInt(1 + Math.round(0.2 * 1000)) * 7919n + BigInt(name.length);
      const dev = await runScenario(s.deviation, 0.2, 24, seed);
      const hon = await runScenario(s.honest, 0.2, 24, seed);
      expect(dev.meanProfit).to.be.lessThan(hon.meanProfit);
    });
  }
});
