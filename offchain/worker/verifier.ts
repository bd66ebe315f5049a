/**
 * The verifier worker (oracle): declares the models it can replay, keeps its bond up (re-bonding its
 * payouts), advances the pool's draw queue, watches for its own assignments, replays each challenged
 * job and submits the match bitmap before the deadline. Rules and the state file: README.md.
 *
 *   const w = await startVerifierWorker({ client, modelsDir, stateDir });
 *   await w.idle();   // every assignment up to the current block handled
 *   await w.stop();
 *
 * Per assignment (job j, stage k):
 * 1. On-chain first: `getStage(j, k)` — not ours any more (a timeout replaced us), already
 *    submitted (e.g. before a crash), or no-show → done, nothing sent. A recorded transaction is
 *    waited for instead of sending another.
 * 2. The job: JobOpened (model id, requestHash/requestUri) and JobCommitted (receipt root, numChecks,
 *    receipt URI), read once and kept in the state file.
 * 3. The receipt: from the given store, the worker's cache (`<state>/receipts`) or the commit's URI
 *    (http(s), file, path), then `receiptMirrors`; http(s) requests are signed as the job's drawn
 *    verifier (`Authorization: PoC …`, docs/NETWORK.md); retried within a budget well inside the
 *    deadline, checked against the committed root. Unfetchable, not matching the root, malformed,
 *    or not answering the job (model id, request hash, sampler seed, numChecks) → the generator's
 *    fault: the all-zero bitmap.
 * 4. The model by id from the models directory; missing → logged loudly and, while the pool still
 *    allows it (the first quarter of the verify window), the assignment is declined for the small
 *    decline fee (`declineUnservable`); otherwise nothing is submitted (the assignment times out and
 *    the locked stake is forfeited to the treasury), retried every `modelRetryMs` until the deadline in
 *    case the operator adds it.
 * 5. Replay (`verifyReceipt` with the stage's fingerprint seed) → the canonical bitmap and the replay's
 *    fingerprint, saved in the state file with a fresh salt. First the one-transaction stage
 *    (`oneTxStages`, docs/PROTOCOL.md "One-transaction stages"): the commitment, signed, to the
 *    generator's server; a matching answer signed by the generator → `submitResult` and done.
 *    Otherwise `commitResult` (the same commitment),
 *    a wait until the generator's answer matches our fingerprint, or every earlier party answered
 *    the seed, or the answer deadline passed, and `revealResult` (docs/PROTOCOL.md "Replay
 *    fingerprints"). Nonces and hashes are recorded as they become known; a restart continues from
 *    the recorded step.
 * 6. Afterwards, while the job is open: when a later stage's verifier commits, replay that stage's
 *    seed (one more prefill of the receipt) once the generator answered it or half the answer phase
 *    passed, and answer (`answerFingerprint`) only when the generator's answer is missing or farther
 *    than the tolerance from ours: the generator's answer counts for a confirmation of our dissent
 *    too, so an honest generator's answer saves our transaction, and a false one cannot block it.
 *
 * Around the assignments, on every poll: the draw queue is advanced (`drawVerifiers` when an epoch's
 * randomness may be ready or stages wait; "randomness pending" and "nothing to draw" are normal
 * answers, found by the gas estimate without sending anything), the verifier's own pending changes
 * are synchronised outside draw epochs (`sync`), and the bond is topped up — from the credit first
 * (`bondFromCredit`), then from the wallet — when it falls below the pool's minimum bond.
 */
import { ZeroHash, formatUnits, getAddress, hexlify, keccak256, type Signer } from "ethers";
import { PocError } from "../errors.js";
import type { LoadOptions } from "../model/index.js";
import {
  ReceiptFormatError,
  ReceiptMismatchError,
  ReceiptNotFoundError,
  ReceiptStore,
  decodeReceipt,
  fetchReceipt,
  numChecks as receiptNumChecks,
  receiptUrl,
  type Receipt,
} from "../receipt/index.js";
import { checkReceiptAgainstJob, fetchJobRequest, requestFromReceipt, samplerSeedFor } from "../request/index.js";
import { chatPromptMismatch, openChatModel } from "../model/chat.js";
import { VerifyAbortedError, verifyReceipt, type VerifyOptions } from "../verify/index.js";
import {
  ContractRevertError,
  DrawGrace,
  PoolClient,
  StageStatus,
  TxUncertainError,
  answerStatement,
  commitmentStatement,
  describeError,
  newSalt,
  resultCommitment,
  statementSigner,
  sleep,
  type PoolEventOf,
  type TxOptions,
  type TxResult,
} from "../chain/index.js";
import { FINAL_STATES, JobState } from "../chain/state.js";
import { FINGERPRINT_TOLERANCE, fingerprintDistance, fingerprintsMatch, replayFingerprints } from "../fingerprint/index.js";
import { createLogger, type Logger } from "./log.js";
import { signAccess } from "../transport/auth.js";
import { generatorBaseUrl, requestStageAnswer } from "../transport/generator-client.js";
import { ModelDirectory, ModelNotAvailableError, type ModelSource } from "./models.js";
import { WorkQueue, Mutex } from "./queue.js";
import { VerifierStateFile, stateFileName, type JobRecord } from "./state.js";
import { acquireStateLock, type StateLock } from "./lock.js";
import { RateLimiter } from "./rate-limit.js";
import { ChainChangedError, bindStateFile, compareIdentity, readChainIdentity, type IdentityChange } from "./chain-identity.js";

export interface VerifierWorkerOptions {
  /** The pool client; its signer is the verifier (or pass `signer`). */
  client: PoolClient;
  /** The verifier's signer (default: the client's). */
  signer?: Signer;
  /** Directory of model directories (each subdirectory one model, found by its model id). */
  modelsDir?: string;
  /** Or a ready model source (e.g. LoadedModels in a demo); takes precedence over modelsDir. */
  models?: ModelSource;
  /** onnxruntime options for models loaded from modelsDir. */
  loadOptions?: LoadOptions;
  /** Where the progress file (and the receipt cache) live. */
  stateDir: string;
  /** A receipt store (or its directory) looked up before the commit's URI. */
  store?: ReceiptStore | string;
  /** Poll interval for new assignments (default 2000 ms). */
  pollMs?: number;
  /** Jobs replayed at once (default 1: replays are CPU-heavy). */
  concurrency?: number;
  /** First block ever scanned (default: the pool's deployment block): assignments before it are ignored. */
  fromBlock?: number;
  /** Blocks re-scanned on every poll and restart, for re-orgs (default 12). */
  reorgOverlap?: number;
  /** Keep the bond at the pool's minimum (or `bondAmount`): re-bond the credit, then bond from the wallet (default true). */
  autoBond?: boolean;
  /** The bond to keep when topping up (default: the pool's minBond). */
  bondAmount?: bigint;
  /** Top up from the credit (bondFromCredit) before the wallet (default true). */
  rebondCredit?: boolean;
  /** Declare the models of `modelsDir` / `models` with setModels when the declared list differs (default true). */
  declareModels?: boolean;
  /** Advance the pool's draw queue (drawVerifiers) and sync the verifier's own weights (default true). */
  advanceDraws?: boolean;
  /** Queued stages one drawVerifiers call draws at most (default 16). */
  drawBatch?: number;
  /**
   * Seconds (chain time) a draw epoch's randomness must have existed before this worker draws the
   * epoch for others (default: a quarter of the pool's draw window). Until then each pick draws its
   * own stage in its commitResult, which saves the draw's transaction; after it, anyone's draw makes
   * sure a pick that does not show up is locked in and can be timed out.
   */
  drawGraceS?: number;
  /** Look for our own picks of pending draws and draw them in our commitResult (default true). */
  selfDraw?: boolean;
  /**
   * Settle each stage in one transaction (submitResult) when the generator answers our commitment
   * off-chain (its server's `POST /v1/jobs/{id}/answer`) with a matching fingerprint (default true);
   * otherwise, and when false, commit and reveal.
   */
  oneTxStages?: boolean;
  /** Longest wait for the generator's off-chain answer (default 30 s; never more than a quarter of the time left before the deadline). */
  answerTimeoutMs?: number;
  /**
   * A pick's submitResult that would use more gas than this (its own draw included) is split when
   * its entry is the next to draw: drawVerifiers(1) first, then submitResult (default 150,000, the
   * pool's per-transaction target; 0: never split).
   */
  maxTxGas?: number;
  /** Decline an assignment whose model is missing while the pool still allows it (default true). */
  declineUnservable?: boolean;
  /** Local development chain (31337) only: mine a block when the draw randomness is pending (a node that mines only on transactions). */
  devMine?: boolean;
  /** Longest time spent fetching one receipt (default 120 s; never more than a quarter of the time left). */
  fetchBudgetMs?: number;
  /**
   * Receipt servers tried after the commit's URI, in order (e.g. the user's copy: `poc receipts serve
   * --store`): base URLs (`<base>/receipts/<root>?job=<id>` is fetched) or local paths. Same
   * signature, same check against the committed root.
   */
  receiptMirrors?: readonly string[];
  /** How often a job whose model is missing looks again (default 30 s). */
  modelRetryMs?: number;
  /** Options for verifyReceipt (chunk size, tolerances, early stop). */
  verifyOptions?: Omit<VerifyOptions, "signal" | "expectedRoot" | "onProgress" | "strict" | "collectSamples">;
  logger?: Logger;
  /** Stops the worker like stop(). */
  signal?: AbortSignal;
  /** Tests only: aborting it is a simulated crash, like kill() (synchronous: nothing is recorded after it). */
  crashSignal?: AbortSignal;
  /**
   * Demos and tests only: replace the bitmap before it is submitted (a dishonest verifier). The
   * returned bytes must have the right length.
   */
  tamperResult?: (job: { jobId: bigint; stage: number; numChecks: number; bitmap: Uint8Array }) => Uint8Array;
  /**
   * Run after every poll, serialised with the worker's own transactions (same account, so no nonce
   * races): e.g. the keeper (offchain/keeper) advancing due jobs. Its errors are logged, not fatal.
   */
  afterPoll?: () => Promise<void>;
}

export interface VerifierWorkerStats {
  assignments: number;
  submitted: number;
  generatorFaults: number;
  skipped: number;
  waitingModel: number;
  /** drawVerifiers transactions this worker sent. */
  draws: number;
  /** Assignments this worker found as the pick of a pending draw (drawn in its own commitResult unless someone drew first). */
  selfDraws: number;
  /** bondFromCredit / bond top-ups sent. */
  rebonds: number;
}

export interface VerifierWorker {
  /** The verifier's address. */
  readonly address: string;
  /** The state file. */
  readonly statePath: string;
  /** Resolves once a poll started after the call has finished and no job is queued or running (jobs waiting for a missing model, or only for earlier verifiers' fingerprint answers, do not count). */
  idle(): Promise<void>;
  /** Graceful stop: no new polls, replays aborted (they resume on restart), state saved, models released. */
  stop(): Promise<void>;
  /** A simulated crash (tests): nothing more is written to the state file; in-flight work is aborted. */
  kill(): Promise<void>;
  stats(): VerifierWorkerStats;
  /** Resolves when the worker has stopped (by stop(), kill() or the signal). */
  readonly done: Promise<void>;
  /** Set when the worker stopped because the chain or the pool changed under it (node restarted, pool redeployed or gone). */
  chainChange(): IdentityChange | undefined;
}

const DEFAULTS = {
  pollMs: 2000,
  concurrency: 1,
  reorgOverlap: 12,
  fetchBudgetMs: 120_000,
  modelRetryMs: 30_000,
};

/** How a job ended (the `outcome` field of its record). */
export type JobOutcome =
  | "submitted"
  | "already-submitted"
  | "superseded"
  | "no-show"
  | "declined"
  | "deadline-passed"
  | "not-verifying"
  | "settled"
  | "failed";

class Stopped extends Error {}

/** A record of a pick we gave up before it was drawn (e.g. its model is missing): nothing was locked, and a later draw of the stage is a new assignment. */
function pickGivenUp(rec: JobRecord | undefined): boolean {
  return rec !== undefined && rec.selfDraw === true && rec.status === "done" && !rec.commit;
}

/** Start a verifier worker (module comment). Bonds first when needed. */
export async function startVerifierWorker(options: VerifierWorkerOptions): Promise<VerifierWorker> {
  const client = options.signer ? options.client.connect(options.signer) : options.client;
  const me = await client.account();
  const log = (options.logger ?? createLogger({ name: me.slice(0, 10) })).child({ verifier: me });
  if (!options.models && !options.modelsDir) throw new PocError("startVerifierWorker: give modelsDir or models");
  const concurrency = options.concurrency ?? DEFAULTS.concurrency;
  const models: ModelSource =
    options.models ?? new ModelDirectory(options.modelsDir!, { ...(options.loadOptions ? { load: options.loadOptions } : {}), maxLoaded: Math.max(2, concurrency) });
  const ownModels = !options.models;
  const store = typeof options.store === "string" ? new ReceiptStore(options.store) : options.store;
  const lock = await acquireStateLock(options.stateDir, "verifier", me);
  try {
    if (lock.tookOver !== undefined) log.warn("lock-taken-over", `took over the lock ${lock.path} of a worker that is gone (pid ${lock.tookOver})`, { pid: lock.tookOver });
    const identity = await readChainIdentity(client);
    const bound = await bindStateFile(`${options.stateDir}/${stateFileName(client.chainId, client.address, me)}`, identity, client);
    if (bound.change) log.warn("state-reset", `${bound.change.message}: the old state was moved to ${bound.movedTo}; starting a fresh state`, { change: bound.change.kind, movedTo: bound.movedTo });
    const state = await VerifierStateFile.open(options.stateDir, { chainId: client.chainId, pool: client.address, verifier: me });
    if (!state.data.identity) {
      state.data.identity = identity;
      await state.save();
    }
    const cache = new ReceiptStore(`${options.stateDir}/receipts`);
    const w = new Worker(client, me, log, models, ownModels, store, cache, state, options, lock);
    await w.start();
    return w.handle();
  } catch (e) {
    await lock.release();
    if (ownModels) await models.close().catch(() => {});
    throw e;
  }
}

class Worker {
  readonly #abort = new AbortController();
  readonly #queue: WorkQueue;
  readonly #txMutex = new Mutex();
  readonly #pollMutex = new Mutex();
  readonly #inQueue = new Set<string>();
  readonly #timers = new Map<string, NodeJS.Timeout>();
  readonly #tasks = new Set<Promise<unknown>>();
  readonly #stats: VerifierWorkerStats = { assignments: 0, submitted: 0, generatorFaults: 0, skipped: 0, waitingModel: 0, draws: 0, selfDraws: 0, rebonds: 0 };
  #polls = 0;
  #stopped = false;
  #chainChange: IdentityChange | undefined;
  #loop: Promise<void> = Promise.resolve();
  #wake: (() => void) | undefined;
  #resolveDone!: () => void;
  readonly done = new Promise<void>((ok) => (this.#resolveDone = ok));
  readonly #pollMs: number;
  readonly #overlap: number;

  constructor(
    readonly client: PoolClient,
    readonly me: string,
    readonly log: Logger,
    readonly models: ModelSource,
    readonly ownModels: boolean,
    readonly store: ReceiptStore | undefined,
    readonly cache: ReceiptStore,
    readonly state: VerifierStateFile,
    readonly o: VerifierWorkerOptions,
    readonly lock?: StateLock,
  ) {
    this.#queue = new WorkQueue(o.concurrency ?? DEFAULTS.concurrency);
    this.#grace = new DrawGrace(client, o.drawGraceS);
    this.#pollMs = o.pollMs ?? DEFAULTS.pollMs;
    this.#overlap = o.reorgOverlap ?? DEFAULTS.reorgOverlap;
    o.signal?.addEventListener("abort", () => void this.stop(), { once: true });
    o.crashSignal?.addEventListener("abort", () => void this.kill(), { once: true });
  }

  handle(): VerifierWorker {
    return {
      address: this.me,
      statePath: this.state.path,
      idle: () => this.idle(),
      stop: () => this.stop(),
      kill: () => this.kill(),
      stats: () => ({ ...this.#stats }),
      done: this.done,
      chainChange: () => this.#chainChange,
    };
  }

  get #signal(): AbortSignal {
    return this.#abort.signal;
  }

  async start(): Promise<void> {
    const s = this.state.data;
    this.log.info("start", `verifier worker ${this.me} on pool ${this.client.address} (chain ${this.client.chainId}); state ${this.state.path}`, {
      pool: this.client.address,
      chainId: this.client.chainId,
      lastBlock: s.lastBlock,
    });
    this.#decimals = await this.client.tokenDecimals();
    if (this.o.declareModels ?? true) await this.declareModels();
    if (this.o.autoBond ?? true) await this.ensureBond("start");
    for (const [key, j] of Object.entries(s.jobs)) {
      if (j.status === "done") continue;
      this.log.info("resume", `job ${j.jobId} stage ${j.stage}: resuming after a restart${j.txs.length ? ` (${j.txs.length} transaction(s) recorded)` : ""}`, {
        jobId: j.jobId,
        stage: j.stage,
      });
      this.#enqueue(key);
    }
    this.#loop = this.#run();
  }

  // ----------------------------------------------------------------------------------------------
  // Bond
  // ----------------------------------------------------------------------------------------------

  /** Top the bond up after the current transaction (all transactions of this account are serialised). */
  #topUpLater(when: string): void {
    const p = this.#txMutex.run(() => this.ensureBond(when));
    this.#tasks.add(p);
    void p.finally(() => this.#tasks.delete(p));
  }

  #decimals = 18;
  readonly #quiet = new RateLimiter(Number.POSITIVE_INFINITY);
  /** Token units as whole tokens (for messages; fields keep base units). */
  #fmt(v: bigint): string {
    const t = formatUnits(v, this.#decimals);
    return t.endsWith(".0") ? t.slice(0, -2) : t;
  }

  /** Declare the models the source holds when the on-chain list differs (an empty source declares nothing: that is an operator error). */
  async declareModels(): Promise<void> {
    if (this.#stopped) return;
    try {
      const ids = (await this.models.list()).map((m) => m.toLowerCase()).slice(0, 8);
      const b = await this.client.bondOf(this.me);
      if (ids.length === 0) {
        this.log.error("no-models", `no model found to replay: not declaring any (declared on-chain: ${b.models.join(", ") || "none"}); this verifier is drawn only for models it declared`, {
          declared: b.models,
        });
        return;
      }
      const same = ids.length === b.models.length && ids.every((m) => b.models.includes(m));
      if (same) return;
      const r = await this.client.setModels(ids);
      this.log.info("models-set", `declared ${ids.length} model(s): ${ids.join(", ")} (tx ${r.hash})`, { models: ids, tx: r.hash });
    } catch (e) {
      if (this.#stopped) return;
      this.log.error("models-failed", `could not declare the models: ${describeError(e)}`, { error: describeError(e) });
    }
  }

  /**
   * Keep the bond (free + pending) at the target (`bondAmount`, at least minBond): first from the
   * credit (payouts of jobs; only when the result reaches minBond, as the pool requires), then from the
   * wallet. A bond below minBond has no draw weight; every job's βCv is at most minBond.
   */
  async ensureBond(when: string): Promise<void> {
    if (this.#stopped) return;
    try {
      const [{ params }, b] = await Promise.all([this.client.params(), this.client.bondOf(this.me)]);
      const target = this.o.bondAmount !== undefined && this.o.bondAmount > params.minBond ? this.o.bondAmount : params.minBond;
      let have = b.bond + b.pendingBond;
      if (have >= target) return;
      const f = (v: bigint) => this.#fmt(v);
      if (this.o.rebondCredit ?? true) {
        const credit = await this.client.creditOf(this.me);
        const amount = credit < target - have ? credit : target - have;
        if (amount > 0n && have + amount >= params.minBond) {
          const r = await this.client.bondFromCredit(amount);
          this.#stats.rebonds++;
          have += amount;
          this.log.info("rebonded", `bonded ${f(amount)} of the credit (${when}); bond now ${f(have)} (tx ${r.hash})`, { amount, tx: r.hash, fromCredit: true });
          if (have >= target) return;
        }
      }
      const amount = target - have;
      const balance = await this.client.tokenBalance(this.me);
      if (balance < amount) {
        // Once per situation (bond and wallet), not on every periodic check.
        if (!this.#quiet.allow(`bond-short:${have}:${balance}`)) return;
        this.log.warn("bond-short", `bond ${f(have)} is below ${f(target)} and the wallet holds only ${f(balance)} (needs ${f(amount)}): not bonding${have < params.minBond ? " — below the minimum bond this verifier has no draw weight and is not drawn" : ""}; fund the wallet, or bond by hand: npx poc verifier bond ${f(amount)} --account … (said again only when the bond or the wallet changes)`, {
          bond: have,
          minBond: params.minBond,
          balance,
        });
        return;
      }
      await this.client.approveIfNeeded(amount);
      const r = await this.client.bond(amount);
      this.#stats.rebonds++;
      this.log.info("bonded", `bonded ${this.#fmt(amount)} (${when}); bond now ${this.#fmt(have + amount)} (tx ${r.hash})`, { amount, tx: r.hash });
    } catch (e) {
      if (this.#stopped) return;
      this.log.error("bond-failed", `could not bond: ${describeError(e)}`, { error: describeError(e) });
    }
  }

  /**
   * Advance the draw queue: drawVerifiers when an epoch is running (its randomness may be ready) or
   * stages wait outside one; then, outside an epoch, sync this verifier's own pending changes. Returns
   * whether a draw transaction was sent.
   */
  async advanceDraws(): Promise<boolean> {
    if (this.#stopped) return false;
    const c = this.client;
    let sent = false;
    try {
      const e = await c.drawEpoch();
      // a node that mines only on transactions: mine the block whose hash the word is
      if (e.frozen && this.o.devMine && c.chainId === 31337n && !(await c.drawReady())) await c.devMine();
      if (e.frozen && (await this.#inGrace(e.requestId))) {
        // the picks draw their own stages in their commitResult for now
      } else if (e.frozen || e.head < e.tail) {
        let r = await c.tryDrawVerifiers(this.o.drawBatch ?? 16);
        if (r.kind === "pending" && this.o.devMine && c.chainId === 31337n) {
          await c.devMine();
          r = await c.tryDrawVerifiers(this.o.drawBatch ?? 16);
        }
        if (r.kind === "sent") {
          sent = true;
          this.#stats.draws++;
          const assigned = r.tx.events.filter((x) => x.name === "VerifierAssigned").length;
          const again = r.tx.events.filter((x) => x.name === "VerifierUnavailable").length;
          const started = r.tx.events.some((x) => x.name === "DrawEpochStarted");
          this.log.info("drew", `advanced the draw queue (tx ${r.tx.hash}): ${started ? "started a draw epoch" : `${assigned} verifier(s) drawn${again ? `, ${again} stage(s) found nobody and wait for the next epoch` : ""}`}`, {
            tx: r.tx.hash,
            assigned,
            unavailable: again,
            started,
          });
        } else if (r.kind === "pending") this.log.debug("draw-pending", `draw randomness pending (request ${r.requestId})`, { requestId: r.requestId });
      }
      if (!(await c.drawEpoch()).frozen && (await c.bondOf(this.me)).needsSync) {
        const r = await c.sync(this.me);
        const ev = r.events.find((x) => x.name === "VerifierSynced");
        this.log.debug("synced", `synced our draw weights (tx ${r.hash}): weight ${ev && ev.name === "VerifierSynced" ? this.#fmt(ev.weight) : "?"}`, { tx: r.hash });
      }
    } catch (e) {
      if (this.#stopped) return sent;
      // Another worker's transaction can win the race between our estimate and our inclusion.
      this.log.warn("draw-failed", `advancing the draw queue failed (will retry): ${describeError(e)}`, { error: describeError(e) });
    }
    return sent;
  }

  readonly #grace: DrawGrace;

  /**
   * Whether the running epoch's randomness exists but for less than the grace (`drawGraceS`): then we
   * leave its draws to the picks' own commitResult. False while it is pending (drawVerifiers says so).
   */
  async #inGrace(requestId: bigint): Promise<boolean> {
    const left = await this.#grace.left(requestId, (await this.client.latestBlock()).timestamp);
    if (left > 0 && this.#quiet.allow(`draw-grace:${requestId}`)) this.log.debug("draw-grace", `draw randomness ready: leaving the draws to their picks for ${left} s (until ${iso(this.#grace.until!)}), then drawing for any that did not draw`, { requestId, left });
    return left > 0;
  }

  /**
   * Our picks of the running draw epoch. For each stage waiting for a draw (DrawQueued, recorded by
   * scan), a simulated commitResult (PoolClient `drawPick`) says whether the draw picks us; a pick
   * becomes an assignment at once, so the replay starts before anyone draws and our commitResult
   * draws the stage itself (IStakePool `commitResult`: one transaction fewer per stage). Stages no
   * longer waiting are forgotten.
   */
  async claimDraws(): Promise<void> {
    const s = this.state.data;
    const c = this.client;
    const keys = Object.keys(s.queued);
    if (keys.length === 0) return;
    const [e, head] = await Promise.all([c.drawEpoch(), c.latestBlock()]);
    if (!e.frozen || !(await this.#grace.ready(e.requestId, head.timestamp))) return;
    let changed = false;
    for (const key of keys) {
      if (this.#stopped) return;
      const q = s.queued[key]!;
      const jobId = BigInt(q.jobId);
      const job = await c.getJob(jobId);
      const prev = s.jobs[key];
      if (job.state !== JobState.AwaitingVerifier || job.stage !== q.stage || (prev && !pickGivenUp(prev))) {
        delete s.queued[key];
        changed = true;
        continue;
      }
      const pick = await c.drawPick(jobId);
      if (!pick) continue;
      delete s.queued[key];
      changed = true;
      s.jobs[key] = {
        jobId: q.jobId,
        stage: q.stage,
        deadline: job.deadline,
        stake: job.betaCv.toString(),
        fingerprintSeed: pick.seed.toString(),
        assignedBlock: head.number,
        assignedTx: ZeroHash,
        status: "queued",
        txs: [],
        answered: {},
        final: false,
        attempts: 0,
        selfDraw: true,
        updatedAt: new Date().toISOString(),
      };
      this.#stats.assignments++;
      this.#stats.selfDraws++;
      this.log.info("picked", `job ${q.jobId} stage ${q.stage}: the pending draw picks us: replaying now, and our commitResult draws the stage (stake ${this.#fmt(job.betaCv)}, draw deadline ${iso(job.deadline)})`, {
        jobId: q.jobId,
        stage: q.stage,
        deadline: job.deadline,
      });
      this.#enqueue(key);
    }
    if (changed) await this.#save();
  }

  // ----------------------------------------------------------------------------------------------
  // Polling
  // ----------------------------------------------------------------------------------------------

  async #run(): Promise<void> {
    while (!this.#stopped) {
      try {
        await this.#pollMutex.run(() => this.poll());
      } catch (e) {
        if (this.#stopped) break;
        const change = e instanceof ChainChangedError ? e.change : await this.#identityChange();
        if (change) {
          this.#chainChange = change;
          this.log.error("chain-changed", `${change.message}: stopping this worker (its state stays as it is; a restart moves it aside and starts fresh)`, { change: change.kind });
          void this.stop();
          break;
        }
        this.log.warn("poll-failed", `poll failed (will retry): ${describeError(e)}`, { error: describeError(e) });
      }
      if (this.#stopped) break;
      await new Promise<void>((ok) => {
        const t = setTimeout(ok, this.#pollMs);
        this.#wake = () => {
          clearTimeout(t);
          ok();
        };
      });
      this.#wake = undefined;
    }
  }

  /**
   * One poll: record new assignments; advance the draw queue (and record what our own draw assigned
   * to us); every tenth poll, top the bond up.
   */
  async poll(): Promise<void> {
    await this.scan();
    if (this.#stopped) return;
    await this.answerDuties();
    if (this.#stopped) return;
    if (this.o.selfDraw ?? true) await this.claimDraws();
    if (this.#stopped) return;
    if (this.o.advanceDraws ?? true) {
      const drew = await this.#txMutex.run(() => this.advanceDraws());
      if (drew) await this.scan();
    }
    if ((this.o.autoBond ?? true) && ++this.#polls % 10 === 0) await this.#txMutex.run(() => this.ensureBond("periodic check"));
    const after = this.o.afterPoll;
    if (after && !this.#stopped) {
      await this.#txMutex.run(async () => {
        if (this.#stopped) return;
        try {
          await after();
        } catch (e) {
          if (!this.#stopped) this.log.warn("after-poll-failed", `keeper step failed (will retry): ${describeError(e)}`, { error: describeError(e) });
        }
      });
    }
  }

  /** What changed, when the chain or the pool is no longer the one the state belongs to (undefined: the same, or unknown). */
  async #identityChange(): Promise<IdentityChange | undefined> {
    const saved = this.state.data.identity;
    if (!saved) return undefined;
    try {
      return compareIdentity(saved, await readChainIdentity(this.client));
    } catch {
      return undefined; // the node is unreachable: an ordinary poll failure
    }
  }

  /** Record every assignment naming this verifier in [last scanned + 1 − overlap, latest]. */
  async scan(): Promise<void> {
    const s = this.state.data;
    const c = this.client;
    const latest = await c.latestBlock();
    // never below the configured start (the re-org overlap and a rescan included)
    const floor = this.o.fromBlock ?? c.deployBlock;
    let from: number;
    if (s.lastBlock === null) from = floor;
    else {
      const hashThen = s.lastBlock <= latest.number ? await c.blockHash(s.lastBlock) : undefined;
      if (hashThen === undefined || (s.lastBlockHash !== null && hashThen.toLowerCase() !== s.lastBlockHash.toLowerCase())) {
        // A restarted node or a redeployed pool looks like a deep re-org: tell them apart first.
        const change = await this.#identityChange();
        if (change) throw new ChainChangedError(change);
        this.log.warn("reorg", `block ${s.lastBlock} is no longer the one scanned (a deep re-org or a restarted node): rescanning from block ${floor}`, {
          lastBlock: s.lastBlock,
        });
        from = floor;
      } else from = Math.max(floor, s.lastBlock + 1 - this.#overlap);
    }
    if (from > latest.number) return;
    const events = await c.assignmentsOf(this.me, { fromBlock: from, toBlock: latest.number });
    let added = 0;
    for (const e of events) if (this.#record(e)) added++;
    if (this.o.selfDraw ?? true) {
      for (const e of await c.getEvents({ fromBlock: from, toBlock: latest.number, events: ["DrawQueued"] })) {
        if (e.name !== "DrawQueued") continue;
        const key = `${e.jobId}:${e.stage}`;
        const prev = s.jobs[key];
        if (prev && !pickGivenUp(prev)) continue;
        s.queued[key] = { jobId: e.jobId.toString(), stage: e.stage, block: e.blockNumber };
      }
    }
    s.lastBlock = latest.number;
    s.lastBlockHash = latest.hash;
    this.state.prune();
    await this.state.save();
    if (added > 0) this.log.debug("scanned", `blocks ${from}..${latest.number}: ${added} new assignment(s)`, { from, to: latest.number });
  }

  #record(e: PoolEventOf<"VerifierAssigned">): boolean {
    const key = `${e.jobId}:${e.stage}`;
    const prev = this.state.data.jobs[key];
    // A pick we gave up before it was drawn (e.g. its model is missing) that someone drew for us later
    // is a new assignment: our stake is locked now.
    if (prev && !(pickGivenUp(prev) && e.blockNumber > prev.assignedBlock)) return false;
    const rec: JobRecord = {
      jobId: e.jobId.toString(),
      stage: e.stage,
      deadline: e.deadline,
      stake: e.stake.toString(),
      fingerprintSeed: e.fingerprintSeed.toString(),
      assignedBlock: e.blockNumber,
      assignedTx: e.transactionHash,
      status: "queued",
      txs: [],
      answered: {},
      final: false,
      attempts: 0,
      updatedAt: new Date().toISOString(),
    };
    this.state.data.jobs[key] = rec;
    this.#stats.assignments++;
    this.log.info("assigned", `job ${e.jobId} stage ${e.stage}: assigned to us in block ${e.blockNumber}, stake ${this.#fmt(e.stake)}, deadline ${iso(e.deadline)}`, {
      jobId: e.jobId,
      stage: e.stage,
      deadline: e.deadline,
      block: e.blockNumber,
    });
    this.#enqueue(key);
    return true;
  }

  #enqueue(key: string, delayMs = 0): void {
    if (this.#stopped) return;
    if (delayMs > 0) {
      if (this.#timers.has(key)) return;
      const t = setTimeout(() => {
        this.#timers.delete(key);
        this.#enqueue(key);
      }, delayMs);
      t.unref?.();
      this.#timers.set(key, t);
      return;
    }
    if (this.#inQueue.has(key)) return;
    this.#inQueue.add(key);
    // Every job runs at once (fetching, chain calls); only model loads and replays take one of the
    // `concurrency` slots (#replaySlot), so a slow receipt server never holds up other jobs.
    const p = (async () => {
      try {
        await this.#process(key);
      } finally {
        this.#inQueue.delete(key);
      }
    })();
    const tracked = p.catch((e: unknown) => {
      if (e instanceof Stopped || this.#stopped) return;
      // A failure (RPC down past the client's retries, a model runtime error…) is retried with
      // backoff while the job is open; the on-chain checks at the top of #process make that safe.
      const j = this.state.data.jobs[key];
      const delay = Math.min(30_000, this.#pollMs * 2 ** Math.min(8, j?.attempts ?? 1));
      this.log.error("job-error", `job ${key}: ${describeError(e)}; trying again in ${delay} ms`, { key, error: describeError(e), attempt: j?.attempts });
      if (j && j.status !== "done") this.#enqueue(key, delay);
    });
    this.#tasks.add(tracked);
    void tracked.finally(() => this.#tasks.delete(tracked));
  }

  // ----------------------------------------------------------------------------------------------
  // One assignment
  // ----------------------------------------------------------------------------------------------

  async #save(): Promise<void> {
    if (this.state.frozen) throw new Stopped();
    await this.state.save();
  }

  async #finish(j: JobRecord, outcome: JobOutcome, msg: string, level: "info" | "warn" | "error" = "info", fields: Record<string, unknown> = {}): Promise<void> {
    j.status = "done";
    j.outcome = outcome;
    j.detail = msg;
    j.updatedAt = new Date().toISOString();
    await this.#save();
    if (outcome !== "submitted") this.#stats.skipped++;
    this.log[level](`job-${outcome}`, `job ${j.jobId} stage ${j.stage}: ${msg}`, { jobId: j.jobId, stage: j.stage, outcome, ...fields });
  }

  async #process(key: string): Promise<void> {
    const j = this.state.data.jobs[key];
    if (!j || j.status === "done" || this.#stopped) return;
    const c = this.client;
    const jobId = BigInt(j.jobId);
    j.attempts++;

    // 1. On-chain status first: never act on an assignment that is no longer ours to answer.
    if (await this.#settledOnChain(j)) return;

    // Committed on-chain (before a restart, or just now): wait for the answers, then reveal.
    if ((await c.getStage(jobId, j.stage)).status === StageStatus.Committed && !j.txs.some((t) => t.action.startsWith("revealResult"))) {
      await this.#reveal(j);
      return;
    }

    // A transaction recorded before a restart: wait for it rather than sending another.
    const last = j.txs[j.txs.length - 1];
    if (last) {
      if (last.hash) {
        this.log.info("tx-recheck", `job ${j.jobId} stage ${j.stage}: waiting for the recorded transaction ${last.hash} (nonce ${last.nonce})`, { jobId: j.jobId, tx: last.hash });
        try {
          const r = await c.waitForReceipt(last.hash, { timeoutMs: Math.min(60_000, this.#msLeft(j, Date.now() / 1000)), signal: this.#signal });
          if (r.status === 1 && (await this.#settledOnChain(j))) return;
        } catch (e) {
          if (this.#stopped) throw new Stopped();
          this.log.warn("tx-missing", `job ${j.jobId}: the recorded transaction ${last.hash} has no receipt (${describeError(e)}); checking the chain`, { jobId: j.jobId });
        }
      }
      if (await this.#settledOnChain(j)) return;
    }

    // 2. Deadline.
    const head = await c.latestBlock();
    if (head.timestamp >= j.deadline) {
      await this.#finish(j, "deadline-passed", `the deadline ${iso(j.deadline)} has passed (chain time ${iso(head.timestamp)}): nothing submitted; the stake is forfeited when anyone calls timeoutVerifier`, "error");
      return;
    }

    // 3. The job's on-chain record.
    if (!j.opened || !j.committed) {
      const rec = await c.jobRecord(jobId, { fromBlock: c.deployBlock, toBlock: Math.max(j.assignedBlock, c.deployBlock) });
      if (!rec.opened || !rec.committed) throw new PocError(`job ${j.jobId}: no JobOpened/JobCommitted event found up to block ${j.assignedBlock}`);
      j.opened = { modelId: rec.opened.modelId, requestHash: rec.opened.requestHash, requestUri: rec.opened.requestUri };
      j.committed = { receiptRoot: rec.committed.receiptRoot, numChecks: rec.committed.numChecks, receiptUri: rec.committed.receiptUri };
      await this.#save();
    }

    // 4. The result (kept across restarts).
    if (!j.result) {
      const done = await this.#computeResult(j, head.timestamp);
      if (!done) return; // waiting for a model, or stopped
    }

    // 5. One transaction when the generator answers our commitment off-chain; else commit, then
    // reveal once the answers are in.
    if (await this.#submitOneTx(j)) return;
    if (await this.#commit(j)) await this.#reveal(j);
  }

  /** The commitment of our result, made (salt saved) before it is sent anywhere. */
  async #ensureCommitment(j: JobRecord): Promise<NonNullable<JobRecord["commit"]>> {
    if (!j.commit) {
      const result = j.result!;
      const salt = newSalt();
      const commitment = resultCommitment({ jobId: BigInt(j.jobId), stage: j.stage, verifier: this.me, matchBitmap: result.bitmap, fingerprint: result.fingerprint, salt });
      j.commit = { salt, commitment };
      await this.#save();
    }
    return j.commit;
  }

  /**
   * A one-transaction stage (IStakePool `submitResult`): send our commitment, signed, to the
   * generator's server; with its signed answer within tolerance of our fingerprint, submit result and
   * answer at once. True when done (submitted, or the job finished); false: commit and reveal instead
   * (no server, a refusal, a far or badly signed answer, or a revert), with the same commitment.
   */
  async #submitOneTx(j: JobRecord): Promise<boolean> {
    if (this.o.oneTxStages === false) return false;
    const result = j.result!;
    // An all-zero result for a receipt the generator does not serve: nothing to ask it.
    if (result.kind === "generator-fault" || j.commit?.oneTx === "declined") return false;
    const base = generatorBaseUrl(j.committed!.receiptUri);
    if (!base) return false;
    const c = this.client;
    const jobId = BigInt(j.jobId);
    const commit = await this.#ensureCommitment(j);
    const decline = async (why: string) => {
      commit.oneTx = "declined";
      await this.#save();
      this.log.info("one-tx-declined", `job ${j.jobId} stage ${j.stage}: no one-transaction stage (${why}); committing and revealing instead`, { jobId: j.jobId, stage: j.stage });
      return false;
    };
    if (!commit.oneTx) {
      const statement = { chainId: c.chainId, pool: c.address, jobId, stage: j.stage, commitment: commit.commitment };
      // Never wait so long that the on-chain path could miss the deadline: at most a quarter of the time left.
      const leftMs = (j.deadline - (await c.latestBlock()).timestamp) * 1000;
      const timeoutMs = Math.min(this.o.answerTimeoutMs ?? 30_000, Math.floor(leftMs / 4));
      if (leftMs < 4_000) return decline(`only ${Math.max(0, Math.round(leftMs / 1000))} s left before the deadline`);
      let reply: { answer: string; signature: string };
      try {
        const signature = await c.signStatement(commitmentStatement(statement));
        reply = await requestStageAnswer(base, jobId, { stage: j.stage, commitment: commit.commitment, signature }, { timeoutMs, signal: this.#signal });
      } catch (e) {
        if (this.#stopped) throw new Stopped();
        return decline(`the generator's server did not answer: ${describeError(e)}`);
      }
      const generator = (await c.getJob(jobId)).generator;
      let signer: string;
      try {
        signer = statementSigner(answerStatement({ ...statement, answer: reply.answer }), reply.signature);
      } catch (e) {
        return decline(`its answer's signature is malformed: ${describeError(e)}`);
      }
      if (getAddress(signer) !== getAddress(generator)) return decline(`its answer is signed by ${signer}, not by the generator ${generator}`);
      if (!fingerprintsMatch(reply.answer, result.fingerprint)) {
        return decline(`its fingerprint is ${fingerprintDistance(reply.answer, result.fingerprint)} bits from ours (over ${FINGERPRINT_TOLERANCE})`);
      }
      commit.oneTx = reply;
      await this.#save();
    }
    const reply = commit.oneTx;
    if (reply === "declined") return false;
    return this.#txMutex.run(async () => {
      if (this.#stopped) throw new Stopped();
      if (await this.#settledOnChain(j)) return true;
      const head = await c.latestBlock();
      const leftS = j.deadline - head.timestamp;
      if (leftS <= 0) return false;
      try {
        await this.#splitDraw(j, () => c.estimateTx("submitResult", [jobId, result.bitmap, result.fingerprint, commit.salt, reply.answer, reply.signature]));
        const r = await this.#sendRecorded(j, leftS, (tx) => c.submitResult(jobId, result.bitmap, result.fingerprint, commit.salt, reply.answer, reply.signature, tx));
        await this.#submitted(j, r, "submitted in one transaction with the generator's signed answer");
        return true;
      } catch (e) {
        if (e instanceof ContractRevertError && !(await this.#settledOnChain(j).catch(() => false))) {
          return decline(`submitResult reverted: ${e.reason}`);
        }
        await this.#sendFailed(j, "submitResult", e);
        return true;
      }
    });
  }

  /** Checks the stage on-chain; finishes the job and returns true when there is nothing (more) to do. */
  /**
   * For a pick found before its draw: true while the stage is not drawn yet (ours to draw in our
   * commitResult). Once it is drawn (by our commit or by anyone) the record becomes an ordinary
   * assignment, with the verify deadline of the draw.
   */
  async #undrawnPick(j: JobRecord): Promise<boolean> {
    if (!j.selfDraw) return false;
    const job = await this.client.getJob(BigInt(j.jobId));
    if (job.state === JobState.AwaitingVerifier && job.stage === j.stage) return true;
    j.selfDraw = false;
    if (job.state === JobState.Verifying && job.stage === j.stage) j.deadline = job.deadline;
    await this.#save();
    return false;
  }

  async #settledOnChain(j: JobRecord): Promise<boolean> {
    if (await this.#undrawnPick(j)) return false;
    const st = await this.client.getStage(BigInt(j.jobId), j.stage);
    const mine = st.verifier.toLowerCase() === this.me.toLowerCase();
    if (st.status === StageStatus.None) {
      // the stage views are empty once the job settled (its dispute record is reused)
      const job = await this.client.getJob(BigInt(j.jobId));
      if (FINAL_STATES.has(job.state)) {
        const mineOnChain = (await this.client.jobEvents(BigInt(j.jobId))).find(
          (e) => e.name === "ResultSubmitted" && e.stage === j.stage && e.verifier.toLowerCase() === this.me.toLowerCase(),
        );
        if (mineOnChain && mineOnChain.name === "ResultSubmitted") {
          await this.#finish(j, "already-submitted", `our result is on-chain (hash ${mineOnChain.resultHash}) and the job settled (${JobState[job.state]}): nothing more to send`, "info", { resultHash: mineOnChain.resultHash });
        } else {
          await this.#finish(j, "settled", `the job settled (${JobState[job.state]}) without a result of ours at this stage: nothing more to do`, "info", { state: job.state });
        }
        return true;
      }
    }
    if (!mine) {
      await this.#finish(j, "superseded", `the stage's verifier is now ${st.verifier} (we were timed out, or a re-org dropped the assignment): nothing to do`, "warn");
      return true;
    }
    if (st.status === StageStatus.Submitted) {
      const recorded = j.txs.length > 0 ? ` (${j.txs.length} transaction(s) of ours recorded for it)` : "";
      await this.#finish(j, "already-submitted", `our result is on-chain (hash ${st.resultHash})${recorded}: nothing more to send`, "info", { resultHash: st.resultHash });
      return true;
    }
    if (st.status === StageStatus.NoShow) {
      await this.#finish(j, "no-show", "the deadline passed without our result and timeoutVerifier was called: the locked stake went to the treasury", "error");
      return true;
    }
    if (st.status === StageStatus.Declined) {
      await this.#finish(j, "declined", "we declined this assignment (decline fee paid to the treasury): nothing more to do", "warn");
      return true;
    }
    return false;
  }

  #msLeft(j: JobRecord, nowSec: number): number {
    return Math.max(0, (j.deadline - nowSec) * 1000);
  }

  /** Fills j.result; false when the job must wait (model missing) or the worker stopped. */
  async #computeResult(j: JobRecord, chainNow: number): Promise<boolean> {
    const committed = j.committed!;
    const lg = { jobId: j.jobId, stage: j.stage };
    const zero = () => hexlify(new Uint8Array(Math.ceil(committed.numChecks / 8)));
    const fault = async (reason: string) => {
      j.result = { bitmap: zero(), kind: "generator-fault", reason, fingerprint: ZeroHash };
      this.#stats.generatorFaults++;
      await this.#save();
      this.log.warn("generator-fault", `job ${j.jobId} stage ${j.stage}: ${reason} — the generator's fault: submitting the all-zero bitmap`, { ...lg, reason });
      return true;
    };

    // Receipt.
    const budget = Math.min(this.o.fetchBudgetMs ?? DEFAULTS.fetchBudgetMs, this.#msLeft(j, chainNow) / 4);
    const got = await this.#fetchReceipt(j, budget);
    if ("fault" in got) return fault(got.fault);
    const receipt = got.receipt;

    // Does the receipt answer this job?
    const binding = await this.#checkBinding(j, receipt);
    if (binding) return fault(binding);

    return this.#queue.push(() => this.#replay(j, receipt));
  }

  /** Load the model and replay (in one of the `concurrency` slots); false when the model is missing. */
  async #replay(j: JobRecord, receipt: Receipt): Promise<boolean> {
    if (this.#stopped) throw new Stopped();
    const jobId = BigInt(j.jobId);
    const opened = j.opened!;
    const committed = j.committed!;
    const lg = { jobId: j.jobId, stage: j.stage };
    let model;
    try {
      model = await this.models.get(opened.modelId);
    } catch (e) {
      if (!(e instanceof ModelNotAvailableError)) throw e;
      if ((this.o.declineUnservable ?? true) && (await this.#declineIfAllowed(j, `model ${opened.modelId} is not available (${e.shortMessage})`))) return false;
      const retry = this.o.modelRetryMs ?? DEFAULTS.modelRetryMs;
      if (j.status !== "waiting-model") {
        j.status = "waiting-model";
        this.#stats.waitingModel++;
        await this.#save();
      }
      this.log.error(
        "model-missing",
        `job ${j.jobId} stage ${j.stage}: MODEL ${opened.modelId} IS NOT IN THE MODELS DIRECTORY — NOT SUBMITTING. Unless the model is added before ${iso(j.deadline)}, this assignment times out and the locked stake (${this.#fmt(BigInt(j.stake))} tokens) is forfeited to the treasury. Looking again in ${retry >= 1000 ? `${Math.round(retry / 1000)} s` : `${retry} ms`}. (${e.shortMessage})`,
        { ...lg, modelId: opened.modelId, deadline: j.deadline },
      );
      this.#enqueue(`${j.jobId}:${j.stage}`, retry);
      return false;
    }
    if (j.status === "waiting-model") {
      j.status = "queued";
      this.#stats.waitingModel--;
    }

    // Replay.
    this.log.info("replay-start", `job ${j.jobId} stage ${j.stage}: replaying ${receipt.promptTokens.length + receipt.outputTokens.length} tokens, ${committed.numChecks} checks`, lg);
    let verdict;
    try {
      verdict = await verifyReceipt(model, receipt, {
        ...this.o.verifyOptions,
        expectedRoot: committed.receiptRoot,
        fingerprintSeed: BigInt(j.fingerprintSeed),
        signal: this.#signal,
      });
    } catch (e) {
      if (e instanceof VerifyAbortedError || this.#stopped) throw new Stopped();
      throw e;
    }
    let bitmap = verdict.matchBitmap;
    if (this.o.tamperResult) {
      bitmap = this.o.tamperResult({ jobId, stage: j.stage, numChecks: committed.numChecks, bitmap });
      this.log.warn("tampered", `job ${j.jobId} stage ${j.stage}: result replaced by tamperResult (demo/test only)`, lg);
    }
    j.result = {
      bitmap: hexlify(bitmap),
      kind: "replay",
      reason: verdict.agrees ? "every check matched" : verdict.malformed ? `malformed: ${verdict.malformed.message}` : `${verdict.matched} of ${verdict.checks} checks matched`,
      agrees: verdict.agrees,
      replayMs: Math.round(verdict.replayMs),
      fingerprint: verdict.fingerprint ?? ZeroHash,
    };
    await this.#save();
    this.log.info("replay-done", `job ${j.jobId} stage ${j.stage}: ${verdict.agrees ? "AGREES" : "DISAGREES"} — ${j.result.reason} (${Math.round(verdict.replayMs)} ms)`, {
      ...lg,
      agrees: verdict.agrees,
      matched: verdict.matched,
      checks: verdict.checks,
      replayMs: verdict.replayMs,
    });
    return true;
  }

  /**
   * Decline the assignment when the pool still allows it (the first quarter of the verify window):
   * the decline fee instead of the whole stake. True when declined (the job is then finished).
   */
  async #declineIfAllowed(j: JobRecord, why: string): Promise<boolean> {
    const c = this.client;
    const jobId = BigInt(j.jobId);
    if (await this.#undrawnPick(j)) {
      // nothing is locked yet: we just do not draw it (if someone draws it for us, we decline then)
      await this.#finish(j, "declined", `${why}: not drawing the stage we were picked for (nothing locked yet; if someone draws it for us, the assignment is declined then)`, "warn");
      return true;
    }
    const job = await c.getJob(jobId);
    const window = (await c.paramsAt(job.paramsId)).verifyWindow;
    const until = j.deadline - window + Math.floor(window / 4);
    const now = (await c.latestBlock()).timestamp;
    if (now + 2 > until) return false;
    return this.#txMutex.run(async () => {
      if (this.#stopped) throw new Stopped();
      if (await this.#settledOnChain(j)) return true;
      try {
        const r = await c.declineAssignment(jobId);
        const ev = r.events.find((x) => x.name === "VerifierDeclined");
        const fee = ev && ev.name === "VerifierDeclined" ? ev.fee : 0n;
        await this.#finish(j, "declined", `${why}: declined the assignment (tx ${r.hash}); fee ${this.#fmt(fee)} to the treasury, the rest of the stake credited back`, "warn", { tx: r.hash, fee });
        return true;
      } catch (e) {
        if (this.#stopped) throw new Stopped();
        this.log.warn("decline-failed", `job ${j.jobId} stage ${j.stage}: declineAssignment failed: ${describeError(e)}`, { jobId: j.jobId, error: describeError(e) });
        return false;
      }
    });
  }

  /** The receipt from the store, the cache or the URI, verified against the root; or why not (generator's fault). */
  async #fetchReceipt(j: JobRecord, budgetMs: number): Promise<{ receipt: Receipt } | { fault: string }> {
    const { receiptRoot, receiptUri } = j.committed!;
    for (const s of [this.store, this.cache]) {
      if (!s) continue;
      try {
        return { receipt: decodeReceipt(await s.get(receiptRoot)) };
      } catch (e) {
        if (!(e instanceof ReceiptNotFoundError)) this.log.warn("store-bad", `job ${j.jobId}: local copy in ${s.dir} unusable (${describeError(e)}); fetching from ${receiptUri}`, { jobId: j.jobId });
      }
    }
    // The committed URI first, then the mirrors (e.g. the user's copy), each request signed as the
    // job's drawn verifier (docs/NETWORK.md): a server that requires it serves the parties only.
    const sources = [receiptUri, ...(this.o.receiptMirrors ?? []).map((m) => receiptUrl(m, receiptRoot, j.jobId))];
    const scope = { chainId: this.client.chainId, pool: this.client.address, jobId: BigInt(j.jobId) };
    const signer = this.client.signer;
    const authorization = signer ? () => signAccess(signer, scope) : undefined;
    const start = Date.now();
    let attempt = 0;
    let contentFaults = 0;
    for (;;) {
      attempt++;
      if (this.#stopped) throw new Stopped();
      // The committed URI decides the fault's kind; the mirrors' errors are reported beside it.
      let first: unknown;
      const others: string[] = [];
      for (const [i, uri] of sources.entries()) {
        const left = budgetMs - (Date.now() - start);
        try {
          const r = await fetchReceipt(uri, receiptRoot, {
            timeoutMs: Math.max(1000, Math.min(30_000, left)),
            ...(authorization && /^https?:/i.test(uri) ? { authorization } : {}),
          });
          try {
            await this.cache.put(r.bytes);
          } catch (e) {
            this.log.warn("cache-failed", `could not cache receipt ${receiptRoot}: ${describeError(e)}`);
          }
          this.log.info("receipt", `job ${j.jobId} stage ${j.stage}: receipt ${receiptRoot.slice(0, 10)}… fetched from ${uri}${i > 0 ? " (a mirror)" : ""} (${r.bytes.length} bytes)`, {
            jobId: j.jobId,
            bytes: r.bytes.length,
            ...(i > 0 ? { mirror: uri } : {}),
          });
          return { receipt: r.receipt };
        } catch (e) {
          if (i === 0) first = e;
          else others.push(`${uri}: ${describeError(e)}`);
        }
      }
      const e = first;
      const content = e instanceof ReceiptMismatchError || e instanceof ReceiptFormatError;
      if (content) contentFaults++;
      const why =
        describeError(e) + (e instanceof PocError && e.details ? ` (${e.details})` : "") + (others.length ? `; mirrors: ${others.join("; ")}` : "");
      // A wrong or malformed body is asked for again twice (a torn transfer), an unreachable one until the budget is spent.
      const delay = Math.min(10_000, 500 * 2 ** (attempt - 1));
      if ((content && contentFaults >= 3) || Date.now() - start + delay > budgetMs) {
        const kind = e instanceof ReceiptMismatchError ? "the receipt does not match its committed root" : e instanceof ReceiptFormatError ? "the receipt is malformed" : "the receipt cannot be fetched";
        return { fault: `${kind} after ${attempt} attempt(s) in ${Math.round((Date.now() - start) / 1000)} s: ${why}` };
      }
      this.log.warn("receipt-retry", `job ${j.jobId}: fetching the receipt failed (attempt ${attempt}): ${why}; retrying in ${delay} ms`, { jobId: j.jobId, attempt });
      await sleep(delay, this.#signal).catch(() => {
        throw new Stopped();
      });
    }
  }

  /** Why the receipt does not answer the job, or undefined when it does. */
  async #checkBinding(j: JobRecord, receipt: Receipt): Promise<string | undefined> {
    const opened = j.opened!;
    const committed = j.committed!;
    const n = receiptNumChecks(receipt);
    if (n !== committed.numChecks) return `the receipt has ${n} checks, the commit says ${committed.numChecks}`;
    if (receipt.modelId.toLowerCase() !== opened.modelId.toLowerCase()) return `the receipt is for model ${receipt.modelId}, the job asks for ${opened.modelId}`;
    const samplerSeed = samplerSeedFor({ chainId: this.client.chainId, pool: this.client.address, jobId: BigInt(j.jobId) });
    // The request the receipt claims to answer, rebuilt from its own fields: when it hashes to the
    // job's requestHash nothing needs fetching (and a user who takes the request offline cannot make
    // an honest generator fail).
    const request = requestFromReceipt(receipt, opened.requestHash);
    if (!request) {
      // Fetch the real request: a chat request (its messages are not in the receipt), or to say what differs.
      let real;
      try {
        real = await fetchJobRequest(opened.requestUri, opened.requestHash, { timeoutMs: 15_000 });
      } catch (e) {
        return `the receipt does not answer the job's request (its prompt/decoding/sampler fields do not hash to requestHash ${opened.requestHash}; the request itself could not be fetched: ${describeError(e)})`;
      }
      const check = checkReceiptAgainstJob(receipt, { modelId: opened.modelId, request: real, samplerSeed });
      if (!check.ok) return check.reason;
      if (!real.messages) return "the receipt's request fields do not hash to the job's requestHash";
      // A chat request: the prompt tokens re-derived from its messages with the model's chat template
      // (docs/PROTOCOL.md). Without the model here, #replay waits for it and this runs again.
      let model;
      try {
        model = await this.models.get(opened.modelId);
      } catch (e) {
        if (e instanceof ModelNotAvailableError) return undefined;
        throw e;
      }
      return chatPromptMismatch(await openChatModel(model.dir, model.tokenizer), real.messages, receipt.promptTokens);
    }
    const check = checkReceiptAgainstJob(receipt, { modelId: opened.modelId, request, samplerSeed });
    return check.ok ? undefined : check.reason;
  }

  /**
   * Send one of the job's transactions with its nonce recorded before the send and its hash as soon
   * as known (a restart waits for it instead of sending another); reuses the nonce of a recorded
   * transaction that was never mined.
   */
  async #sendRecorded(j: JobRecord, leftS: number, send: (tx: TxOptions) => Promise<TxResult>): Promise<TxResult> {
    const c = this.client;
    const prev = j.txs[j.txs.length - 1];
    let reuse: number | undefined;
    if (prev) {
      const mined = await c.retry("eth_getTransactionCount", () => c.provider.getTransactionCount(this.me, "latest"));
      if (mined <= prev.nonce) reuse = prev.nonce;
    }
    return send({
      ...(reuse !== undefined ? { nonce: reuse } : {}),
      timeoutMs: Math.max(30_000, leftS * 1000),
      onSending: async (info) => {
        if (!(reuse !== undefined && prev && prev.nonce === info.nonce)) j.txs.push({ nonce: info.nonce, action: info.action, at: new Date().toISOString() });
        else prev.action = info.action;
        await this.#save();
        this.log.info("tx-sending", `job ${j.jobId} stage ${j.stage}: sending ${info.action} (nonce ${info.nonce})`, { jobId: j.jobId, nonce: info.nonce });
      },
      onSent: async (info) => {
        const t = j.txs[j.txs.length - 1]!;
        t.hash = info.hash;
        await this.#save();
        this.log.info("tx-sent", `job ${j.jobId} stage ${j.stage}: sent ${info.hash}`, { jobId: j.jobId, tx: info.hash, nonce: info.nonce });
      },
    });
  }

  /** A failed send: true when the job is finished or re-queued, else rethrows. */
  async #sendFailed(j: JobRecord, what: string, e: unknown): Promise<void> {
    if (e instanceof Stopped || this.#stopped) throw new Stopped();
    this.log.warn("tx-error", `job ${j.jobId} stage ${j.stage}: ${what}: ${describeError(e)}; checking the chain`, { jobId: j.jobId, error: describeError(e) });
    if (await this.#settledOnChain(j).catch(() => false)) return;
    if (e instanceof TxUncertainError) {
      this.log.warn("tx-uncertain", `job ${j.jobId}: ${describeError(e)}; will check again`, { jobId: j.jobId });
      this.#enqueue(`${j.jobId}:${j.stage}`, Math.min(this.#pollMs * 2, 10_000));
      return;
    }
    if (e instanceof ContractRevertError) {
      await this.#finish(j, "failed", `${what} reverted: ${e.reason}`, "error", { error: e.reason });
      return;
    }
    throw e;
  }

  /** commitResult (salt saved first). True when the commitment is on-chain. */
  async #commit(j: JobRecord): Promise<boolean> {
    const c = this.client;
    const jobId = BigInt(j.jobId);
    const result = j.result!;
    return this.#txMutex.run(async () => {
      if (this.#stopped) throw new Stopped();
      if (await this.#settledOnChain(j)) return false;
      if ((await c.getStage(jobId, j.stage)).status === StageStatus.Committed) return true;
      const head = await c.latestBlock();
      const leftS = j.deadline - head.timestamp;
      if (leftS <= 0) {
        await this.#finish(j, "deadline-passed", `the deadline ${iso(j.deadline)} passed before the result could be committed: nothing submitted`, "error");
        return false;
      }
      if (leftS < 60) this.log.warn("deadline-close", `job ${j.jobId} stage ${j.stage}: only ${leftS} s left before the deadline; committing anyway`, { jobId: j.jobId });
      await this.#ensureCommitment(j);
      try {
        const r = await this.#sendRecorded(j, leftS, (tx) => c.commitResult(jobId, j.commit!.commitment, tx));
        const ev = r.events.find((e) => e.name === "ResultCommitted");
        if (ev && ev.name === "ResultCommitted") {
          j.commit = { ...j.commit!, answerDeadline: ev.answerDeadline, revealDeadline: ev.revealDeadline };
          await this.#save();
        }
        this.log.info("committed", `job ${j.jobId} stage ${j.stage}: result committed in block ${r.blockNumber} (tx ${r.hash}); revealing once the generator${j.stage > 1 ? " and the earlier verifiers" : ""} answered`, {
          jobId: j.jobId,
          tx: r.hash,
        });
        return true;
      } catch (e) {
        await this.#sendFailed(j, "commitResult", e);
        return false;
      }
    });
  }

  /** revealResult once every answer is in or the answer deadline passed; otherwise look again later. */
  async #reveal(j: JobRecord): Promise<void> {
    const c = this.client;
    const jobId = BigInt(j.jobId);
    const key = `${j.jobId}:${j.stage}`;
    const result = j.result;
    if (!result || !j.commit) {
      await this.#finish(j, "failed", "our commitment is on-chain but the state file has no salt or result for it (state lost?): it cannot be revealed, and the stake is forfeited at the reveal deadline", "error");
      return;
    }
    const job = await c.getJob(jobId);
    if (job.state !== JobState.Answering || job.stage !== j.stage) {
      if (!(await this.#settledOnChain(j))) this.#enqueue(key, this.#pollMs);
      return;
    }
    const window = (await c.paramsAt(job.paramsId)).verifyWindow;
    const revealDeadline = job.deadline;
    const answerDeadline = revealDeadline - window;
    const round = await c.stageRound(jobId, j.stage);
    const head = await c.latestBlock();
    const now = Math.max(head.timestamp, Math.floor(Date.now() / 1000));
    if (now > revealDeadline) {
      await this.#finish(j, "deadline-passed", `the reveal deadline ${iso(revealDeadline)} passed: the stake is forfeited when anyone calls timeoutVerifier`, "error");
      return;
    }
    const all = (1 << j.stage) - 1;
    // Before the answer deadline the pool takes a reveal once every party answered, or once the
    // generator's answer matches ours (no earlier verifier's answer could change the outcome then).
    const mustWait =
      round.answered !== all &&
      head.timestamp <= answerDeadline &&
      ((round.answered & 1) === 0 || !fingerprintsMatch(await c.answerOf(jobId, j.stage, 0), result.fingerprint));
    if (mustWait) {
      const awaitingGenerator = (round.answered & 1) === 0;
      if (j.status !== "waiting-answers" || j.awaitingGenerator !== awaitingGenerator) {
        j.status = "waiting-answers";
        j.awaitingGenerator = awaitingGenerator;
        await this.#save();
        this.log.info(
          "awaiting-answers",
          `job ${j.jobId} stage ${j.stage}: waiting for ${awaitingGenerator ? "the generator's" : "the earlier verifiers'"} fingerprint answers until ${iso(answerDeadline)} (then revealing anyway)`,
          { jobId: j.jobId, answered: round.answered },
        );
      }
      if (this.o.devMine && now > answerDeadline) await c.devMine().catch(() => {});
      this.#enqueue(key, this.#pollMs);
      return;
    }
    await this.#txMutex.run(async () => {
      if (this.#stopped) throw new Stopped();
      try {
        const r = await this.#sendRecorded(j, revealDeadline - head.timestamp, (tx) => c.revealResult(jobId, result.bitmap, result.fingerprint, j.commit!.salt, tx));
        await this.#submitted(j, r, "result revealed");
      } catch (e) {
        await this.#sendFailed(j, "revealResult", e);
      }
    });
  }

  /**
   * For a pick whose stage is still undrawn: when the one transaction (`estimate`) would pass
   * `maxTxGas` and our entry is the next one the epoch draws, draw it first (`drawVerifiers(1)`, a
   * transaction of its own), so that no transaction of ours passes the limit. Entries before ours
   * would be drawn too by any draw that reaches ours, so then nothing is split.
   */
  async #splitDraw(j: JobRecord, estimate: () => Promise<bigint>): Promise<void> {
    const cap = this.o.maxTxGas ?? 150_000;
    if (cap <= 0 || !(await this.#undrawnPick(j))) return;
    const c = this.client;
    const gas = await estimate();
    if (gas <= BigInt(cap)) return;
    const queued = (await c.jobEvents(BigInt(j.jobId))).filter((e) => e.name === "DrawQueued" && e.stage === j.stage);
    const last = queued[queued.length - 1];
    const epoch = await c.drawEpoch();
    if (!last || last.name !== "DrawQueued" || !epoch.frozen || last.queueIndex !== epoch.head) {
      this.log.info("split-draw-skipped", `job ${j.jobId} stage ${j.stage}: submitResult would use ${gas} gas (over ${cap}), but our draw entry is not the next one: one transaction anyway`, { jobId: j.jobId, gas: Number(gas) });
      return;
    }
    const leftS = j.deadline - (await c.latestBlock()).timestamp;
    try {
      const r = await this.#sendRecorded(j, leftS, (tx) => c.drawVerifiers(1, tx));
      this.log.info("split-draw", `job ${j.jobId} stage ${j.stage}: submitResult would use ${gas} gas (over ${cap}): drew our stage first (tx ${r.hash}, gas ${r.gasUsed})`, { jobId: j.jobId, gas: Number(gas), drawGas: r.gasUsed });
    } catch (e) {
      // someone drew first (or the epoch moved on): submitResult works in either state
      if (!(e instanceof ContractRevertError)) throw e;
      this.log.info("split-draw-skipped", `job ${j.jobId} stage ${j.stage}: drawing our stage first failed (${e.reason}): one transaction`, { jobId: j.jobId });
    }
    await this.#undrawnPick(j);
  }

  /** Finish the job after our result went on-chain (revealResult or submitResult receipt `r`). */
  async #submitted(j: JobRecord, r: TxResult, what: string): Promise<void> {
    const result = j.result!;
    const ev = r.events.find((e) => e.name === "ResultSubmitted");
    this.#stats.submitted++;
    const distance = ev && ev.name === "ResultSubmitted" ? ev.generatorDistance : undefined;
    await this.#finish(
      j,
      "submitted",
      `${what} in block ${r.blockNumber} (tx ${r.hash}, gas ${r.gasUsed}; fingerprint ${distance === 65535 ? "— the generator did not answer" : `${distance} bits from the generator's`}): ${result.kind === "generator-fault" ? `all-zero bitmap — ${result.reason}` : result.reason}`,
      "info",
      {
        tx: r.hash,
        block: r.blockNumber,
        gasUsed: r.gasUsed,
        resultHash: ev && "resultHash" in ev ? ev.resultHash : keccak256(result.bitmap),
        kind: result.kind,
        generatorDistance: distance,
        settled: r.events.some((e) => e.name === "JobSettled"),
      },
    );
    if (this.o.autoBond ?? true) this.#topUpLater(`after job ${j.jobId}`);
  }

  /**
   * Jobs we revealed a result for that are still open: when a later stage's verifier has committed,
   * answer its fingerprint seed with our own replay (the zero fingerprint if we could not replay).
   */
  async answerDuties(): Promise<void> {
    const c = this.client;
    for (const j of Object.values(this.state.data.jobs)) {
      if (this.#stopped) return;
      if (j.status !== "done" || j.final || !(j.outcome === "submitted" || j.outcome === "already-submitted") || !j.result) continue;
      const jobId = BigInt(j.jobId);
      const job = await c.getJob(jobId);
      if (FINAL_STATES.has(job.state)) {
        j.final = true;
        await this.#save();
        continue;
      }
      if (job.state !== JobState.Answering || job.stage <= j.stage || j.answered[String(job.stage)]) continue;
      const round = await c.stageRound(jobId, job.stage);
      if ((round.answered >> j.stage) & 1) {
        j.answered[String(job.stage)] = "answered";
        continue;
      }
      const window = (await c.paramsAt(job.paramsId)).verifyWindow;
      const head = await c.latestBlock();
      const answerDeadline = job.deadline - window;
      if (head.timestamp > answerDeadline) continue;
      // Give the generator half the answer phase (it began at deadline - 2·window): its answer, when
      // it matches our replay, stands for ours.
      const generatorAnswered = (round.answered & 1) === 1;
      if (!generatorAnswered && head.timestamp <= answerDeadline - Math.floor(window / 2)) continue;
      let fingerprint = ZeroHash;
      if (j.result.kind === "replay") {
        const receipt = await this.#localReceipt(j);
        if (!receipt) {
          this.log.warn("answer-no-receipt", `job ${j.jobId}: stage ${job.stage} asks for our fingerprint but the receipt is no longer in the cache: not answering`, { jobId: j.jobId });
          j.answered[String(job.stage)] = "no-receipt";
          continue;
        }
        const model = await this.models.get(j.opened!.modelId);
        [fingerprint] = (await this.#queue.push(() => replayFingerprints(model, receipt, [round.fingerprintSeed], { signal: this.#signal }))) as [string];
      }
      if (generatorAnswered) {
        const d = fingerprintDistance(await c.answerOf(jobId, job.stage, 0), fingerprint);
        if (d <= FINGERPRINT_TOLERANCE) {
          j.answered[String(job.stage)] = "not-needed";
          await this.#save();
          this.log.info("answer-not-needed", `job ${j.jobId}: stage ${job.stage}'s fingerprint seed: the generator's answer is ${d} bits from our replay, so it counts for ours; not answering`, { jobId: j.jobId, stage: job.stage, distance: d });
          continue;
        }
      }
      await this.#txMutex.run(async () => {
        try {
          const r = await c.answerFingerprint(jobId, fingerprint);
          j.answered[String(job.stage)] = r.hash;
          await this.#save();
          this.log.info("answered", `job ${j.jobId}: answered stage ${job.stage}'s fingerprint seed (tx ${r.hash})`, { jobId: j.jobId, stage: job.stage, tx: r.hash });
        } catch (e) {
          if (this.#stopped) throw new Stopped();
          this.log.warn("answer-failed", `job ${j.jobId}: answerFingerprint for stage ${job.stage}: ${describeError(e)}`, { jobId: j.jobId });
        }
      });
    }
  }

  async #localReceipt(j: JobRecord): Promise<Receipt | undefined> {
    for (const s of [this.store, this.cache]) {
      if (!s) continue;
      try {
        return decodeReceipt(await s.get(j.committed!.receiptRoot));
      } catch {
        // not there
      }
    }
    return undefined;
  }

  // ----------------------------------------------------------------------------------------------
  // Lifecycle
  // ----------------------------------------------------------------------------------------------

  async idle(): Promise<void> {
    await this.#pollMutex.run(() => this.poll());
    for (;;) {
      if (this.#tasks.size > 0) {
        await Promise.allSettled([...this.#tasks]);
        continue;
      }
      // a retry scheduled by a failed task (not a model wait) is still work to do
      // (a commitment waiting for the generator's answer is work in progress too; one waiting only for
      // earlier verifiers, who may be offline until the answer deadline, is not)
      const busy = [...this.#timers.keys()].some((k) => {
        const j = this.state.data.jobs[k];
        return j?.status === "queued" || (j?.status === "waiting-answers" && j.awaitingGenerator === true);
      });
      if (!busy || this.#stopped) return;
      await sleep(Math.min(this.#pollMs, 200));
    }
  }

  async #halt(): Promise<void> {
    this.#stopped = true;
    this.#abort.abort(new Stopped("stopped"));
    for (const t of this.#timers.values()) clearTimeout(t);
    this.#timers.clear();
    this.#wake?.();
    await this.#loop.catch(() => {});
    await Promise.allSettled([...this.#tasks]);
  }

  async stop(): Promise<void> {
    if (this.#stopped) return this.done;
    this.log.info("stopping", "stopping: in-flight replays are abandoned and resume on restart");
    await this.#halt();
    await this.state.save().catch((e: unknown) => this.log.error("state-failed", `could not save the state: ${describeError(e)}`));
    if (this.ownModels) await this.models.close();
    await this.lock?.release();
    this.log.info("stopped", "stopped");
    this.#resolveDone();
  }

  async kill(): Promise<void> {
    if (this.#stopped) return this.done;
    this.state.freeze();
    this.log.warn("killed", "killed (simulated crash): nothing more is recorded");
    await this.#halt();
    if (this.ownModels) await this.models.close();
    await this.lock?.release(); // a crashed process leaves its lock behind, but it is gone (stale) then
    this.#resolveDone();
  }
}

function iso(sec: number): string {
  return new Date(sec * 1000).toISOString().replace(".000Z", "Z");
}
