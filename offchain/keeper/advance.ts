/**
 * The keeper: moves a job along whatever step is due, so no job depends on a person noticing a
 * deadline. The StakePool v2 state machine (contracts/StakePool.sol) gives, per state, what anyone
 * may call once the state's deadline has passed (`block.timestamp > deadline`):
 *
 * | state            | before the deadline                         | after it (anyone)   |
 * |------------------|---------------------------------------------|---------------------|
 * | Open             | the generator may commit                    | `cancel`            |
 * | Committed        | the user may challenge                      | `finalize`          |
 * | Verifying        | the drawn verifier may submit               | `timeoutVerifier`   |
 * | Answering        | answers, then the verifier reveals          | `timeoutVerifier`   |
 * | AwaitingVerifier | `drawVerifiers` (when the draw queue can move) | `timeoutDraw`     |
 * | final states     | —                                           | —                   |
 *
 * - `planJob(client, jobId)`: what is due now, or what becomes due when (chain time and wall time).
 * - `advanceJob(client, jobId)`: do the due step (one transaction) and say what it did.
 * - `Keeper`: every `tick()` advances each due job of the pool; it tracks the jobs that are not
 *   final (new ones from `nextJobId`) and reads a job again only when its cached deadline has passed
 *   or every `refreshEvery` ticks, so a tick costs a few calls, not one per job ever opened. Outside
 *   a draw epoch it also sends `syncPending` when verifiers wait for synchronisation (`syncBatch`), so
 *   draw weights follow bonds, unbonds and locked stakes without anyone noticing (unpaid: one cheap
 *   transaction per tick at most, and only when something waits). A ready draw epoch is left to its
 *   picks for a grace (`drawGraceS`) before the keeper draws it, as the verifier workers do;
 *   `advanceJob` (`poc job advance`, an explicit request) draws at once.
 */
import { FINAL_STATES, JobState } from "../chain/state.js";
import { ContractRevertError, DrawGrace, describeError, type PoolClient, type TxResult } from "../chain/index.js";
import { AFTER_DEADLINE } from "../chain/next-actions.js";
import { clocksAt, when } from "../chain/clock.js";
import { PocError } from "../errors.js";

export class KeeperError extends PocError {
  override name = "KeeperError";
}

export type KeeperAction = "cancel" | "finalize" | "timeoutVerifier" | "timeoutDraw" | "drawVerifiers";

export interface JobPlan {
  jobId: bigint;
  state: JobState;
  /** The step that can be sent now, if any. */
  due?: KeeperAction;
  /** The step that becomes due later, and from when (unix seconds of chain time: the first block after the deadline). */
  next?: { action: KeeperAction; at: number };
  /** Chain time when planned: the latest block's, or the wall clock when that is later (the next block's time). */
  chainNow: number;
  /** One line for people. */
  summary: string;
}

/** The permissionless step after each state's deadline (shared with `nextActions`, offchain/chain/next-actions.ts). */
const ACTION_AFTER_DEADLINE: Partial<Record<JobState, KeeperAction>> = AFTER_DEADLINE;

const WHAT: Record<KeeperAction, string> = {
  cancel: "cancel (the generator did not commit: the user is refunded)",
  finalize: "finalize (no challenge: the generator is paid)",
  timeoutVerifier: "timeoutVerifier (the drawn verifier did not answer: its stake goes to the treasury, the stage is drawn again)",
  timeoutDraw: "timeoutDraw (no verifier was drawn in time: stage 1 settles as Unverified, later stages as a stalemate)",
  drawVerifiers: "drawVerifiers (advance the draw queue)",
};

/** What is due for `jobId` now, or next. */
export async function planJob(client: PoolClient, jobId: bigint): Promise<JobPlan> {
  const [job, head, next] = await Promise.all([client.getJob(jobId), client.latestBlock(), client.nextJobId()]);
  // The next block's time: at least the latest block's, and on a node that mines only on
  // transactions (or whose clock was moved ahead) never earlier than the wall clock.
  const clocks = clocksAt(head.timestamp);
  const now = clocks.chain;
  if (jobId < 1n || jobId >= next) throw new KeeperError(`no job ${jobId} in pool ${client.address} (jobs are 1..${next - 1n})`);
  const base = { jobId, state: job.state, chainNow: now };
  if (FINAL_STATES.has(job.state)) return { ...base, summary: `job ${jobId} is ${JobState[job.state]}: final, nothing to do` };
  const after = ACTION_AFTER_DEADLINE[job.state];
  if (!after) return { ...base, summary: `job ${jobId} is ${JobState[job.state]}: nothing a keeper can do` };
  if (now > job.deadline) return { ...base, due: after, summary: `job ${jobId} is ${JobState[job.state]} and its deadline ${when(job.deadline, clocks)} has passed: ${WHAT[after]} is due` };
  const at = job.deadline + 1;
  if (job.state === JobState.AwaitingVerifier) {
    const e = await client.drawEpoch();
    if (e.frozen || e.head < e.tail) {
      return { ...base, due: "drawVerifiers", next: { action: after, at }, summary: `job ${jobId} stage ${job.stage} waits for a draw: ${WHAT.drawVerifiers} may move it; ${after} is due from ${when(at, clocks)}` };
    }
  }
  const who =
    job.state === JobState.Open
      ? "the generator may commit"
      : job.state === JobState.Committed
        ? "the user may challenge"
        : job.state === JobState.Verifying || job.state === JobState.Answering
          ? `the verifier of stage ${job.stage} may ${job.state === JobState.Answering ? "reveal its result" : "submit"}`
          : `stage ${job.stage} waits for a draw`;
  return { ...base, next: { action: after, at }, summary: `job ${jobId} is ${JobState[job.state]}: ${who} until ${when(job.deadline, clocks)}; then ${WHAT[after]}` };
}

export interface AdvanceResult {
  plan: JobPlan;
  /** The step sent, its transaction and a line saying what it did (undefined: nothing was due, or the step was refused as "not yet"). */
  done?: { action: KeeperAction; tx: TxResult; summary: string };
  /** Set when the due step turned out not to be possible yet (e.g. the draw's randomness is pending). */
  notYet?: string;
}

function send(client: PoolClient, action: KeeperAction, jobId: bigint): Promise<TxResult> {
  switch (action) {
    case "cancel":
      return client.cancel(jobId);
    case "finalize":
      return client.finalize(jobId);
    case "timeoutVerifier":
      return client.timeoutVerifier(jobId);
    case "timeoutDraw":
      return client.timeoutDraw(jobId);
    case "drawVerifiers":
      return client.drawVerifiers(16);
  }
}

/** What a transaction of the keeper did, from its events. */
export function describeAdvance(action: KeeperAction, jobId: bigint, tx: TxResult): string {
  const parts: string[] = [];
  for (const e of tx.events) {
    if (e.name === "JobCancelled") parts.push(`job ${e.jobId} cancelled, user refunded`);
    else if (e.name === "JobFinalized") parts.push(`job ${e.jobId} finalized`);
    else if (e.name === "JobSettled") parts.push(`job ${e.jobId} settled as ${JobState[Number(e.outcome)] ?? e.outcome}`);
    else if (e.name === "VerifierTimedOut") parts.push(`job ${e.jobId} stage ${e.stage}: verifier ${e.verifier} timed out`);
    else if (e.name === "DrawQueued") parts.push(`job ${e.jobId} stage ${e.stage} queued for a draw`);
    else if (e.name === "DrawEpochStarted") parts.push("a draw epoch started (randomness requested)");
    else if (e.name === "VerifierAssigned") parts.push(`job ${e.jobId} stage ${e.stage}: verifier ${e.verifier} drawn`);
    else if (e.name === "VerifierUnavailable") parts.push(`job ${e.jobId} stage ${e.stage}: nobody eligible, queued again`);
  }
  return `${action}(${action === "drawVerifiers" ? "16" : `job ${jobId}`}) in block ${tx.blockNumber} (tx ${tx.hash})${parts.length ? `: ${parts.join("; ")}` : ""}`;
}

/** Send the step due for `jobId`, if any (one transaction). */
export async function advanceJob(client: PoolClient, jobId: bigint): Promise<AdvanceResult> {
  const plan = await planJob(client, jobId);
  if (!plan.due) return { plan };
  if (!client.signer) throw new KeeperError(`${plan.summary}: to send it, pass --account N (a local node's account) or set POC_PRIVATE_KEY`);
  try {
    const tx = await send(client, plan.due, jobId);
    return { plan, done: { action: plan.due, tx, summary: describeAdvance(plan.due, jobId, tx) } };
  } catch (e) {
    if (e instanceof ContractRevertError) {
      // The normal "not yet" answers, found by the gas estimate before anything is sent.
      if (e.errorName === "StakePoolRandomnessPending") return { plan, notYet: "the draw's randomness exists only from a later block (a node that mines only on transactions needs a block first)" };
      if (e.errorName === "StakePoolNothingToDraw") return { plan, notYet: "nothing to draw" };
      if (e.errorName === "StakePoolDeadlineNotReached") return { plan, notYet: `the deadline has not passed in the next block yet (${describeError(e)})` };
      if (e.errorName === "StakePoolWrongState") return { plan, notYet: `the job moved on meanwhile (${describeError(e)})` };
    }
    throw e;
  }
}

export interface KeeperOptions {
  /** Re-read every tracked job this often (ticks), whatever its cached deadline (default 10). */
  refreshEvery?: number;
  /** Called for each step sent (and each refusal of a due step). */
  onAdvance?: (r: AdvanceResult) => void;
  /** Called when a job fails to advance for another reason. */
  onError?: (jobId: bigint, e: unknown) => void;
  /**
   * Verifiers synchronised per tick with `syncPending` when some wait outside a draw epoch (default 16;
   * 0: never). Bonds, unbonds and stakes locked during epochs reach the draw weights only through a
   * sync, and only a draw epoch's start syncs anyone by itself.
   */
  syncBatch?: number;
  /** Called after each `syncPending` sent: how many waited, and the transaction. */
  onSync?: (r: { pending: number; tx: TxResult }) => void;
  /** Called when `syncPending` fails. */
  onSyncError?: (e: unknown) => void;
  /**
   * Seconds (chain time) a draw epoch's randomness must have existed before the keeper draws it
   * (default: a quarter of the pool's draw window; 0: at once). Until then each pick draws its own
   * stage in its commitResult (the verifier workers' flow), which saves the draw's transaction.
   */
  drawGraceS?: number;
}

/** Advances every due job of a pool, one `tick()` at a time (module comment). */
export class Keeper {
  /** Jobs that are not final: their cached deadline (chain seconds). */
  readonly #open = new Map<bigint, number>();
  #nextJobId = 1n;
  #ticks = 0;
  /** Steps sent since the start. */
  sent = 0;
  /** syncPending transactions sent since the start. */
  syncs = 0;

  readonly #grace: DrawGrace;

  constructor(
    readonly client: PoolClient,
    readonly o: KeeperOptions = {},
  ) {
    this.#grace = new DrawGrace(client, o.drawGraceS);
  }

  /** Jobs tracked (not final when last read). */
  get tracked(): number {
    return this.#open.size;
  }

  async tick(): Promise<number> {
    const c = this.client;
    const refresh = this.#ticks++ % (this.o.refreshEvery ?? 10) === 0;
    const [next, block, epoch] = await Promise.all([c.nextJobId(), c.latestBlock(), c.drawEpoch()]);
    const head = { timestamp: Math.max(block.timestamp, Math.floor(Date.now() / 1000)) };
    for (let id = this.#nextJobId; id < next; id++) this.#open.set(id, 0); // 0: read it now
    this.#nextJobId = next;
    // within the grace a ready epoch is left to its picks' own commitResult
    const drawable = epoch.frozen ? (await this.#grace.left(epoch.requestId, block.timestamp)) === 0 : epoch.head < epoch.tail;
    let sent = 0;
    let drew = false;
    for (const [id, deadline] of [...this.#open]) {
      if (!refresh && deadline !== 0 && head.timestamp <= deadline && !drawable) continue;
      try {
        const job = await c.getJob(id);
        if (FINAL_STATES.has(job.state)) {
          this.#open.delete(id);
          continue;
        }
        this.#open.set(id, job.deadline);
        const overdue = head.timestamp > job.deadline && ACTION_AFTER_DEADLINE[job.state] !== undefined;
        const wantsDraw = job.state === JobState.AwaitingVerifier && drawable && !drew;
        if (!overdue && !wantsDraw) continue;
        const r = await advanceJob(c, id);
        if (r.done?.action === "drawVerifiers" || r.notYet?.includes("randomness")) drew = true; // one draw per tick covers every queued stage
        if (r.done) {
          sent++;
          this.sent++;
        }
        if (r.done || r.notYet) this.o.onAdvance?.(r);
        if (r.done) {
          const again = await c.getJob(id);
          if (FINAL_STATES.has(again.state)) this.#open.delete(id);
          else this.#open.set(id, again.deadline);
        }
      } catch (e) {
        this.o.onError?.(id, e);
      }
    }
    await this.#syncPending(epoch.frozen);
    return sent;
  }

  /** Outside a draw epoch, synchronise the verifiers that wait (weights follow bonds and locks). */
  async #syncPending(frozen: boolean): Promise<void> {
    const batch = this.o.syncBatch ?? 16;
    if (batch <= 0 || frozen || !this.client.signer) return;
    try {
      const pending = await this.client.pendingSyncs();
      if (pending === 0) return;
      const tx = await this.client.syncPending(batch);
      this.syncs++;
      this.o.onSync?.({ pending, tx });
    } catch (e) {
      this.o.onSyncError?.(e);
    }
  }
}
