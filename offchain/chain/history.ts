/**
 * A job's full history from the pool's events and views: what a dApp shows for one job.
 *
 * Events give what the contract does not store (the model id, request and receipt URIs, every
 * verifier drawn, every result's bitmap, timeouts, payouts); views give the present (state, current
 * deadline, escrow). Stages are rebuilt from DrawQueued / VerifierAssigned / ResultSubmitted /
 * VerifierTimedOut / VerifierEquivocated / VerifierDeclined / VerifierUnavailable, settlement from JobCancelled /
 * JobFinalized / JobSettled (with the treasury's share: forfeits and stalemate deposits).
 */
import { FINAL_STATES, JobState, StageStatus } from "./state.js";
import type { CurrentStage, JobView, PoolClient } from "./client.js";
import { ChainError } from "./errors.js";
import { FINGERPRINT_TOLERANCE } from "../fingerprint/distance.js";
import type { LogMeta, PoolEvent, PoolEventOf } from "./events.js";

export interface Where {
  block: number;
  tx: string;
  /** Block timestamp (unix seconds). */
  time?: number;
}

export interface AssignmentHistory {
  verifier: string;
  stake: bigint;
  deadline: number;
  assigned: Where;
  /**
   * pending: drawn, no result yet; committed: result committed, not yet revealed; submitted: result
   * revealed on-chain; timedOut: missed the deadline (stake forfeited to the treasury); declined: gave
   * the assignment back (paid the decline fee); equivocated: committed another result than the one it
   * had signed for the generator's off-chain answer (stake forfeited: the decline fee's share to the
   * reporter, the rest to the treasury).
   */
  outcome: "pending" | "committed" | "submitted" | "timedOut" | "declined" | "equivocated";
  /** The stage's fingerprint seed (docs/PROTOCOL.md "Replay fingerprints"). */
  fingerprintSeed: bigint;
  committed?: Where & { commitment: string; answerDeadline: number; revealDeadline: number };
  /** The verifier drew its own stage: the draw and the commit are one transaction (IStakePool commitResult). */
  selfDrawn?: boolean;
  /** Answers to this assignment's seed: index 0 the generator, i the verifier of stage i. */
  answers?: { index: number; party: string; fingerprint: string; at: Where }[];
  resultHash?: string;
  matchBitmap?: string;
  fingerprint?: string;
  /** Bits between the revealed fingerprint and the generator's answer (65535: no answer). */
  generatorDistance?: number;
  /** The result equals the generator's claim (every check matched). */
  agreesWithGenerator?: boolean;
  submitted?: Where;
  /** Submitted in one transaction with the generator's signed answer (IStakePool submitResult): no commit. */
  oneTransaction?: boolean;
  timedOut?: Where & { forfeited: bigint };
  equivocated?: Where & { forfeited: bigint; reporter: string; reward: bigint; signedCommitment: string };
  declined?: Where & { fee: bigint; refund: bigint };
}

export interface StageHistory {
  stage: number;
  /** Every verifier drawn for this stage, in order (more than one after timeouts). */
  assignments: AssignmentHistory[];
  /** Every time the stage joined the draw queue (challenge, a non-settling result, a timeout, a decline). */
  queued?: { queueIndex: bigint; drawDeadline: number; at: Where }[];
  /** No eligible verifier at some draw epoch: queued again for the next one (until drawDeadline). */
  unavailable?: { drawDeadline: number; at: Where }[];
  /** View: the stage's latest verifier and status. */
  status: StageStatus;
}

export interface Payouts {
  user: bigint;
  generator: bigint;
  verifiers: { verifier: string; payout: bigint }[];
  /** Credited to the treasury at settlement (a stalemate's deposits; 0 in Table 1's rows). */
  treasury: bigint;
  /** Sum of all payouts at settlement, the treasury's included (equals what the job held then). */
  total: bigint;
}

export type Settlement =
  | { kind: "cancelled"; at: Where; payouts: Payouts }
  | { kind: "finalized"; at: Where; payouts: Payouts }
  | { kind: "settled"; outcome: JobState; stage: number; at: Where; payouts: Payouts };

export interface JobHistory {
  jobId: bigint;
  /** Current view (getJob). */
  view: JobView;
  state: JobState;
  stateName: string;
  final: boolean;
  current: CurrentStage;
  opened?: {
    at: Where;
    user: string;
    generator: string;
    modelId: string;
    requestHash: string;
    requestUri: string;
    alphaCg: bigint;
    alphaCv: bigint;
    betaCg: bigint;
    betaCv: bigint;
    commitDeadline: number;
    paramsId: number;
  };
  committed?: {
    at: Where;
    receiptRoot: string;
    numChecks: number;
    receiptUri: string;
    betaCg: bigint;
    challengeDeadline: number;
    /** keccak256 of the generator's claim (all numChecks bits set). */
    claimHash: string;
  };
  challenged?: { at: Where };
  stages: StageHistory[];
  settlement?: Settlement;
  /** Every event of the job, in chain order. */
  events: PoolEvent[];
}

const FINAL = FINAL_STATES;

export interface JobHistoryOptions {
  /** First block to scan (default: the client's deployment block). */
  fromBlock?: number;
  /** Fetch block timestamps for `time` fields (default true; one getBlock per distinct block). */
  timestamps?: boolean;
}

/** The full history of job `jobId` (module comment). ChainError when the job does not exist. */
export async function jobHistory(client: PoolClient, jobId: bigint | number, options: JobHistoryOptions = {}): Promise<JobHistory> {
  const id = BigInt(jobId);
  // Events up to a fixed block, views at that block: one consistent picture.
  const head = await client.blockNumber();
  const view = await client.getJob(id, head);
  if (view.state === JobState.None) throw new ChainError(`job ${id} does not exist (next job id is ${await client.nextJobId()})`);
  const [current, events] = await Promise.all([client.currentStage(id), client.jobEvents(id, { fromBlock: options.fromBlock ?? client.deployBlock, toBlock: head })]);
  const times = options.timestamps ?? true ? await blockTimes(client, events) : new Map<number, number>();
  const parts = foldJobEvents(events, { times });
  const h: JobHistory = {
    jobId: id,
    view,
    state: view.state,
    stateName: JobState[view.state] ?? String(view.state),
    final: FINAL.has(view.state),
    current,
    ...parts,
    events,
  };
  if (h.committed) {
    h.committed.claimHash = await client.claimHash(h.committed.numChecks);
    markAgreement(h);
  }
  // The pool's stage views describe a live dispute only (a settled job's dispute record is reused):
  // after settlement each stage's status follows from its latest assignment's events.
  await Promise.all(
    h.stages.map(async (s) => {
      s.status = h.final ? statusFromEvents(s) : (await client.getStage(id, s.stage)).status;
    }),
  );
  return h;
}

/** A stage's status from its latest assignment (what getStage said while the job was live). */
function statusFromEvents(s: StageHistory): StageStatus {
  const a = s.assignments[s.assignments.length - 1];
  if (!a) return StageStatus.None;
  switch (a.outcome) {
    case "submitted":
      return StageStatus.Submitted;
    case "timedOut":
      return StageStatus.NoShow;
    case "declined":
      return StageStatus.Declined;
    case "committed":
      return StageStatus.Committed;
    default:
      return StageStatus.Pending;
  }
}

/** The timestamps of the blocks of `events` (one getBlock per distinct block). */
export async function blockTimes(client: Pick<PoolClient, "retry" | "provider">, events: readonly LogMeta[]): Promise<Map<number, number>> {
  const times = new Map<number, number>();
  const blocks = [...new Set(events.map((e) => e.blockNumber))];
  await Promise.all(
    blocks.map(async (b) => {
      const blk = await client.retry("eth_getBlockByNumber", () => client.provider.getBlock(b));
      if (blk) times.set(b, blk.timestamp);
    }),
  );
  return times;
}

/** What a job's events alone tell (no views): shared by `jobHistory` and `listJobs` (jobs.ts). */
export type JobEventParts = Pick<JobHistory, "opened" | "committed" | "challenged" | "stages" | "settlement">;

/**
 * Fold the events of ONE job, in chain order, into its opening, commitment, challenge, stages (every
 * assignment and its outcome; `status` left None for the caller) and settlement. `times` gives block
 * timestamps for the `time` fields. `committed.claimHash` is left empty (see `markAgreement`).
 */
export function foldJobEvents(events: readonly PoolEvent[], options: { times?: ReadonlyMap<number, number> } = {}): JobEventParts {
  const times = options.times ?? new Map<number, number>();
  const at = (e: LogMeta): Where => {
    const t = times.get(e.blockNumber);
    return { block: e.blockNumber, tx: e.transactionHash, ...(t !== undefined ? { time: t } : {}) };
  };
  const h: JobEventParts = { stages: [] };
  const stage = (n: number): StageHistory => {
    let s = h.stages.find((x) => x.stage === n);
    if (!s) {
      s = { stage: n, assignments: [], status: StageStatus.None };
      h.stages.push(s);
    }
    return s;
  };
  const latestOf = (n: number, verifier: string) => {
    const list = stage(n).assignments.filter((a) => a.verifier === verifier);
    return list[list.length - 1];
  };

  for (const e of events) {
    switch (e.name) {
      case "JobOpened":
        h.opened = {
          at: at(e),
          user: e.user,
          generator: e.generator,
          modelId: e.modelId,
          requestHash: e.requestHash,
          requestUri: e.requestUri,
          alphaCg: e.alphaCg,
          alphaCv: e.alphaCv,
          betaCg: e.betaCg,
          betaCv: e.betaCv,
          commitDeadline: e.commitDeadline,
          paramsId: e.paramsId,
        };
        break;
      case "JobCommitted":
        h.committed = {
          at: at(e),
          receiptRoot: e.receiptRoot,
          numChecks: e.numChecks,
          receiptUri: e.receiptUri,
          betaCg: e.betaCg,
          challengeDeadline: e.challengeDeadline,
          claimHash: "",
        };
        break;
      case "JobChallenged":
        h.challenged = { at: at(e) };
        break;
      case "VerifierAssigned":
        stage(e.stage).assignments.push({
          verifier: e.verifier,
          stake: e.stake,
          deadline: e.deadline,
          fingerprintSeed: e.fingerprintSeed,
          assigned: at(e),
          outcome: "pending",
        });
        break;
      case "ResultCommitted": {
        const a = latestOf(e.stage, e.verifier);
        if (a) {
          a.outcome = "committed";
          a.committed = { ...at(e), commitment: e.commitment, answerDeadline: e.answerDeadline, revealDeadline: e.revealDeadline };
          if (a.assigned.tx === e.transactionHash) a.selfDrawn = true;
        }
        break;
      }
      case "FingerprintAnswered": {
        const list = stage(e.stage).assignments;
        const a = list[list.length - 1];
        if (a) (a.answers ??= []).push({ index: e.index, party: e.party, fingerprint: e.fingerprint, at: at(e) });
        break;
      }
      case "DrawQueued":
        (stage(e.stage).queued ??= []).push({ queueIndex: e.queueIndex, drawDeadline: e.drawDeadline, at: at(e) });
        break;
      case "VerifierUnavailable":
        (stage(e.stage).unavailable ??= []).push({ drawDeadline: e.drawDeadline, at: at(e) });
        break;
      case "VerifierDeclined": {
        const a = latestOf(e.stage, e.verifier);
        if (a) {
          a.outcome = "declined";
          a.declined = { ...at(e), fee: e.fee, refund: e.refund };
        }
        break;
      }
      case "ResultSubmitted": {
        const a = latestOf(e.stage, e.verifier);
        if (a) {
          a.outcome = "submitted";
          a.resultHash = e.resultHash;
          a.matchBitmap = e.matchBitmap;
          a.fingerprint = e.fingerprint;
          a.generatorDistance = e.generatorDistance;
          a.submitted = at(e);
          if (!a.committed) {
            a.oneTransaction = true;
            if (a.assigned.tx === e.transactionHash) a.selfDrawn = true;
          }
        }
        break;
      }
      case "VerifierEquivocated": {
        const a = latestOf(e.stage, e.verifier);
        if (a) {
          a.outcome = "equivocated";
          a.equivocated = { ...at(e), forfeited: e.forfeited, reporter: e.reporter, reward: e.reward, signedCommitment: e.signedCommitment };
        }
        break;
      }
      case "VerifierTimedOut": {
        const a = latestOf(e.stage, e.verifier);
        if (a) {
          a.outcome = "timedOut";
          a.timedOut = { ...at(e), forfeited: e.forfeited };
        }
        break;
      }
      case "JobCancelled":
        h.settlement = { kind: "cancelled", at: at(e), payouts: payouts(e.userRefund, 0n, [], [], 0n) };
        break;
      case "JobFinalized":
        h.settlement = { kind: "finalized", at: at(e), payouts: payouts(e.userPayout, e.generatorPayout, [], [], 0n) };
        break;
      case "JobSettled":
        h.settlement = {
          kind: "settled",
          outcome: e.outcome,
          stage: e.stage,
          at: at(e),
          payouts: payouts(e.userPayout, e.generatorPayout, e.verifiers, e.verifierPayouts, e.treasuryPayout),
        };
        break;
      default:
        break;
    }
  }
  h.stages.sort((a, b) => a.stage - b.stage);
  return h;
}

/** Set each revealed result's `agreesWithGenerator` from `committed.claimHash` (and the fingerprint distance). */
export function markAgreement(h: Pick<JobHistory, "committed" | "stages">): void {
  if (!h.committed) return;
  for (const s of h.stages)
    for (const a of s.assignments)
      if (a.resultHash !== undefined)
        a.agreesWithGenerator = a.resultHash === h.committed.claimHash && (a.generatorDistance ?? Infinity) <= FINGERPRINT_TOLERANCE;
}

function payouts(user: bigint, generator: bigint, verifiers: string[], amounts: bigint[], treasury: bigint): Payouts {
  const v = verifiers.map((verifier, i) => ({ verifier, payout: amounts[i] ?? 0n }));
  return { user, generator, verifiers: v, treasury, total: user + generator + treasury + v.reduce((s, x) => s + x.payout, 0n) };
}

/** The assignments of `events` (e.g. from `client.jobEvents`) that name `verifier`. */
export function assignmentsIn(events: readonly PoolEvent[], verifier: string): PoolEventOf<"VerifierAssigned">[] {
  const v = verifier.toLowerCase();
  return events.filter((e): e is PoolEventOf<"VerifierAssigned"> => e.name === "VerifierAssigned" && e.verifier.toLowerCase() === v);
}
