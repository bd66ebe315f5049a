/**
 * The dashboard's data, computed by one pure function from what the chain said: `buildSnapshot(facts,
 * extras)`. `facts` are the pool's events so far (one log pass, chain order) and the views read for
 * them (jobs, bonds, weights, the parameters, the head block); `extras` are what does not come from
 * the pool (a user's answers, generator listings of docs/NETWORK.md). No RPC, no file system: the
 * indexer (./indexer.ts) gathers the facts block by block, and this module can move unchanged onto a
 * browser-safe client.
 *
 * Amounts stay bigint here; `snapshotToJson` writes them as decimal strings for the HTTP API.
 */
import { keccak256 } from "ethers";
import { JobState } from "../chain/client.js";
import { FINAL_STATES } from "../chain/state.js";
import type { BondView, JobView, ModelStake } from "../chain/client.js";
import type { PoolEvent, PoolEventOf, PoolParamsRecord } from "../chain/events.js";
import { canBeDrawn, drawStatus, largestBetaCv, type DrawStatus } from "../chain/drawable.js";
import { allMatchedBitmap, matchedCountOfHex } from "../receipt/bitmap.js";
import { FINGERPRINT_TOLERANCE } from "../fingerprint/distance.js";

/** A generator's on-chain listing (docs/NETWORK.md "Generators found on-chain"). */
export interface GeneratorListing {
  address: string;
  endpoint: string;
  models: string[];
  pricePerToken: bigint;
  record?: { jobs: number; finalized: number; upheld: number; slashed: number; forfeited: number; skipped: number };
}

/** What the chain said, up to `head` (gathered by ./indexer.ts). */
export interface ChainFacts {
  chainId: bigint;
  pool: string;
  token: { address: string; decimals: number; symbol?: string };
  treasury: string;
  head: { number: number; timestamp: number };
  params: { id: number; record: PoolParamsRecord };
  /** Every pool event from the deployment block to `head`, in chain order. */
  events: readonly PoolEvent[];
  /** Block number → timestamp, for the blocks of `events` (missing ones show no time). */
  blockTimes: ReadonlyMap<number, number>;
  /** jobId (decimal) → getJob at (about) `head`. */
  jobs: ReadonlyMap<string, JobView>;
  /** verifier address → bondOf, with its weight in each declared model's tree. */
  bonds: ReadonlyMap<string, BondView & { weights: ReadonlyMap<string, bigint> }>;
  /** model id → total draw weight and verifier count. */
  modelStakes: ReadonlyMap<string, ModelStake>;
}

/** A job's answer as this dashboard may show it. */
export type JobAnswer =
  | { visibility: "none" } // nothing committed yet
  | { visibility: "private" } // only the job's user may see it (start the dashboard with its receipt store)
  | { visibility: "shown"; tokens: number[]; text?: string };

export interface SnapshotExtras {
  /** jobId (decimal) → the answer for its user (./answers.ts); jobs missing here show "private". */
  answers?: ReadonlyMap<string, JobAnswer>;
  /** Registered generators (models, price, endpoint); until a registry exists, none. */
  listings?: readonly GeneratorListing[];
}

export interface At {
  block: number;
  tx: string;
  time?: number;
}

export type StageResultKind = "pending" | "committed" | "agreesWithGenerator" | "agreesWithVerifier" | "dissents" | "timedOut" | "declined";

export interface DashboardStage {
  stage: number;
  verifier: string;
  stake: bigint;
  deadline: number;
  result: StageResultKind;
  /** With `agreesWithVerifier`: the stage it agrees with. */
  agreesWithStage?: number;
  /** In words ("agrees with the generator"). */
  resultText: string;
  /** Matched checks of the revealed bitmap. */
  matched?: number;
  /** Who answered this assignment's fingerprint seed: 0 the generator, i the verifier of stage i. */
  answeredBy: number[];
  assigned: At;
}

export interface DashboardPayouts {
  kind: "cancelled" | "finalized" | "settled";
  user: bigint;
  generator: bigint;
  verifiers: { verifier: string; payout: bigint }[];
  treasury: bigint;
  total: bigint;
}

export interface DashboardJob {
  jobId: bigint;
  state: JobState;
  /** Short label: "Open", "Awaiting verifier", "Generator upheld", … */
  stateLabel: string;
  /** One sentence: what the state means. */
  stateText: string;
  final: boolean;
  user: string;
  generator: string;
  modelId: string;
  amounts: { alphaCg: bigint; alphaCv: bigint; betaCg: bigint; betaCv: bigint };
  escrow: bigint;
  /** Deadline of the current state (unix seconds; 0 in final states). */
  deadline: number;
  /** `deadline − head time` in seconds (negative: passed); null without a deadline. */
  timeLeft: number | null;
  /** What the deadline is for ("commit", "challenge window", …); "" without one. */
  deadlineFor: string;
  /** What happens next, or who must act by the deadline. */
  next: string;
  opened?: At;
  committed?: { receiptRoot: string; numChecks: number; receiptUri: string; at: At };
  challenged?: At;
  stages: DashboardStage[];
  payouts?: DashboardPayouts;
  answer: JobAnswer;
}

export interface VerifierRecord {
  drawn: number;
  agreed: number;
  dissented: number;
  noShow: number;
  declined: number;
  /** Drawn, not yet revealed or timed out. */
  pending: number;
  /** Its result was on the winning side of a settled job. */
  upheld: number;
  /** Paid 0 at a settlement: lost its stake (a no-show's forfeit counts in `noShow`). */
  slashed: number;
  /** Sum of its payouts. */
  earned: bigint;
}

export interface DashboardVerifier {
  address: string;
  bond: bigint;
  pendingBond: bigint;
  unbonding: bigint;
  needsSync: boolean;
  models: { modelId: string; weight: bigint; total: bigint; shareBps: number; draw: DrawStatus; drawText: string }[];
  /** Drawable for at least one model (for some jobs at least). */
  drawable: boolean;
  record: VerifierRecord;
}

export interface GeneratorRecord {
  jobs: number;
  /** Not final yet. */
  active: number;
  finalized: number;
  upheld: number;
  slashed: number;
  forfeited: number;
  skipped: number;
  unverified: number;
  stalemates: number;
  earned: bigint;
}

export interface DashboardGenerator {
  address: string;
  /** From the listing when there is one, else the models of its jobs. */
  models: string[];
  listed: boolean;
  pricePerToken?: bigint;
  endpoint?: string;
  record: GeneratorRecord;
}

export interface DashboardSnapshot {
  version: 1;
  chainId: bigint;
  block: { number: number; timestamp: number };
  pool: {
    address: string;
    token: { address: string; decimals: number; symbol?: string };
    treasury: string;
    paramsId: number;
    params: PoolParamsRecord;
    largestBetaCv: bigint;
    /** Verifiers a model needs before jobs can be opened for it: maxStages + 2. */
    minVerifiers: number;
  };
  /** Newest first. */
  jobs: DashboardJob[];
  verifiers: DashboardVerifier[];
  generators: DashboardGenerator[];
}

// ------------------------------------------------------------------------------------------------
// Words
// ------------------------------------------------------------------------------------------------

const LABELS: Record<number, string> = {
  [JobState.None]: "None",
  [JobState.Open]: "Open",
  [JobState.Committed]: "Committed",
  [JobState.Verifying]: "Verifying",
  [JobState.AwaitingVerifier]: "Awaiting verifier",
  [JobState.Answering]: "Answering",
  [JobState.Finalized]: "Finalized",
  [JobState.Cancelled]: "Cancelled",
  [JobState.GeneratorUpheld]: "Generator upheld",
  [JobState.VerifierUpheld]: "Verifier upheld",
  [JobState.Stalemate]: "Stalemate",
  [JobState.Unverified]: "Unverified",
  [JobState.GeneratorForfeited]: "Generator forfeited",
};

const TEXTS: Record<number, string> = {
  [JobState.None]: "does not exist",
  [JobState.Open]: "waiting for the generator to commit its receipt",
  [JobState.Committed]: "the generator staked and committed its receipt; the user may challenge",
  [JobState.Verifying]: "challenged: a drawn verifier is replaying the job",
  [JobState.AwaitingVerifier]: "challenged: the stage waits in the draw queue for a verifier",
  [JobState.Answering]: "the verifier committed its result; the generator and earlier verifiers answer the fingerprint seed",
  [JobState.Finalized]: "finalized without a challenge: the generator was paid",
  [JobState.Cancelled]: "the generator never committed: the user was refunded",
  [JobState.GeneratorUpheld]: "a verifier confirmed the generator's result",
  [JobState.VerifierUpheld]: "a verifier confirmed an earlier verifier: the generator was slashed",
  [JobState.Stalemate]: "no agreement: the user got αCv back, the generator's deposits went to the treasury",
  [JobState.Unverified]: "no verifier could be drawn in time: the generator was paid as if unchallenged",
  [JobState.GeneratorForfeited]: "the generator did not answer the fingerprint seed: it lost its stake",
};


export function stateLabel(s: JobState): string {
  return LABELS[s] ?? `state ${s}`;
}

const DEADLINE_FOR: Record<number, string> = {
  [JobState.Open]: "commit",
  [JobState.Committed]: "challenge window",
  [JobState.AwaitingVerifier]: "draw",
  [JobState.Verifying]: "verifier's commit",
  [JobState.Answering]: "reveal",
};

function nextStep(state: JobState, stage: number): string {
  switch (state) {
    case JobState.Open:
      return "the generator must commit by the deadline; after it anyone may cancel (full refund)";
    case JobState.Committed:
      return "the user may challenge until the deadline; after it anyone may finalize";
    case JobState.AwaitingVerifier:
      return `stage ${stage} waits for a draw (anyone: poc pool draw); after the deadline timeout-draw settles it`;
    case JobState.Verifying:
      return `the verifier of stage ${stage} must commit its result by the deadline (or decline early)`;
    case JobState.Answering:
      return `answers to stage ${stage}'s seed, then the verifier reveals by the deadline`;
    default:
      return "nothing: the job is settled";
  }
}

const RESULT_TEXT: Record<StageResultKind, string> = {
  pending: "drawn, has not committed yet",
  committed: "committed its result, not revealed yet",
  agreesWithGenerator: "agrees with the generator",
  agreesWithVerifier: "disagrees with the generator, agrees with stage",
  dissents: "disagrees with the generator and every earlier verifier",
  timedOut: "missed its deadline (no-show: its stake went to the treasury)",
  declined: "declined the assignment (paid the decline fee)",
};

export function drawText(d: DrawStatus): string {
  switch (d.kind) {
    case "drawable":
      return "can be drawn";
    case "limited":
      return "can be drawn for small jobs only";
    case "awaitingSync":
      return "not drawn until a sync";
    case "noWeight":
      return "not drawn: bond below the minimum";
    case "noFreeBond":
      return "not drawn: no free bond";
  }
}

// ------------------------------------------------------------------------------------------------
// The fold
// ------------------------------------------------------------------------------------------------

interface JobAcc {
  opened?: PoolEventOf<"JobOpened">;
  openedAt?: At;
  committed?: DashboardJob["committed"];
  challenged?: At;
  stages: (DashboardStage & { resultHash?: string; distance?: number })[];
  payouts?: DashboardPayouts;
  settledOutcome?: JobState;
}

const lower = (a: string) => a.toLowerCase();

/** The dashboard's data from the chain's facts (module comment). */
export function buildSnapshot(facts: ChainFacts, extras: SnapshotExtras = {}): DashboardSnapshot {
  const at = (e: PoolEvent): At => {
    const t = facts.blockTimes.get(e.blockNumber);
    return { block: e.blockNumber, tx: e.transactionHash, ...(t !== undefined ? { time: t } : {}) };
  };
  const jobs = new Map<string, JobAcc>();
  const job = (id: bigint): JobAcc => {
    const k = id.toString();
    let j = jobs.get(k);
    if (!j) jobs.set(k, (j = { stages: [] }));
    return j;
  };
  const verifierSet = new Set<string>();
  const latest = (j: JobAcc, stage: number, verifier: string) => {
    for (let i = j.stages.length - 1; i >= 0; i--) if (j.stages[i]!.stage === stage && j.stages[i]!.verifier === verifier) return j.stages[i];
    return undefined;
  };
  const claimHashes = new Map<number, string>();
  const claimHash = (n: number) => {
    let h = claimHashes.get(n);
    if (!h) claimHashes.set(n, (h = keccak256(allMatchedBitmap(n)).toLowerCase()));
    return h;
  };

  for (const e of facts.events) {
    switch (e.name) {
      case "JobOpened": {
        const j = job(e.jobId);
        j.opened = e;
        j.openedAt = at(e);
        break;
      }
      case "JobCommitted":
        job(e.jobId).committed = { receiptRoot: e.receiptRoot, numChecks: e.numChecks, receiptUri: e.receiptUri, at: at(e) };
        break;
      case "JobChallenged":
        job(e.jobId).challenged = at(e);
        break;
      case "VerifierAssigned":
        verifierSet.add(e.verifier);
        job(e.jobId).stages.push({
          stage: e.stage,
          verifier: e.verifier,
          stake: e.stake,
          deadline: e.deadline,
          result: "pending",
          resultText: RESULT_TEXT.pending,
          answeredBy: [],
          assigned: at(e),
        });
        break;
      case "ResultCommitted": {
        const s = latest(job(e.jobId), e.stage, e.verifier);
        if (s) s.result = "committed";
        break;
      }
      case "FingerprintAnswered": {
        const list = job(e.jobId).stages.filter((x) => x.stage === e.stage);
        list[list.length - 1]?.answeredBy.push(e.index);
        break;
      }
      case "ResultSubmitted": {
        const j = job(e.jobId);
        const s = latest(j, e.stage, e.verifier);
        if (!s) break;
        s.resultHash = e.resultHash.toLowerCase();
        s.distance = e.generatorDistance;
        s.matched = matchedCountOfHex(e.matchBitmap);
        const claim = j.committed ? claimHash(j.committed.numChecks) : undefined;
        if (s.resultHash === claim && e.generatorDistance <= FINGERPRINT_TOLERANCE) s.result = "agreesWithGenerator";
        else {
          const same = j.stages.find((x) => x !== s && x.stage < s.stage && x.resultHash === s.resultHash);
          if (same) {
            s.result = "agreesWithVerifier";
            s.agreesWithStage = same.stage;
          } else s.result = "dissents";
        }
        break;
      }
      case "VerifierTimedOut":
      case "VerifierEquivocated": {
        // (an equivocation counts as a no-show: the verifier is dropped and its stake forfeited)
        const s = latest(job(e.jobId), e.stage, e.verifier);
        if (s) s.result = "timedOut";
        break;
      }
      case "VerifierDeclined": {
        const s = latest(job(e.jobId), e.stage, e.verifier);
        if (s) s.result = "declined";
        break;
      }
      case "JobCancelled":
        job(e.jobId).payouts = { kind: "cancelled", user: e.userRefund, generator: 0n, verifiers: [], treasury: 0n, total: e.userRefund };
        break;
      case "JobFinalized":
        job(e.jobId).payouts = { kind: "finalized", user: e.userPayout, generator: e.generatorPayout, verifiers: [], treasury: 0n, total: e.userPayout + e.generatorPayout };
        break;
      case "JobSettled": {
        const j = job(e.jobId);
        const verifiers = e.verifiers.map((verifier, i) => ({ verifier, payout: e.verifierPayouts[i] ?? 0n }));
        const total = e.userPayout + e.generatorPayout + e.treasuryPayout + verifiers.reduce((a, v) => a + v.payout, 0n);
        j.payouts = { kind: "settled", user: e.userPayout, generator: e.generatorPayout, verifiers, treasury: e.treasuryPayout, total };
        j.settledOutcome = e.outcome;
        break;
      }
      case "Bonded":
      case "UnbondRequested":
      case "UnbondWithdrawn":
      case "VerifierSynced":
      case "ModelsSet":
        verifierSet.add(e.verifier);
        break;
      default:
        break;
    }
  }
  for (const v of facts.bonds.keys()) verifierSet.add(v);
  for (const j of jobs.values()) for (const s of j.stages) s.resultText = s.result === "agreesWithVerifier" ? `${RESULT_TEXT.agreesWithVerifier} ${s.agreesWithStage}` : RESULT_TEXT[s.result];

  // Jobs
  const out: DashboardJob[] = [];
  for (const [k, j] of jobs) {
    const o = j.opened;
    const view = facts.jobs.get(k);
    if (!o || !view) continue;
    const state = view.state;
    const answer: JobAnswer = !j.committed ? { visibility: "none" } : (extras.answers?.get(k) ?? { visibility: "private" });
    out.push({
      jobId: o.jobId,
      state,
      stateLabel: stateLabel(state),
      stateText: TEXTS[state] ?? "",
      final: FINAL_STATES.has(state),
      user: o.user,
      generator: o.generator,
      modelId: o.modelId,
      amounts: { alphaCg: o.alphaCg, alphaCv: o.alphaCv, betaCg: o.betaCg, betaCv: o.betaCv },
      escrow: view.escrow,
      deadline: view.deadline,
      timeLeft: view.deadline > 0 ? view.deadline - facts.head.timestamp : null,
      deadlineFor: view.deadline > 0 ? (DEADLINE_FOR[state] ?? "") : "",
      next: nextStep(state, view.stage),
      ...(j.openedAt ? { opened: j.openedAt } : {}),
      ...(j.committed ? { committed: j.committed } : {}),
      ...(j.challenged ? { challenged: j.challenged } : {}),
      stages: j.stages.map(({ resultHash: _h, distance: _d, ...s }) => s),
      ...(j.payouts ? { payouts: j.payouts } : {}),
      answer,
    });
  }
  out.sort((a, b) => (a.jobId < b.jobId ? 1 : a.jobId > b.jobId ? -1 : 0));

  // Verifiers
  const maxStake = largestBetaCv(facts.params.record);
  const records = new Map<string, VerifierRecord>();
  const rec = (v: string) => {
    let r = records.get(lower(v));
    if (!r) records.set(lower(v), (r = { drawn: 0, agreed: 0, dissented: 0, noShow: 0, declined: 0, pending: 0, upheld: 0, slashed: 0, earned: 0n }));
    return r;
  };
  for (const j of jobs.values()) {
    for (const s of j.stages) {
      const r = rec(s.verifier);
      r.drawn++;
      if (s.result === "agreesWithGenerator") r.agreed++;
      else if (s.result === "agreesWithVerifier" || s.result === "dissents") r.dissented++;
      else if (s.result === "timedOut") r.noShow++;
      else if (s.result === "declined") r.declined++;
      else r.pending++;
    }
    if (j.payouts?.kind === "settled") {
      const last = [...j.stages].reverse().find((s) => s.resultHash !== undefined);
      for (const p of j.payouts.verifiers) {
        const r = rec(p.verifier);
        r.earned += p.payout;
        if (p.payout === 0n) r.slashed++;
      }
      for (const s of j.stages) {
        if (s.resultHash === undefined) continue;
        const won =
          (j.settledOutcome === JobState.GeneratorUpheld && s.result === "agreesWithGenerator") ||
          (j.settledOutcome === JobState.VerifierUpheld && last !== undefined && s.resultHash === last.resultHash);
        if (won) rec(s.verifier).upheld++;
      }
    }
  }
  const verifiers: DashboardVerifier[] = [...verifierSet]
    .sort((a, b) => lower(a).localeCompare(lower(b)))
    .map((address) => {
      const b = facts.bonds.get(address);
      const models = (b?.models ?? []).map((modelId) => {
        const weight = b?.weights.get(modelId) ?? 0n;
        const total = facts.modelStakes.get(modelId)?.total ?? 0n;
        const draw = drawStatus({ weight, bond: b?.bond ?? 0n, needsSync: b?.needsSync ?? false, largestBetaCv: maxStake });
        return { modelId, weight, total, shareBps: total > 0n ? Number((weight * 10_000n) / total) : 0, draw, drawText: drawText(draw) };
      });
      return {
        address,
        bond: b?.bond ?? 0n,
        pendingBond: b?.pendingBond ?? 0n,
        unbonding: b?.unbonding ?? 0n,
        needsSync: b?.needsSync ?? false,
        models,
        drawable: models.some((m) => canBeDrawn(m.draw)),
        record: rec(address),
      };
    });

  // Generators
  const gens = new Map<string, DashboardGenerator>();
  const gen = (address: string): DashboardGenerator => {
    let g = gens.get(lower(address));
    if (!g) {
      g = {
        address,
        models: [],
        listed: false,
        record: { jobs: 0, active: 0, finalized: 0, upheld: 0, slashed: 0, forfeited: 0, skipped: 0, unverified: 0, stalemates: 0, earned: 0n },
      };
      gens.set(lower(address), g);
    }
    return g;
  };
  for (const l of extras.listings ?? []) {
    const g = gen(l.address);
    g.listed = true;
    g.models = [...l.models];
    g.pricePerToken = l.pricePerToken;
    g.endpoint = l.endpoint;
  }
  for (const j of out) {
    const g = gen(j.generator);
    const r = g.record;
    r.jobs++;
    if (!g.listed && !g.models.includes(j.modelId)) g.models.push(j.modelId);
    if (!j.final) r.active++;
    if (j.state === JobState.Finalized) r.finalized++;
    else if (j.state === JobState.GeneratorUpheld) r.upheld++;
    else if (j.state === JobState.VerifierUpheld) r.slashed++;
    else if (j.state === JobState.GeneratorForfeited) r.forfeited++;
    else if (j.state === JobState.Cancelled) r.skipped++;
    else if (j.state === JobState.Unverified) r.unverified++;
    else if (j.state === JobState.Stalemate) r.stalemates++;
    r.earned += j.payouts?.generator ?? 0n;
  }
  const generators = [...gens.values()].sort((a, b) => b.record.jobs - a.record.jobs || lower(a.address).localeCompare(lower(b.address)));

  return {
    version: 1,
    chainId: facts.chainId,
    block: facts.head,
    pool: {
      address: facts.pool,
      token: facts.token,
      treasury: facts.treasury,
      paramsId: facts.params.id,
      params: facts.params.record,
      largestBetaCv: maxStake,
      minVerifiers: facts.params.record.maxStages + 2,
    },
    jobs: out,
    verifiers,
    generators,
  };
}

/** The snapshot as JSON text: bigints as decimal strings. */
export function snapshotToJson(s: DashboardSnapshot): string {
  return JSON.stringify(s, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v));
}
