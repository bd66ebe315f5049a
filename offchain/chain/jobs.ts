/**
 * Every job of a pool from ONE pass over its logs: `listJobs(client)` reads the job events of
 * [fromBlock, toBlock] with a single `getEvents` (eth_getLogs in `logRange` chunks), groups them by
 * job and folds each group with history.ts `foldJobEvents` — the same fold as `jobHistory` — then
 * derives what the views would say (state, stage, deadline, escrow, current verifier, stage statuses)
 * from the events alone (`jobFromEvents`), following contracts/StakePool.sol:
 *
 * | event             | state after it                          | deadline                   |
 * |-------------------|-----------------------------------------|----------------------------|
 * | JobOpened         | Open, stage 0                           | commitDeadline             |
 * | JobCommitted      | Committed                               | challengeDeadline          |
 * | DrawQueued(k)     | AwaitingVerifier, stage k               | drawDeadline               |
 * | VerifierAssigned  | Verifying                               | its deadline               |
 * | ResultCommitted   | Answering                               | revealDeadline             |
 * | JobCancelled / JobFinalized / JobSettled | Cancelled / Finalized / the outcome | 0       |
 *
 * (a challenge, a reveal that does not settle, a timeout and a decline are each followed by a
 * DrawQueued in the same transaction). Escrow is the pool's `_escrow`: αCg + αCv while Open, + βCg
 * once committed, + k·βCv while stage k is drawn (k − 1 while it waits for a draw), 0 when final.
 * The claim hash is computed locally (`claimHashOf`), so no view is read at all. Browser-safe.
 */
import { keccak256, ZeroAddress } from "ethers";
import type { CurrentStage, JobView, PoolClient } from "./client.js";
import { JOB_EVENTS, type PoolEvent } from "./events.js";
import { blockTimes, foldJobEvents, markAgreement, type AssignmentHistory, type JobHistory } from "./history.js";
import { claimBitmap, FINAL_STATES, JobState, StageStatus } from "./state.js";

/** keccak256 of the generator's claim (the first `numChecks` bits set): the pool's `claimHash(numChecks)`. */
export function claimHashOf(numChecks: number): string {
  return keccak256(claimBitmap(numChecks));
}

const STATUS_OF: Record<AssignmentHistory["outcome"], StageStatus> = {
  pending: StageStatus.Pending,
  committed: StageStatus.Committed,
  submitted: StageStatus.Submitted,
  timedOut: StageStatus.NoShow,
  equivocated: StageStatus.NoShow,
  declined: StageStatus.Declined,
};

/**
 * A job's JobHistory from its events alone (chain order, at least its JobOpened); undefined when they
 * hold no JobOpened (the job was opened before the range read). `view` and `current` are derived
 * (module comment), not read.
 */
export function jobFromEvents(events: readonly PoolEvent[], options: { times?: ReadonlyMap<number, number> } = {}): JobHistory | undefined {
  const opened = events.find((e) => e.name === "JobOpened");
  if (!opened || opened.name !== "JobOpened") return undefined;
  const parts = foldJobEvents(events, options);
  let state = JobState.Open;
  let stage = 0;
  let deadline = opened.commitDeadline;
  let numChecks = 0;
  for (const e of events) {
    switch (e.name) {
      case "JobCommitted":
        state = JobState.Committed;
        deadline = e.challengeDeadline;
        numChecks = e.numChecks;
        break;
      case "DrawQueued":
        state = JobState.AwaitingVerifier;
        stage = e.stage;
        deadline = e.drawDeadline;
        break;
      case "VerifierAssigned":
        state = JobState.Verifying;
        stage = e.stage;
        deadline = e.deadline;
        break;
      case "ResultCommitted":
        state = JobState.Answering;
        deadline = e.revealDeadline;
        break;
      case "JobCancelled":
        state = JobState.Cancelled;
        deadline = 0;
        break;
      case "JobFinalized":
        state = JobState.Finalized;
        deadline = 0;
        break;
      case "JobSettled":
        state = e.outcome;
        deadline = 0;
        break;
      default:
        break;
    }
  }
  const { alphaCg, alphaCv, betaCg, betaCv } = opened;
  const base = alphaCg + alphaCv + betaCg;
  const escrow =
    state === JobState.Open
      ? alphaCg + alphaCv
      : state === JobState.Committed
        ? base
        : state === JobState.Verifying || state === JobState.Answering
          ? base + BigInt(stage) * betaCv
          : state === JobState.AwaitingVerifier
            ? base + BigInt(stage - 1) * betaCv
            : 0n;
  const view: JobView = {
    jobId: opened.jobId,
    user: opened.user,
    generator: opened.generator,
    state,
    stage,
    deadline,
    alphaCg,
    alphaCv,
    betaCg,
    betaCv,
    numChecks,
    paramsId: opened.paramsId,
    escrow,
  };
  const latest = (n: number) => parts.stages.find((s) => s.stage === n)?.assignments.at(-1);
  for (const s of parts.stages) {
    const a = s.assignments.at(-1);
    s.status = a ? STATUS_OF[a.outcome] : StageStatus.None;
  }
  const drawn = state === JobState.Verifying || state === JobState.Answering;
  const current: CurrentStage = { stage, verifier: drawn ? (latest(stage)?.verifier ?? ZeroAddress) : ZeroAddress, deadline };
  const h: JobHistory = {
    jobId: opened.jobId,
    view,
    state,
    stateName: JobState[state] ?? String(state),
    final: FINAL_STATES.has(state),
    current,
    ...parts,
    events: [...events],
  };
  if (h.committed) {
    h.committed.claimHash = claimHashOf(h.committed.numChecks);
    markAgreement(h);
  }
  return h;
}

/** Group job events by job id (each group keeps the chain order of `events`). */
export function groupByJob(events: readonly PoolEvent[]): Map<bigint, PoolEvent[]> {
  const out = new Map<bigint, PoolEvent[]>();
  for (const e of events) {
    if (!("jobId" in e)) continue;
    let list = out.get(e.jobId);
    if (!list) out.set(e.jobId, (list = []));
    list.push(e);
  }
  return out;
}

export interface ListJobsOptions {
  /** First block (default: the client's deployment block). Jobs opened before it are left out. */
  fromBlock?: number;
  /** Last block (default: the latest). */
  toBlock?: number;
  /** Fetch block timestamps for the `time` fields (default false: one getBlock per distinct block). */
  timestamps?: boolean;
}

/** Every job opened in the range, by job id ascending, each as `jobFromEvents` sees it (module comment). */
export async function listJobs(client: Pick<PoolClient, "getEvents" | "deployBlock" | "retry" | "provider">, options: ListJobsOptions = {}): Promise<JobHistory[]> {
  const events = await client.getEvents({ events: JOB_EVENTS, fromBlock: options.fromBlock ?? client.deployBlock, ...(options.toBlock !== undefined ? { toBlock: options.toBlock } : {}) });
  const times = options.timestamps ? await blockTimes(client, events) : undefined;
  const jobs: JobHistory[] = [];
  for (const group of groupByJob(events).values()) {
    const h = jobFromEvents(group, times ? { times } : {});
    if (h) jobs.push(h);
  }
  return jobs.sort(byJobId);
}

export interface JobIndexOptions {
  /** First block (default: the client's deployment block). */
  fromBlock?: number;
  /** Read only up to this many blocks behind the head (default 0), so that a reorg shallower than that cannot change what was read. */
  confirmations?: number;
}

/**
 * Every job of a pool, kept up to date as blocks arrive: each `update()` reads only the logs after
 * the last block it read (one `getEvents`) and folds again only the jobs those touched. For a page
 * that polls (or updates on `provider.on("block")`) without reading the whole history each time. A
 * reorg deeper than `confirmations` is not undone: make a new index then.
 */
export class JobIndex {
  readonly #client: Pick<PoolClient, "getEvents" | "deployBlock" | "blockNumber">;
  readonly #events = new Map<bigint, PoolEvent[]>();
  readonly #jobs = new Map<bigint, JobHistory>();
  readonly #confirmations: number;
  #next: number;

  constructor(client: Pick<PoolClient, "getEvents" | "deployBlock" | "blockNumber">, options: JobIndexOptions = {}) {
    this.#client = client;
    this.#next = options.fromBlock ?? client.deployBlock;
    this.#confirmations = Math.max(0, options.confirmations ?? 0);
  }

  /** The last block read (fromBlock − 1 before the first update). */
  get lastBlock(): number {
    return this.#next - 1;
  }

  /** Every job known, by job id ascending. */
  get jobs(): JobHistory[] {
    return [...this.#jobs.values()].sort(byJobId);
  }

  job(jobId: bigint | number): JobHistory | undefined {
    return this.#jobs.get(BigInt(jobId));
  }

  /** Read the new blocks (up to `toBlock`, default the head minus `confirmations`); returns the jobs that changed. */
  async update(toBlock?: number): Promise<JobHistory[]> {
    const to = toBlock ?? (await this.#client.blockNumber()) - this.#confirmations;
    if (to < this.#next) return [];
    const fresh = await this.#client.getEvents({ events: JOB_EVENTS, fromBlock: this.#next, toBlock: to });
    this.#next = to + 1;
    const changed: JobHistory[] = [];
    for (const [id, evs] of groupByJob(fresh)) {
      const all = [...(this.#events.get(id) ?? []), ...evs];
      this.#events.set(id, all);
      const h = jobFromEvents(all);
      if (h) {
        this.#jobs.set(id, h);
        changed.push(h);
      }
    }
    return changed.sort(byJobId);
  }
}

function byJobId(a: JobHistory, b: JobHistory): number {
  return a.jobId < b.jobId ? -1 : a.jobId > b.jobId ? 1 : 0;
}
