/**
 * Bench section "economics": a strategy simulator on the real StakePool (issue 10).
 *
 * It deploys the pool on a fresh in-process network for every (strategy, stake share), plays many
 * jobs with randomised α, β and Cg/Cv through the contract's own transactions, and measures the
 * mean profit per job of the party that uses the strategy against the same party playing honestly
 * over the same jobs and the same draw words (common random numbers: both runs use one seed).
 *
 * Model (what is off-chain is stated here, the rest is the contract):
 * - Wealth of an address = wallet + credit + bond + pending bond + unbonding, read from the chain
 *   after each job; profit = the change of wealth minus off-chain costs.
 * - Off-chain costs per job: honest generation 0.5·αCg, a cheating (cheaper) generation 0.1·αCg,
 *   one replay 0.25·αCv. A party keeps no replay state: every fingerprint it must produce for a
 *   stage's seed is another replay (a verifier's own stage, each answer of the generator and of an
 *   earlier verifier that replayed). Gas is not counted.
 * - Commit–reveal with replay fingerprints (H-2): each stage's verifier commits (bitmap, fingerprint,
 *   salt), the generator answers the stage's seed, the earlier verifiers answer it only when the
 *   generator's answer is not their own fingerprint (it counts for a confirmation too), and the
 *   verifier reveals.
 *   Fingerprints are abstract: an honest replay of job j at stage k with seed s gives
 *   keccak("replay", j, k, s), the same for every party that replays; a party that did not replay
 *   uses an independent random word (a guess, ≈128 bits away; the tolerance is 16). A cheating
 *   generator can still replay, so it answers the true fingerprint (cheating-generator-silent:
 *   it answers nothing instead and concedes).
 * - The randomness source is MockRandomness fed by a seeded PRNG: the word of each draw epoch is
 *   uniform and unknown to every party before the request (what FutureBlockRandomness / a VRF
 *   provide on a real chain; the H-1 tests check that the pool only ever uses such a word).
 * - Verifier behaviours: honest (replays; claim if the generator was honest, else the canonical
 *   dissent; true fingerprint), lazy (no replay: the claim with a guessed fingerprint), copier (no
 *   replay; copies an earlier dissent if there is one, else the claim; guessed fingerprint), liar
 *   (replays, true fingerprint, a false dissent of its own), colluder (the generator's second
 *   address: the claim with the true fingerprint its principal gives it), sybil-dissenter (the
 *   user's second address: one shared false dissent with the true fingerprint, the user paying the
 *   replay, so that two of them confirm each other), equivocator (no replay: sends the generator a
 *   made-up commitment for a one-transaction stage, learns the true fingerprint from its answer and
 *   commits a copy on-chain; the generator reports its signed statement, reportEquivocation).
 *   Honest stages use commit–reveal here (the one-transaction path pays the same: gas is not
 *   counted). Earlier verifiers compute their own kind of
 *   fingerprint (true if they replayed or were given it, else a fresh guess) and send it when it
 *   differs from the generator's answer.
 * - Users cannot tell a cheat from an honest answer: they challenge (audit) 50 % of jobs at random;
 *   strategies that change this say so.
 * - 8 honest verifiers bond 1,000 tokens each; the strategy's identities (4 addresses) together hold
 *   the stated share of the model's stake.
 *
 * JSON: `economics.strategies[name] = { jobs, meanProfit, honestMeanProfit, stakeAtRisk }` at the
 * default share (20 %), plus `economics.sweep[name][share] = { meanProfit, honestMeanProfit }`.
 */
import { network } from "hardhat";
import type { BenchContext, BenchSection, BenchSectionResult } from "./types.js";
import { deployStakePool } from "../lib/pool-deploy.js";
import { bitmapWithMisses, claimBitmap, JobState } from "../lib/state.js";
import { commitmentStatement, resultCommitment } from "../../offchain/chain/commitment.js";
import { AbiCoder, keccak256 } from "ethers";

const E18 = 10n ** 18n;
const HOUR = 3600;
const NUM_CHECKS = 20;
const MODEL = "0x" + "cd".repeat(32);
const ROOT = "0x" + "ab".repeat(32);
const URI = "http://127.0.0.1:8787/receipts/root";
const REQUEST_HASH = "0x" + "ef".repeat(32);
const REQUEST_URI = "https://requests.example/job";
const CLAIM = claimBitmap(NUM_CHECKS);
/** The canonical dissent two honest verifiers produce for a cheat (the same bytes). */
const TRUE_DISSENT = bitmapWithMisses(NUM_CHECKS, [0]);
/** The false dissent the user's sybils share. */
const SYBIL_DISSENT = bitmapWithMisses(NUM_CHECKS, [1]);
/** One replay of a receipt costs this share of αCv (off-chain). */
const REPLAY_SHARE = 0.25;
const abi = AbiCoder.defaultAbiCoder();

const sameBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);
/** The fingerprint every honest replay of job `jobId`'s receipt gives for stage `stage`'s seed. */
function trueFingerprint(jobId: bigint, stage: number, seed: bigint): string {
  return keccak256(abi.encode(["string", "uint256", "uint8", "uint64"], ["replay", jobId, stage, seed]));
}
/** What a party that did not replay commits or answers: an independent random 256-bit word (≈128 bits away). */
function guessFingerprint(jobId: bigint, stage: number, party: string): string {
  return keccak256(abi.encode(["string", "uint256", "uint8", "address"], ["guess", jobId, stage, party]));
}
/** Whether a behaviour has the true fingerprint: it replayed, or its principal (generator or user) gave it. */
const knowsTrueFp = (b: Behaviour) => b !== "lazy" && b !== "copier";
// (an equivocator learns the true fingerprint from the generator's off-chain answer: knowsTrueFp, no replay)
/** Whether a behaviour pays for its own replay (the generator's second addresses get the fingerprint free). */
const paysForReplay = (b: Behaviour) => b === "honest" || b === "liar" || b === "agree-not-confirm" || b === "sybil-dissenter";

type Behaviour = "honest" | "lazy" | "copier" | "liar" | "colluder" | "sybil-dissenter" | "agree-not-confirm" | "no-show" | "equivocator";
type Party = "subjects" | "generator+subjects" | "user+subjects" | "user+generator" | "generator";

interface Scenario {
  /** Whether the generator cheats on a job (fixed by the job's random draw in `cheatRate`). */
  cheatRate: number;
  /** Probability that the user audits (challenges) a job; it cannot tell cheats apart. */
  auditRate: number;
  /** The subjects' behaviour (the strategy) and what they do in the honest counterfactual. */
  subjects: Behaviour;
  /** One of the honest verifiers lies (to give copiers an earlier dissent to copy). */
  oneLiar?: boolean;
  /** Whose profit is measured. */
  party: Party;
  /** The user challenges every job (its own strategy). */
  userChallengesAll?: boolean;
  /** The subjects bond only after the challenge (set-size front-running). */
  bondAfterChallenge?: boolean;
  /** The user and the generator are one party with two addresses (the pool refuses one address as both). */
  userIsGenerator?: boolean;
  /** On the jobs it cheated on (where it expects to lose) the generator does not answer the fingerprint seed. */
  generatorSilentOnCheat?: boolean;
}

interface StrategySpec {
  name: string;
  description: string;
  deviation: Scenario;
  honest: Scenario;
}

const base: Scenario = { cheatRate: 0, auditRate: 0.5, subjects: "honest", party: "subjects" };

export const STRATEGIES: StrategySpec[] = [
  { name: "honest", description: "everyone honest; the subjects are honest verifiers", deviation: base, honest: base },
  {
    name: "lazy-agree",
    description: "subjects submit the claim without replaying; 20 % of jobs are cheats",
    deviation: { ...base, cheatRate: 0.2, subjects: "lazy" },
    honest: { ...base, cheatRate: 0.2 },
  },
  {
    name: "lazy-agree-no-cheats",
    description: "subjects submit the claim without replaying; no job is a cheat",
    deviation: { ...base, subjects: "lazy" },
    honest: base,
  },
  {
    name: "copy-dissent",
    description: "subjects copy an earlier dissent without replaying (one honest-set verifier lies)",
    deviation: { ...base, subjects: "copier", oneLiar: true },
    honest: { ...base, oneLiar: true },
  },
  {
    name: "equivocate",
    description:
      "subjects do not replay: they send the generator a made-up commitment for a one-transaction stage, learn its fingerprint, and commit a copy on-chain (the generator reports it); 20 % of jobs are cheats",
    deviation: { ...base, cheatRate: 0.2, subjects: "equivocator" },
    honest: { ...base, cheatRate: 0.2 },
  },
  {
    name: "liar-verifier",
    description: "subjects dissent falsely",
    deviation: { ...base, subjects: "liar" },
    honest: base,
  },
  {
    name: "sybil-verifier",
    description: "the generator cheats on every job; the subjects are its second addresses and uphold it",
    deviation: { ...base, cheatRate: 1, subjects: "colluder", party: "generator+subjects" },
    honest: { ...base, party: "generator+subjects" },
  },
  {
    name: "draw-grinding",
    description: "the user challenges every honest job hoping its sybils are drawn (the word is fixed before anyone sees it)",
    deviation: { ...base, subjects: "sybil-dissenter", party: "user+subjects", userChallengesAll: true },
    honest: { ...base, party: "user+subjects" },
  },
  {
    name: "set-size-frontrun",
    description: "as draw-grinding, with the sybils bonding right after each challenge",
    deviation: { ...base, subjects: "sybil-dissenter", party: "user+subjects", userChallengesAll: true, bondAfterChallenge: true },
    honest: { ...base, party: "user+subjects" },
  },
  {
    name: "no-show-drain",
    description: "user = generator challenges its own jobs hoping drawn verifiers forfeit to it",
    deviation: { ...base, party: "user+generator", userChallengesAll: true, userIsGenerator: true },
    honest: { ...base, party: "user+generator", auditRate: 0, userIsGenerator: true },
  },
  {
    name: "confirmer-at-loss",
    description: "after an honest dissent of a cheat, subjects agree with the generator instead of confirming",
    deviation: { ...base, cheatRate: 1, subjects: "agree-not-confirm" },
    honest: { ...base, cheatRate: 1 },
  },
  {
    name: "unverifiable-challenge",
    description: "the user's sybils leave after its challenge, hoping no verifier is found",
    deviation: { ...base, party: "user+subjects", userChallengesAll: true, subjects: "no-show" },
    honest: { ...base, party: "user+subjects" },
  },
  {
    name: "cheating-generator",
    description: "the generator cheats on every job; verifiers honest; users audit 50 % of jobs",
    deviation: { ...base, cheatRate: 1, party: "generator" },
    honest: { ...base, party: "generator" },
  },
  {
    name: "cheating-generator-silent",
    description: "the generator cheats on every job and answers no fingerprint seed (it expects to lose); verifiers honest",
    deviation: { ...base, cheatRate: 1, party: "generator", generatorSilentOnCheat: true },
    honest: { ...base, party: "generator" },
  },
  {
    name: "cheating-generator+lazy-agree",
    description: "the generator cheats on every job; the subjects verify lazily",
    deviation: { ...base, cheatRate: 1, subjects: "lazy", party: "generator" },
    honest: { ...base, party: "generator" },
  },
];

/** xorshift64*: a small seeded PRNG so both runs of a strategy see the same jobs and words. */
function prng(seed: bigint) {
  let s = seed || 0x9e3779b97f4a7c15n;
  const M = (1n << 64n) - 1n;
  const next = () => {
    s ^= s >> 12n;
    s ^= (s << 25n) & M;
    s ^= s >> 27n;
    return (s * 0x2545f4914f6cdd1dn) & M;
  };
  return { next, float: () => Number(next() >> 11n) / 2 ** 53, word: () => (next() << 192n) | (next() << 128n) | (next() << 64n) | next() };
}

interface JobOutcome {
  profit: number;
  stakeAtRisk: number;
  state: JobState;
}

interface RunResult {
  jobs: number;
  meanProfit: number;
  stakeAtRisk: number;
  outcomes: Partial<Record<string, number>>;
}

export async function runScenario(sc: Scenario, share: number, jobs: number, seed: bigint): Promise<RunResult> {
  const { ethers } = await network.create();
  const signers = await ethers.getSigners();
  const [owner, user, generator, treasury] = signers;
  const honest = signers.slice(4, 12);
  const subjects = signers.slice(12, 16);
  if (!owner || !user || !generator || !treasury || honest.length < 8 || subjects.length < 4) throw new Error("economics needs 16 accounts");
  const byAddr = new Map(signers.map((s) => [s.address, s]));

  const token = await ethers.deployContract("TestToken");
  const rnd = await ethers.deployContract("MockRandomness");
  const baseParams = {
    alphaBps: 10_000,
    betaBps: 20_000,
    commitWindow: HOUR,
    challengeWindow: HOUR,
    verifyWindow: HOUR,
    drawWindow: HOUR,
    maxStages: 3,
    unbondDelay: 0,
    minBond: 100n * E18,
    minModelStake: 100n * E18,
    maxStakeBps: 10_000,
    declineFeeBps: 1_000,
  };
  const pool = await deployStakePool(ethers, [await token.getAddress(), owner.address, baseParams, await rnd.getAddress(), treasury.address]);
  const poolAddr = await pool.getAddress();
  const chainId = (await ethers.provider.getNetwork()).chainId;
  for (const s of [user, generator, ...honest, ...subjects]) {
    await token.mint(s.address, 10n ** 9n * E18);
    await token.connect(s).approve(poolAddr, ethers.MaxUint256);
  }
  const honestBond = 1_000n * E18;
  const subjectBondEach = BigInt(Math.round(((share / (1 - share)) * 8_000) / 4)) * E18;
  for (const v of honest) {
    await pool.connect(v).setModels([MODEL]);
    await pool.connect(v).bond(honestBond);
  }
  for (const v of subjects) await pool.connect(v).setModels([MODEL]);
  if (!sc.bondAfterChallenge) for (const v of subjects) await pool.connect(v).bond(subjectBondEach);
  const liar = sc.oneLiar ? honest[0]!.address : null;
  const subjectSet = new Set(subjects.map((s) => s.address));

  const wealth = async (addr: string) => {
    const b = await pool.bondOf(addr);
    return (await token.balanceOf(addr)) + (await pool.creditOf(addr)) + b.bond + b.pendingBond + b.unbonding;
  };
  const partyAddrs: string[] =
    sc.party === "subjects"
      ? subjects.map((s) => s.address)
      : sc.party === "generator"
        ? [generator.address]
        : sc.party === "generator+subjects"
          ? [generator.address, ...subjects.map((s) => s.address)]
          : sc.party === "user+subjects"
            ? [user.address, ...subjects.map((s) => s.address)]
            : [user.address, generator.address];
  const partyWealth = async () => {
    let w = 0n;
    for (const a of partyAddrs) w += await wealth(a);
    return w;
  };
  const increase = async (seconds: number) => {
    await ethers.provider.send("evm_increaseTime", [seconds]);
    await ethers.provider.send("evm_mine", []);
  };
  const tokens = (x: bigint) => Number(x) / 1e18;

  const outcomes: Partial<Record<string, number>> = {};
  let profitSum = 0;
  let riskSum = 0;
  for (let n = 0; n < jobs; n++) {
    // common random numbers: the job's terms, audit and cheat flags, and its draw words depend only on
    // (seed, job index), so the deviation and the honest run see the same jobs and the same words
    const rng = prng(seed * 1_000_003n + BigInt(n) * 2n + 1n);
    const words = prng(seed * 998_244_353n + BigInt(n) * 2n + 2n);
    // randomised terms: α ∈ {0.5, 1, 2}, β/α ∈ {1, 2, 3}, Cv ∈ [2, 6], Cg above the M-1 bound by ×1.1 … ×6
    const alphaBps = [5_000, 10_000, 20_000][Math.floor(rng.float() * 3)]!;
    const betaBps = alphaBps * (1 + Math.floor(rng.float() * 3));
    const cv = BigInt(2 + Math.floor(rng.float() * 5)) * E18;
    const minCg = (cv * BigInt(2 * alphaBps + betaBps)) / BigInt(betaBps); // βCg > (2α + β)Cv
    const cg = (minCg * BigInt(110 + Math.floor(rng.float() * 490))) / 100n;
    await pool.connect(owner).setParams({ ...baseParams, alphaBps, betaBps });
    const aG = (cg * BigInt(alphaBps)) / 10_000n;
    const aV = (cv * BigInt(alphaBps)) / 10_000n;
    const bG = (cg * BigInt(betaBps)) / 10_000n;
    const bV = (cv * BigInt(betaBps)) / 10_000n;
    const cheat = rng.float() < sc.cheatRate;
    const audit = rng.float() < sc.auditRate;
    const challenge = sc.userChallengesAll || audit;

    const before = await partyWealth();
    let offchain = 0;
    let risk = 0;
    const inParty = (a: string) => partyAddrs.includes(a);
    const replayCost = tokens(aV) * REPLAY_SHARE;
    const behaviourOf = (a: string): Behaviour => (subjectSet.has(a) ? sc.subjects : a === liar ? "liar" : "honest");
    const genCost = tokens(aG) * (cheat ? 0.1 : 0.5);
    if (inParty(generator.address)) {
      offchain += genCost;
      risk += tokens(bG);
    }
    await pool.connect(user).openJob(generator.address, MODEL, cg, cv, REQUEST_HASH, REQUEST_URI);
    const jobId = (await pool.nextJobId()) - 1n;
    await pool.connect(generator).commit(jobId, ROOT, NUM_CHECKS, URI);
    if (!challenge) {
      await increase(HOUR + 1);
      await pool.finalize(jobId);
    } else {
      await pool.connect(user).challenge(jobId);
      if (sc.bondAfterChallenge) for (const v of subjects) await pool.connect(v).bond(subjectBondEach);
      if (sc.subjects === "no-show") for (const v of subjects) {
        const b = await pool.bondOf(v.address);
        if (b.bond > 0n) await pool.connect(v).requestUnbond(b.bond);
      }
      const results: { bitmap: Uint8Array; fp: string }[] = [];
      for (let guard = 0; guard < 40; guard++) {
        const j = await pool.getJob(jobId);
        const st = Number(j.state) as JobState;
        if (st === JobState.AwaitingVerifier) {
          if (!(await pool.drawEpoch()).frozen) await pool.drawVerifiers(0);
          await rnd.set(words.word());
          await pool.drawVerifiers(100);
          if (Number((await pool.getJob(jobId)).state) === JobState.AwaitingVerifier) {
            await increase(HOUR + 1);
            await pool.timeoutDraw(jobId);
          }
          continue;
        }
        if (st !== JobState.Verifying) break;
        const [stage, v] = await pool.currentStage(jobId);
        const k = Number(stage);
        const signer = byAddr.get(v)!;
        const behaviour = behaviourOf(v);
        const truth = cheat ? TRUE_DISSENT : CLAIM;
        const earlierDissent = results.find((r) => !sameBytes(r.bitmap, CLAIM));
        let bitmap: Uint8Array | null;
        switch (behaviour) {
          case "honest":
            bitmap = truth;
            break;
          case "lazy":
          case "colluder":
            bitmap = CLAIM;
            break;
          case "copier":
            bitmap = earlierDissent?.bitmap ?? CLAIM;
            break;
          case "liar":
            bitmap = bitmapWithMisses(NUM_CHECKS, [2 + k]);
            break;
          case "sybil-dissenter":
            bitmap = SYBIL_DISSENT;
            break;
          case "agree-not-confirm":
            bitmap = earlierDissent ? CLAIM : truth;
            break;
          case "no-show":
            bitmap = null;
            break;
          case "equivocator":
            bitmap = CLAIM;
            break;
        }
        if (inParty(v)) {
          risk += tokens(bV);
          if (bitmap !== null && paysForReplay(behaviour)) offchain += replayCost;
        }
        if (bitmap === null) {
          await increase(HOUR + 1);
          await pool.timeoutVerifier(jobId);
          continue;
        }
        // commit–reveal (H-2): commit, answers of the generator and the earlier verifiers, reveal
        const [, seed] = await pool.stageRound(jobId, k);
        const trueFp = trueFingerprint(jobId, k, seed);
        const salt = ethers.keccak256(abi.encode(["string", "uint256", "uint256"], ["salt", jobId, k]));
        if (behaviour === "equivocator") {
          // a made-up commitment, signed, to the generator's server (docs/PROTOCOL.md "One-transaction
          // stages"); its answer is the true fingerprint, far from the made-up one, so no submitResult:
          // the verifier commits a copy of the answer instead, and the generator reports the statement
          const madeUp = resultCommitment({ jobId, stage: k, verifier: v, matchBitmap: CLAIM, fingerprint: guessFingerprint(jobId, k, v), salt });
          const statement = await signer.signMessage(ethers.getBytes(commitmentStatement({ chainId, pool: poolAddr, jobId, stage: k, commitment: madeUp })));
          await pool.connect(signer).commitResult(jobId, resultCommitment({ jobId, stage: k, verifier: v, matchBitmap: CLAIM, fingerprint: trueFp, salt }));
          await pool.connect(generator).reportEquivocation(jobId, madeUp, statement);
          continue;
        }
        const fp = knowsTrueFp(behaviour) ? trueFp : guessFingerprint(jobId, k, v);
        await pool.connect(signer).commitResult(jobId, resultCommitment({ jobId, stage: k, verifier: v, matchBitmap: bitmap, fingerprint: fp, salt }));
        // the generator can replay its own receipt (also when it cheated): it answers the true fingerprint,
        // unless it is silent on the jobs it expects to lose
        const generatorSilent = sc.generatorSilentOnCheat === true && cheat;
        if (!generatorSilent) {
          await pool.connect(generator).answerFingerprint(jobId, trueFp);
          if (inParty(generator.address)) offchain += replayCost;
        }
        for (let i = 1; i < k; i++) {
          const [earlier] = await pool.getStage(jobId, i);
          const eb = behaviourOf(earlier);
          // an earlier verifier replays this stage's seed (another replay: it did not keep its state)
          // or, if it never replayed, guesses; it answers only when the generator's answer is not its
          // own fingerprint (the generator's answer counts for a confirmation too), as the worker does
          if (knowsTrueFp(eb) && inParty(earlier) && paysForReplay(eb)) offchain += replayCost;
          const own = knowsTrueFp(eb) ? trueFingerprint(jobId, k, seed) : guessFingerprint(jobId, k, earlier);
          if (!generatorSilent && own === trueFp) continue;
          await pool.connect(byAddr.get(earlier)!).answerFingerprint(jobId, own);
        }
        const [, , answered] = await pool.stageRound(jobId, k);
        // before the answer deadline a reveal needs every answer or the generator's, matching its own
        if (Number(answered) !== (1 << k) - 1 && (generatorSilent || fp !== trueFp)) {
          const j2 = await pool.getJob(jobId);
          const now = (await ethers.provider.getBlock("latest"))!.timestamp;
          await increase(Number(j2.deadline) - HOUR - now + 1);
        }
        results.push({ bitmap, fp });
        await pool.connect(signer).revealResult(jobId, bitmap, fp, salt);
      }
    }
    const state = Number((await pool.getJob(jobId)).state) as JobState;
    outcomes[JobState[state]] = (outcomes[JobState[state]] ?? 0) + 1;
    if (!(await pool.drawEpoch()).frozen) await pool.syncPending(100);
    // reset every verifier's bond to where it started (from or to its wallet; wealth unchanged), so that
    // every job starts from the same weights in the deviation and the honest run
    for (const v of [...honest, ...subjects]) {
      const target = honest.includes(v) ? honestBond : sc.bondAfterChallenge ? 0n : subjectBondEach;
      const b = await pool.bondOf(v.address);
      if (b.bond < target) await pool.connect(v).bond(target - b.bond);
      else if (b.bond > target) await pool.connect(v).requestUnbond(b.bond - target);
      if ((await pool.bondOf(v.address)).unbondable > 0n) await pool.connect(v).withdrawUnbonded();
    }
    if (!(await pool.drawEpoch()).frozen) await pool.syncPending(100);
    const after = await partyWealth();
    profitSum += tokens(after - before) - offchain;
    riskSum += risk;
  }
  return { jobs, meanProfit: profitSum / jobs, stakeAtRisk: riskSum / jobs, outcomes };
}

export const economicsSection: BenchSection = {
  name: "economics",
  description: "strategy simulator on the real StakePool: mean profit per job of each deviation vs honest play",
  run: runEconomics,
};

async function runEconomics(ctx: BenchContext): Promise<BenchSectionResult> {
  const jobsArg = ctx.args.find((a) => a.startsWith("--economics-jobs="));
  const jobs = jobsArg ? Number(jobsArg.split("=")[1]) : 24;
  const shares = [0.1, 0.2, 1 / 3];
  const strategies: Record<string, { jobs: number; meanProfit: number; honestMeanProfit: number; stakeAtRisk: number; outcomes: RunResult["outcomes"] }> = {};
  const sweep: Record<string, Record<string, { meanProfit: number; honestMeanProfit: number }>> = {};
  const rows: (string | number)[][] = [];
  for (const spec of STRATEGIES) {
    sweep[spec.name] = {};
    for (const share of shares) {
      const seed = BigInt(1 + Math.round(share * 1000)) * 7919n + BigInt(spec.name.length);
      const dev = await runScenario(spec.deviation, share, jobs, seed);
      const hon = await runScenario(spec.honest, share, jobs, seed);
      const key = `${Math.round(share * 100)}%`;
      sweep[spec.name]![key] = { meanProfit: dev.meanProfit, honestMeanProfit: hon.meanProfit };
      if (share === 0.2) {
        strategies[spec.name] = { jobs, meanProfit: dev.meanProfit, honestMeanProfit: hon.meanProfit, stakeAtRisk: dev.stakeAtRisk, outcomes: dev.outcomes };
      }
      const diff = dev.meanProfit - hon.meanProfit;
      const verdict = spec.name === "honest" ? "" : Math.abs(diff) < 1e-9 ? "never played" : diff < 0 ? "loses" : "PAYS";
      rows.push([spec.name, key, jobs, dev.meanProfit.toFixed(2), hon.meanProfit.toFixed(2), dev.stakeAtRisk.toFixed(1), verdict, Object.entries(dev.outcomes).map(([k, v]) => `${k} ${v}`).join(", ")]);
      ctx.log(`economics ${spec.name} @${key}: ${dev.meanProfit.toFixed(2)} vs honest ${hon.meanProfit.toFixed(2)} ${verdict}`);
    }
  }
  const paying = rows.filter((r) => r[6] === "PAYS").map((r) => `${r[0]} @${r[1]}`);
  return {
    data: { jobsPerRun: jobs, shares, strategies, sweep, paying },
    tables: [
      {
        title: "Strategy simulator (tokens per job, off-chain costs included; the party of each strategy vs the same party honest)",
        columns: ["strategy", "share", "jobs", "meanProfit", "honestMeanProfit", "stakeAtRisk", "", "outcomes"],
        rows,
        notes: [
          "Model and costs: scripts/bench/economics.ts. 'PAYS' marks a deviation that earned more than honest play over these jobs; 'never played' that the situation did not arise.",
          paying.length ? `Deviations that pay: ${paying.join("; ")}` : "No deviation pays.",
        ],
      },
    ],
  };
}
