/**
 * The generator worker (BRIEF "Who uses it": generators run the model, sample KV-cache vectors while
 * decoding, stake, and commit to a receipt).
 *
 * ## What it does, per job
 * 1. **Watch**: every `pollMs` it reads the `JobOpened` events that name its account (from the last
 *    block it has seen, re-reading the last `reorgOverlap` blocks for re-orgs, in bounded ranges) and
 *    handles the jobs oldest first, one at a time (generation is CPU-bound).
 * 2. **Check**: the job must still be `Open` on-chain and its commit deadline not passed (otherwise it
 *    is done: already committed, cancelled, or too late).
 * 3. **Request**: `fetchJobRequest(requestUri, requestHash)` — the content must hash to the on-chain
 *    hash. A private job (`requestUri = "poc:direct"`, docs/NETWORK.md) takes its request from the
 *    server's intake (`intake`, filled by `POST /v1/jobs/{jobId}/request`) by its hash, and waits for
 *    it (polling) until the commit deadline; a request that never arrives is skipped with that reason. A request that cannot be fetched, does not match its hash, is invalid, or names another
 *    model than the job is **skipped** with the reason logged: the worker never commits to anything
 *    but the request the user bound on-chain, and the user gets a full refund with `cancel` after the
 *    commit deadline. A model id the worker does not have is skipped the same way.
 * 4. **Generate** exactly the request: its prompt tokens, decoding and sampler configuration, K/V
 *    dtype, and the job's sampler seed (`samplerSeedFor(chainId, pool, jobId)`, chosen by neither
 *    party).
 * 5. **Store and serve**: the receipt goes into the `ReceiptStore` (served by `serveReceipts` at
 *    `receiptBaseUrl`, to the job's parties only); `receiptUri = <receiptBaseUrl>/receipts/<root>?job=<id>`. Each output token, the end
 *    of generation, the commit and a skip or failure go into the job's event log (`events`), which
 *    `GET /v1/jobs/{jobId}/stream` serves.
 * 6. **Stake and commit**: approve βCg (when the allowance is short) and `commit(jobId, root,
 *    numChecks, receiptUri)` before the commit deadline.
 * 7. **Answer challenges**: while a committed job is open, whenever a drawn verifier has committed its
 *    result (State.Answering), answer the stage's fingerprint seed with a replay of the receipt
 *    (`answerFingerprint`, docs/PROTOCOL.md "Replay fingerprints") before the answer deadline. A
 *    generator that does not answer forfeits its stake. A verifier that got our signed answer
 *    off-chain for one commitment and committed another is reported instead (`reportEquivocation`).
 * 8. **One-transaction stages**: `answerStage` (the server's `POST /v1/jobs/{id}/answer`,
 *    stage-answer.ts) answers a stage verifier's signed commitment with our fingerprint, signed over
 *    it, once per stage and verifier, recorded in the state file before it is returned.
 *
 * ## Restarts
 * Progress lives in `<stateDir>/generator-<chainId>-<pool>-<account>.json`, written atomically
 * (temp file, fsync, rename) after every step: the last block scanned, every job seen with its
 * status (queued → generated → committing → committed, or skipped/failed with the reason), the
 * receipt root, and every transaction sent (nonce and hash, recorded before the broadcast). After a
 * crash the worker resumes from there: a receipt already generated is taken from the store (not
 * generated again), and before any commit it reads the job's on-chain state, so a job that is no
 * longer `Open` (e.g. a commit that got through just before the crash) is never committed twice. A
 * commit whose transaction was recorded but not seen mined is resent with the same nonce (at most one
 * of the two can be mined).
 *
 * ## Faults
 * RPC calls are retried with backoff by the chain client; a job whose processing fails for a
 * transient reason (RPC down, timeout) stays queued and is retried at the next poll while its
 * deadline allows; a revert (e.g. the deadline passed meanwhile) marks the job failed, with the reason.
 *
 * ## Cheating (demonstrations of detection only)
 * `cheat.model` makes the worker generate with another model (e.g. the same architecture with other
 * weights) while claiming the job's model: the receipt's `modelId` field is overwritten with the
 * job's model id before it is encoded, so the receipt looks right and passes every structural check;
 * only a replay with the real model catches it. This exists so that `npm run demo` and the tests can
 * show the protocol slashing a cheater. Never use it otherwise: a challenged cheater loses its stake.
 */
import { mkdir, readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { PocError } from "../errors.js";
import {
  type PoolClient,
  type PoolEventOf,
  JobState,
  RpcUnavailableError,
  TxUncertainError,
  ContractRevertError,
  describeError,
  isTransientError,
  sleep,
} from "../chain/index.js";
import { generate } from "../generate/index.js";
import { ChatError, assertChatPrompt, openChatModel } from "../model/chat.js";
import type { LoadedModel, LoadOptions } from "../model/index.js";
import { type Receipt, type ReceiptStore, decodeReceipt, encodeReceipt, numChecks, receiptRoot, receiptUrl, writeFileAtomic } from "../receipt/index.js";
import { type JobRequest, RequestError, decodeJobRequest, fetchJobRequest, samplerSeedFor } from "../request/index.js";
import type { RequestIntake } from "../transport/intake.js";
import type { FinishReason, JobEventLog } from "../transport/job-events.js";
import { keccak256 } from "ethers";
import type { Hex } from "../sampling/index.js";
import { createLogger, type Logger, type LogLevel } from "./log.js";
import { ModelDirectory, ModelNotAvailableError, type ModelSource } from "./models.js";
import { Mutex } from "./queue.js";
import { replayFingerprints } from "../fingerprint/index.js";
import { FINAL_STATES } from "../chain/state.js";
import { acquireStateLock } from "./lock.js";
import { bindStateFile, compareIdentity, readChainIdentity, type ChainIdentity, type IdentityChange } from "./chain-identity.js";
import { RateLimiter } from "./rate-limit.js";
import { answerKey, answerStage, type SignedAnswerRecord, type StageAnswer, type StageAnswerRequest } from "./stage-answer.js";
import { formatUnits } from "ethers";

export class GeneratorWorkerError extends PocError {
  override name = "GeneratorWorkerError";
}

/** `requestUri` of a private job: the request comes to the generator directly (docs/NETWORK.md). */
export const DIRECT_REQUEST_URI = "poc:direct";

export type GeneratorJobStatus = "queued" | "generated" | "committing" | "committed" | "skipped" | "failed";

export interface TxRecord {
  action: string;
  nonce: number;
  hash?: string;
  /** Unix ms when the nonce was fixed. */
  at: number;
}

export interface GeneratorJobRecord {
  jobId: string;
  status: GeneratorJobStatus;
  modelId: string;
  requestHash: string;
  requestUri: string;
  commitDeadline: number;
  betaCg: string;
  openedBlock: number;
  root?: string;
  numChecks?: number;
  receiptUri?: string;
  /** Why the job was skipped or failed (or the last transient error). */
  reason?: string;
  /** Transactions sent for this job (approve, commit), in order. */
  txs: TxRecord[];
  /** Whether the receipt was made with the substituted model (cheat mode). */
  cheated?: boolean;
  /** How generation ended ("stop": an end-of-sequence id; "length": maxTokens). */
  finishReason?: FinishReason;
  /** Challenged stages whose fingerprint seed we answered (stage → tx hash). */
  answered?: Record<string, string>;
  /** Answers signed for one-transaction stages (stage-answer.ts), by `stage:verifier`. */
  signedAnswers?: Record<string, SignedAnswerRecord>;
  /** The job reached a final state: nothing more is owed. */
  final?: boolean;
  updatedAt: number;
}

export interface GeneratorState {
  version: 1;
  chainId: string;
  pool: string;
  account: string;
  /** Last block whose JobOpened events are queued (events up to it are in `jobs`). */
  lastBlock: number;
  /** The chain and deployment this state belongs to (chain-identity.ts); absent in files of older versions. */
  identity?: ChainIdentity;
  jobs: Record<string, GeneratorJobRecord>;
}

export interface GeneratorProgress {
  jobId: bigint;
  phase: "generate";
  done: number;
  total: number;
}

export interface GeneratorWorkerOptions {
  /** Pool client connected with the generator's signer. */
  client: PoolClient;
  /** Where models come from: a models directory (each subdirectory one model) or a ModelSource. */
  models: string | ModelSource;
  /** onnxruntime options for models loaded from a models directory. */
  loadOptions?: LoadOptions;
  /** The receipt store the HTTP server at `receiptBaseUrl` serves. */
  store: ReceiptStore;
  /** Base URL of that server (e.g. http://127.0.0.1:8547): receipts are at `<base>/receipts/<root>?job=<id>`. */
  receiptBaseUrl: string;
  /** Directory of the progress file (created if needed). */
  stateDir: string;
  /** Poll interval (default 2000 ms). */
  pollMs?: number;
  /** First block to scan when there is no progress file (default: the pool's deployment block). */
  fromBlock?: number;
  /** Seconds of margin before the commit deadline below which a job is not started (default 5). */
  deadlineMarginSec?: number;
  /** Blocks re-read on every poll, for re-orgs (default 12). */
  reorgOverlap?: number;
  /**
   * DEMONSTRATIONS OF DETECTION ONLY (module comment): generate with `model` instead of the job's
   * model and claim the job's model id in the receipt.
   */
  cheat?: { model: LoadedModel };
  /** Local TestToken only: mint the stake's shortfall to the wallet before staking (default false). */
  mintTestTokens?: boolean;
  /** Progress of the generation of each job (tokens). */
  onProgress?: (p: GeneratorProgress) => void;
  /** Called when a job reaches a final status (committed, skipped, failed). */
  onJob?: (record: GeneratorJobRecord) => void;
  /** Structured logs (log.ts; default: plain lines on stderr). */
  log?: Logger;
  /** Run after every poll, after this worker's own transactions (e.g. the keeper, offchain/keeper); errors are logged. */
  afterPoll?: () => Promise<void>;
  /** Requests delivered directly (private jobs, `poc:direct`): the intake of the server's `POST /v1/jobs/{id}/request`. */
  intake?: RequestIntake;
  /** Per-job event logs (tokens, done, committed, error) that the server's `GET /v1/jobs/{id}/stream` serves. */
  events?: JobEventLog;
}

export interface GeneratorWorker {
  /** The generator's address. */
  readonly account: string;
  /** Stop polling; waits for the job in progress to reach a safe point. */
  stop(): Promise<void>;
  /** Polls now (and again until) no job is left to do: every JobOpened up to the current block handled. */
  idle(): Promise<void>;
  /** A copy of the persisted state. */
  state(): GeneratorState;
  /** Resolves when the worker has stopped. */
  readonly done: Promise<void>;
  /** Set when the worker stopped because the chain or the pool changed under it (node restarted, pool redeployed or gone). */
  chainChange(): IdentityChange | undefined;
  /**
   * Answer a verifier's commitment for a one-transaction stage (the server's `POST
   * /v1/jobs/{jobId}/answer`, stage-answer.ts); throws AnswerRefusedError.
   */
  answerStage(jobId: bigint, req: StageAnswerRequest): Promise<StageAnswer>;
}

function stateFileName(chainId: bigint, pool: string, account: string): string {
  return `generator-${chainId}-${pool.toLowerCase()}-${account.toLowerCase()}.json`;
}

async function loadState(file: string, fresh: GeneratorState): Promise<GeneratorState> {
  let raw: string;
  try {
    raw = await readFile(file, "utf8");
  } catch (e) {
    if ((e as { code?: string }).code === "ENOENT") return fresh;
    throw new GeneratorWorkerError(`cannot read the progress file ${file}`, { cause: e, details: describeError(e) });
  }
  let s: GeneratorState;
  try {
    s = JSON.parse(raw) as GeneratorState;
  } catch (e) {
    throw new GeneratorWorkerError(`the progress file ${file} is not JSON`, {
      cause: e,
      details: "move it away to start afresh (the worker then re-reads the chain)",
    });
  }
  if (
    s.version !== 1 ||
    s.chainId !== fresh.chainId ||
    s.pool !== fresh.pool ||
    s.account !== fresh.account ||
    typeof s.lastBlock !== "number" ||
    typeof s.jobs !== "object"
  ) {
    throw new GeneratorWorkerError(`the progress file ${file} is for another pool, chain or account, or of another version`);
  }
  return s;
}

/** Start the generator worker (module comment). */
export async function startGeneratorWorker(o: GeneratorWorkerOptions): Promise<GeneratorWorker> {
  const client = o.client;
  const account = await client.account();
  const logger = o.log ?? createLogger({ name: `generator ${account.slice(0, 8)}` });
  const log = (level: LogLevel, event: string, msg: string, fields: Record<string, unknown> = {}) => logger.log(level, event, msg, fields);
  const pollMs = o.pollMs ?? 2000;
  const margin = o.deadlineMarginSec ?? 5;
  const overlap = Math.max(0, o.reorgOverlap ?? 12);
  const base = o.receiptBaseUrl.replace(/\/+$/, "");
  if (!/^https?:\/\//.test(base)) throw new GeneratorWorkerError(`receiptBaseUrl must be an http(s) URL (got ${o.receiptBaseUrl})`);
  const ownsModels = typeof o.models === "string";
  const models: ModelSource = typeof o.models === "string" ? new ModelDirectory(o.models, o.loadOptions ? { load: o.loadOptions } : {}) : o.models;
  const stateDir = resolve(o.stateDir);
  await mkdir(stateDir, { recursive: true });
  const file = join(stateDir, stateFileName(client.chainId, client.address, account));
  const lock = await acquireStateLock(stateDir, "generator", account);
  let identity: ChainIdentity;
  let state: GeneratorState;
  try {
    if (lock.tookOver !== undefined) log("warn", "lock-taken-over", `took over the lock ${lock.path} of a worker that is gone (pid ${lock.tookOver})`, { pid: lock.tookOver });
    identity = await readChainIdentity(client);
    const bound = await bindStateFile(file, identity, client);
    if (bound.change) log("warn", "state-reset", `${bound.change.message}: the old state was moved to ${bound.movedTo}; starting a fresh state`, { change: bound.change.kind, movedTo: bound.movedTo });
    const fresh: GeneratorState = {
      version: 1,
      chainId: client.chainId.toString(),
      pool: client.address,
      account,
      lastBlock: (o.fromBlock ?? client.deployBlock) - 1,
      identity,
      jobs: {},
    };
    state = await loadState(file, fresh);
    state.identity ??= identity;
  } catch (e) {
    await lock.release();
    throw e;
  }
  const decimals = await client.tokenDecimals().catch(() => 18);
  const tokens = (v: bigint | string) => {
    const t = formatUnits(BigInt(v), decimals);
    return t.endsWith(".0") ? t.slice(0, -2) : t;
  };
  const quiet = new RateLimiter(60_000);
  let chainChange: IdentityChange | undefined;
  let polls = 0;
  let saving = Promise.resolve();
  const save = () => {
    const snapshot = JSON.stringify(state, null, 1);
    saving = saving.then(() => writeFileAtomic(file, new TextEncoder().encode(snapshot)));
    return saving;
  };
  await save();
  log(
    "info",
    "started",
    `generator ${account} watching pool ${client.address} on chain ${client.chainId}${o.cheat ? " (CHEATING: substituted model, demonstration only)" : ""}`,
    { account, pool: client.address, chainId: client.chainId, lastBlock: state.lastBlock, stateFile: file, cheat: Boolean(o.cheat) }
  );

  // The streams of jobs finished by an earlier run (the event logs are in memory): a committed job
  // that is not final yet replays its tokens from the stored receipt, a skipped or failed one its reason.
  if (o.events) {
    for (const rec of Object.values(state.jobs)) {
      if (o.events.events(rec.jobId).length > 0) continue;
      if (rec.status === "skipped" || rec.status === "failed") {
        o.events.append(rec.jobId, { event: "error", data: { message: `the generator ${rec.status === "skipped" ? "skipped" : "failed"} the job: ${rec.reason ?? rec.status}` } });
      } else if (rec.status === "committed" && !rec.final && rec.root && rec.receiptUri) {
        try {
          const receipt = decodeReceipt(await o.store.get(rec.root));
          receipt.outputTokens.forEach((token, index) => o.events!.append(rec.jobId, { event: "token", data: { index, token } }));
          const finishReason: FinishReason = rec.finishReason ?? (receipt.outputTokens.length < receipt.decoding.maxTokens ? "stop" : "length");
          o.events.append(rec.jobId, { event: "done", data: { tokens: receipt.outputTokens, finishReason } });
          const tx = [...rec.txs].reverse().find((t) => t.action.startsWith("commit("))?.hash ?? "";
          o.events.append(rec.jobId, { event: "committed", data: { receiptRoot: rec.root, receiptUri: rec.receiptUri, tx } });
        } catch {
          // the receipt is gone from the store: nothing to replay
        }
      }
    }
  }

  const abort = new AbortController();
  let stopped = false;
  const pollMutex = new Mutex();
  let resolveDone!: () => void;
  const done = new Promise<void>((ok) => (resolveDone = ok));

  const finish = async (rec: GeneratorJobRecord, status: GeneratorJobStatus, reason?: string, commitTx?: string) => {
    rec.status = status;
    if (reason !== undefined) rec.reason = reason;
    rec.updatedAt = Date.now();
    await save();
    if (status === "committed" && rec.root && rec.receiptUri) {
      const tx = commitTx ?? pendingCommit(rec)?.hash ?? "";
      o.events?.append(rec.jobId, { event: "committed", data: { receiptRoot: rec.root, receiptUri: rec.receiptUri, tx } });
    } else if (status === "skipped" || status === "failed") {
      o.events?.append(rec.jobId, { event: "error", data: { message: `the generator ${status === "skipped" ? "skipped" : "failed"} the job: ${rec.reason ?? status}` } });
    }
    const hash = rec.requestHash.toLowerCase();
    const others = Object.values(state.jobs).some((r) => r !== rec && r.requestHash.toLowerCase() === hash && ["queued", "generated", "committing"].includes(r.status));
    if (!others) o.intake?.release(hash);
    const level: LogLevel = status === "committed" ? "info" : "warn";
    log(level, `job ${status}`, `job ${rec.jobId}: ${status}${reason ? ` (${reason})` : rec.receiptUri ? ` (${rec.receiptUri})` : ""}`, {
      jobId: rec.jobId,
      ...(reason ? { reason } : {}),
      ...(rec.root ? { root: rec.root } : {}),
    });
    o.onJob?.({ ...rec, txs: [...rec.txs] });
  };

  const txHooks = (rec: GeneratorJobRecord) => ({
    onSending: async (info: { action: string; nonce: number }) => {
      rec.txs.push({ action: info.action, nonce: info.nonce, at: Date.now() });
      await save();
    },
    onSent: async (info: { action: string; nonce: number; hash: string }) => {
      const t = [...rec.txs].reverse().find((x) => x.nonce === info.nonce && x.action === info.action);
      if (t) t.hash = info.hash;
      await save();
      log("info", "tx sent", `job ${rec.jobId}: sent ${info.action} (nonce ${info.nonce}, ${info.hash})`, {
        jobId: rec.jobId,
        action: info.action,
        nonce: info.nonce,
        hash: info.hash,
      });
    },
  });

  /** Log output token `i` to the job's stream, unless an earlier (interrupted) run of the same job logged it already. */
  const logToken = (jobId: string, index: number, token: number) => {
    if (o.events && index >= o.events.tokenCount(jobId)) o.events.append(jobId, { event: "token", data: { index, token } });
  };
  const logDone = (jobId: string, tokens: readonly number[], finishReason: FinishReason) => {
    if (o.events && !o.events.events(jobId).some((e) => e.event === "done")) o.events.append(jobId, { event: "done", data: { tokens: [...tokens], finishReason } });
  };

  /** The request of a private job (`poc:direct`) from the intake, checked against its hash; undefined: not delivered yet. */
  const directRequest = (rec: GeneratorJobRecord): JobRequest | undefined => {
    const bytes = o.intake?.get(rec.requestHash);
    if (!bytes) return undefined;
    if (keccak256(bytes).toLowerCase() !== rec.requestHash.toLowerCase()) return undefined; // the intake keys by hash: never
    o.intake!.bind(rec.requestHash);
    return decodeJobRequest(bytes);
  };

  /** Make (or take from the store) the receipt of a job. */
  const produce = async (rec: GeneratorJobRecord, request: JobRequest): Promise<{ root: Hex; receipt: Receipt; bytes: Uint8Array }> => {
    if (rec.root && (await o.store.has(rec.root))) {
      try {
        const bytes = await o.store.get(rec.root);
        const receipt = decodeReceipt(bytes);
        // the stream of a job generated before a restart: its tokens from the receipt
        receipt.outputTokens.forEach((t, i) => logToken(rec.jobId, i, t));
        const finishReason: FinishReason = rec.finishReason ?? (receipt.outputTokens.length < receipt.decoding.maxTokens ? "stop" : "length");
        logDone(rec.jobId, receipt.outputTokens, finishReason);
        return { root: rec.root as Hex, receipt, bytes };
      } catch {
        // corrupt: generate again
      }
    }
    const jobId = BigInt(rec.jobId);
    const model = o.cheat ? o.cheat.model : await models.get(rec.modelId);
    // a chat request: its prompt tokens must be its messages rendered with this model's template (docs/PROTOCOL.md)
    if (request.messages) assertChatPrompt(await openChatModel(model.dir, model.tokenizer), request.messages, request.promptTokens);
    const samplerSeed = samplerSeedFor({ chainId: client.chainId, pool: client.address, jobId });
    log(
      "info",
      "generating",
      `job ${rec.jobId}: generating ${request.decoding.maxTokens} tokens after a ${request.promptTokens.length}-token prompt${
        o.cheat ? ` with the SUBSTITUTED model ${model.modelId}` : ""
      }`,
      {
        jobId: rec.jobId,
        modelId: rec.modelId,
        promptTokens: request.promptTokens.length,
        maxTokens: request.decoding.maxTokens,
        ...(o.cheat ? { cheatModelId: model.modelId } : {}),
      }
    );
    const res = await generate(model, {
      promptTokens: request.promptTokens,
      decoding: request.decoding,
      sampler: {
        seed: samplerSeed,
        ratePpm: request.sampler.ratePpm,
        layersPerToken: request.sampler.layersPerToken,
        scope: request.sampler.scope,
        projectionDim: request.sampler.projectionDim,
        minPositions: request.sampler.minPositions,
      },
      ...(request.kvDtype ? { kvDtype: request.kvDtype } : {}),
      signal: abort.signal,
      onProgress: (done, total) => o.onProgress?.({ jobId, phase: "generate", done, total }),
      onToken: (i, t) => logToken(rec.jobId, i, t),
    });
    let { receipt, bytes, root } = res;
    rec.finishReason = res.finishReason;
    logDone(rec.jobId, res.receipt.outputTokens, res.finishReason);
    if (o.cheat) {
      // Demonstration of detection only: claim the job's model although another one generated.
      receipt = { ...receipt, modelId: rec.modelId.toLowerCase() as Hex };
      bytes = encodeReceipt(receipt);
      root = receiptRoot(bytes);
      rec.cheated = true;
    }
    await o.store.put(bytes);
    log(
      "info",
      "generated",
      `job ${rec.jobId}: receipt ${root} (${receipt.outputTokens.length} tokens, ${receipt.samples.length} KV samples, ${bytes.length} bytes, ${Math.round(
        res.timings.totalMs
      )} ms)`,
      {
        jobId: rec.jobId,
        root,
        outputTokens: receipt.outputTokens.length,
        samples: receipt.samples.length,
        bytes: bytes.length,
        ms: Math.round(res.timings.totalMs),
      }
    );
    return { root, receipt, bytes };
  };

  /** Whether the commit recorded for `rec` may still be pending or mined; resolves what it can. */
  const pendingCommit = (rec: GeneratorJobRecord): TxRecord | undefined => [...rec.txs].reverse().find((t) => t.action.startsWith("commit("));

  /** Process one job; returns "retry" to keep it queued (transient trouble). */
  const processJob = async (rec: GeneratorJobRecord): Promise<"done" | "retry"> => {
    const jobId = BigInt(rec.jobId);
    const view = await client.getJob(jobId);
    if (view.state !== JobState.Open) {
      if (view.state === JobState.Cancelled) {
        await finish(rec, "skipped", "the job was cancelled before a commit");
        return "done";
      }
      // Only this account can commit the job: a commit on-chain is ours (e.g. sent just before a crash).
      const { committed } = await client.jobRecord(jobId, { fromBlock: rec.openedBlock });
      if (committed) {
        if (rec.root && committed.receiptRoot !== rec.root.toLowerCase()) rec.reason = `committed with root ${committed.receiptRoot} (an earlier run)`;
        rec.root = committed.receiptRoot;
        rec.receiptUri = committed.receiptUri;
        rec.numChecks = committed.numChecks;
        await finish(rec, "committed", undefined, committed.transactionHash);
      } else await finish(rec, "skipped", `the job is ${JobState[view.state]} on-chain, not Open`);
      return "done";
    }
    const now = (await client.latestBlock()).timestamp;
    const direct = rec.requestUri === DIRECT_REQUEST_URI;
    if (now + margin >= rec.commitDeadline) {
      const deadline = new Date(rec.commitDeadline * 1000).toISOString();
      await finish(
        rec,
        "skipped",
        direct && !o.intake?.has(rec.requestHash) && !rec.root
          ? `the request of this private job (poc:direct) never arrived at POST /v1/jobs/${rec.jobId}/request before the commit deadline ${deadline} (the user can cancel)`
          : `the commit deadline ${deadline} has passed (or is too close)`
      );
      return "done";
    }
    let request: JobRequest;
    try {
      if (direct) {
        if (!o.intake) {
          await finish(rec, "skipped", "a private job (poc:direct) but this worker has no request intake (run it with its HTTP server: poc worker generator)");
          return "done";
        }
        const got = directRequest(rec);
        if (!got) {
          const reason = `waiting for the request (poc:direct: POST /v1/jobs/${rec.jobId}/request) until the commit deadline ${new Date(rec.commitDeadline * 1000).toISOString()}`;
          if (rec.reason !== reason) {
            rec.reason = reason;
            await save();
            log("info", "request-awaited", `job ${rec.jobId}: ${reason}`, { jobId: rec.jobId, requestHash: rec.requestHash });
          }
          return "retry";
        }
        request = got;
      } else request = await fetchJobRequest(rec.requestUri, rec.requestHash);
    } catch (e) {
      if (e instanceof RequestError) {
        const transient = /could not fetch|HTTP 5\d\d|HTTP 429/.test(e.shortMessage);
        if (transient) {
          rec.reason = `request not fetched yet: ${e.message.split("\n").join(" ")}`;
          await save();
          return "retry";
        }
        await finish(rec, "skipped", `bad job request: ${e.message.split("\n").join(" ")} (the user can cancel after the commit deadline)`);
        return "done";
      }
      throw e;
    }
    if (request.modelId !== rec.modelId.toLowerCase()) {
      await finish(rec, "skipped", `the request names model ${request.modelId}, the job ${rec.modelId}`);
      return "done";
    }
    let made: { root: Hex; receipt: Receipt; bytes: Uint8Array };
    try {
      made = await produce(rec, request);
    } catch (e) {
      if (e instanceof ModelNotAvailableError) {
        await finish(rec, "skipped", `model not available here: ${e.shortMessage}`);
        return "done";
      }
      if (e instanceof ChatError) {
        await finish(rec, "skipped", `bad job request: ${e.message.split("\n").join(" ")} (the user can cancel after the commit deadline)`);
        return "done";
      }
      if (abort.signal.aborted) return "retry";
      if (e instanceof PocError) {
        await finish(rec, "failed", `generation failed: ${e.message.split("\n").join(" ")}`);
        return "done";
      }
      throw e;
    }
    rec.root = made.root;
    rec.numChecks = numChecks(made.receipt);
    rec.receiptUri = receiptUrl(base, made.root, jobId); // <base>/receipts/<root>?job=<id> (docs/NETWORK.md)
    if (rec.status === "queued") rec.status = "generated";
    await save();
    if (stopped) return "retry";

    // Stake and commit, after checking the chain again (a restart may find the commit already done).
    const again = await client.getJob(jobId);
    if (again.state !== JobState.Open) return processJob(rec);
    const prev = pendingCommit(rec);
    let nonce: number | undefined;
    if (prev?.hash) {
      const r = await client.retry("eth_getTransactionReceipt", () => client.provider.getTransactionReceipt(prev.hash!));
      if (r && r.status === 1) return processJob(rec); // mined: the job is no longer Open
      if (!r) nonce = prev.nonce; // not mined (yet): resend with the same nonce
    }
    rec.status = "committing";
    await save();
    const wallet = await client.tokenBalance(account);
    if (wallet < again.betaCg) {
      if (!o.mintTestTokens) {
        // Not final: the operator may top the wallet up before the commit deadline.
        rec.reason = `the wallet holds ${tokens(wallet)} tokens, staking needs βCg = ${tokens(again.betaCg)}: waiting for funds until the commit deadline ${new Date(rec.commitDeadline * 1000).toISOString()}`;
        await save();
        if (quiet.allow(`funds-short:${rec.jobId}:${wallet}`)) log("warn", "funds-short", `job ${rec.jobId}: ${rec.reason} (repeated at most once a minute)`, { jobId: rec.jobId, wallet, betaCg: again.betaCg });
        return "retry";
      }
      await client.mintTestTokens(account, again.betaCg - wallet);
      log("info", "minted", `job ${rec.jobId}: minted ${tokens(again.betaCg - wallet)} test tokens for the stake`, { jobId: rec.jobId, amount: again.betaCg - wallet });
    }
    await client.approveIfNeeded(again.betaCg, txHooks(rec));
    let commitTx: string;
    try {
      commitTx = (await client.commit(
        jobId,
        { receiptRoot: made.root, numChecks: rec.numChecks, receiptUri: rec.receiptUri },
        { ...txHooks(rec), ...(nonce !== undefined ? { nonce } : {}) }
      )).hash;
    } catch (e) {
      if (e instanceof TxUncertainError) return "retry"; // the next pass reads the chain
      if (e instanceof ContractRevertError) {
        const after = await client.getJob(jobId);
        if (after.state !== JobState.Open) return processJob(rec);
        await finish(rec, "failed", e.message.split("\n").join(" "));
        return "done";
      }
      throw e;
    }
    await finish(rec, "committed", undefined, commitTx);
    return "done";
  };

  /** Answer the fingerprint seed of every challenged stage of our open jobs whose verifier committed. */
  /**
   * Our replay fingerprint of the receipt `root` for `seed` (docs/PROTOCOL.md "Replay fingerprints"),
   * with the job's model `modelId`: a cheater that has it answers truthfully, its best play.
   */
  const fingerprintOf = async (root: string, modelId: string, seed: bigint): Promise<string> => {
    const receipt = decodeReceipt(await o.store.get(root));
    const model = await models.get(modelId);
    const [fingerprint] = await replayFingerprints(model, receipt, [seed], { signal: abort.signal });
    return fingerprint!;
  };

  const answerChallenges = async (): Promise<number> => {
    let left = 0;
    for (const rec of Object.values(state.jobs)) {
      if (stopped) return left;
      if (rec.status !== "committed" || rec.final || !rec.root) continue;
      const jobId = BigInt(rec.jobId);
      const job = await client.getJob(jobId);
      if (FINAL_STATES.has(job.state)) {
        rec.final = true;
        await save();
        continue;
      }
      if (job.state !== JobState.Answering) {
        if (job.state === JobState.Verifying || job.state === JobState.AwaitingVerifier) left++;
        continue;
      }
      const answered = (rec.answered ??= {});
      if (answered[String(job.stage)]) continue;
      const round = await client.stageRound(jobId, job.stage);
      // A verifier that got our signed answer for one commitment and committed another on-chain:
      // report it (its stake is forfeited, a share to us; the stage is drawn again) instead of answering the copy.
      const signed = rec.signedAnswers?.[answerKey(job.stage, (await client.getStage(jobId, job.stage)).verifier)];
      if (signed && !signed.reported && signed.commitment !== round.commitment) {
        try {
          const r = await client.reportEquivocation(jobId, signed.commitment, signed.verifierSignature, txHooks(rec));
          signed.reported = r.hash;
          await save();
          log("warn", "equivocation", `job ${rec.jobId}: stage ${job.stage}'s verifier ${signed.verifier} committed another result than the one we answered off-chain: reported (tx ${r.hash}); its stake is forfeited (the decline fee's share to us, the rest to the treasury) and the stage is drawn again`, {
            jobId: rec.jobId,
            stage: job.stage,
            verifier: signed.verifier,
            tx: r.hash,
          });
        } catch (e) {
          if (stopped) return left;
          log("warn", "report failed", `job ${rec.jobId}: could not report stage ${job.stage}'s equivocating verifier (${describeError(e)}); will retry`, { jobId: rec.jobId, error: describeError(e) });
          left++;
        }
        continue;
      }
      if (round.answered & 1) {
        answered[String(job.stage)] = "answered";
        continue;
      }
      try {
        const fingerprint = await fingerprintOf(rec.root, rec.modelId, round.fingerprintSeed);
        const r = await client.answerFingerprint(jobId, fingerprint, txHooks(rec));
        answered[String(job.stage)] = r.hash;
        await save();
        log("info", "answered", `job ${rec.jobId}: answered stage ${job.stage}'s fingerprint seed (tx ${r.hash})`, { jobId: rec.jobId, stage: job.stage, tx: r.hash });
      } catch (e) {
        if (stopped) return left;
        log("warn", "answer failed", `job ${rec.jobId}: could not answer stage ${job.stage}'s fingerprint seed (${describeError(e)}); will retry while the answer window is open`, {
          jobId: rec.jobId,
          error: describeError(e),
        });
        left++;
      }
    }
    return left;
  };

  /** The change when the chain or pool is no longer the state's (undefined: the same, or the node is unreachable). */
  const identityChange = async (): Promise<IdentityChange | undefined> => {
    try {
      return compareIdentity(state.identity ?? identity, await readChainIdentity(client));
    } catch {
      return undefined;
    }
  };

  const poll = async () => {
    const head = await client.blockNumber();
    // A chain shorter than the scan (a restarted node), and every 15th poll: is it still our chain and pool?
    if (head < state.lastBlock || ++polls % 15 === 0) {
      const change = await identityChange();
      if (change) {
        chainChange = change;
        log("error", "chain-changed", `${change.message}: stopping this worker (its state stays as it is; a restart moves it aside and starts fresh)`, { change: change.kind });
        return -1;
      }
    }
    if (head > state.lastBlock) {
      // Re-read the last `reorgOverlap` blocks too (jobs already known are skipped), so a JobOpened
      // that a shallow re-org moved to a later block is not missed.
      const from = Math.max(client.deployBlock, o.fromBlock ?? 0, state.lastBlock + 1 - overlap);
      const events = await client.jobsForGenerator(account, { fromBlock: from, toBlock: head });
      for (const e of events as PoolEventOf<"JobOpened">[]) {
        const id = e.jobId.toString();
        if (state.jobs[id]) continue;
        state.jobs[id] = {
          jobId: id,
          status: "queued",
          modelId: e.modelId,
          requestHash: e.requestHash,
          requestUri: e.requestUri,
          commitDeadline: e.commitDeadline,
          betaCg: e.betaCg.toString(),
          openedBlock: e.blockNumber,
          txs: [],
          updatedAt: Date.now(),
        };
        if (e.requestUri === DIRECT_REQUEST_URI) o.intake?.bind(e.requestHash);
        log("info", "job seen", `job ${id} opened for this generator (model ${e.modelId}, commit by ${new Date(e.commitDeadline * 1000).toISOString()})`, {
          jobId: id,
          modelId: e.modelId,
          commitDeadline: e.commitDeadline,
          block: e.blockNumber,
        });
      }
      state.lastBlock = head;
      await save();
    }
    const open = Object.values(state.jobs)
      .filter((r) => r.status === "queued" || r.status === "generated" || r.status === "committing")
      .sort((a, b) => (BigInt(a.jobId) < BigInt(b.jobId) ? -1 : 1));
    let left = 0;
    for (const rec of open) {
      if (stopped) return left + 1;
      try {
        if ((await processJob(rec)) === "retry") left++;
      } catch (e) {
        if (isTransientError(e) || e instanceof RpcUnavailableError) {
          rec.reason = `will retry: ${describeError(e)}`;
          await save();
          log("warn", "job retry", `job ${rec.jobId}: will retry (${describeError(e)})`, { jobId: rec.jobId, error: describeError(e) });
          left++;
        } else {
          await finish(rec, "failed", describeError(e));
        }
      }
    }
    await answerChallenges();
    if (o.afterPoll && !stopped) {
      try {
        await o.afterPoll();
      } catch (e) {
        log("warn", "after-poll-failed", `keeper step failed (will retry): ${describeError(e)}`, { error: describeError(e) });
      }
    }
    return left;
  };

  const runPoll = () =>
    pollMutex.run(async () => {
      if (stopped) return 0;
      try {
        return await poll();
      } catch (e) {
        log("error", "poll failed", `poll failed (will retry): ${describeError(e)}`, { error: describeError(e) });
        return 1;
      }
    });

  // eslint-disable-next-line prefer-const -- assigned below; the loop only uses it after its first await
  let handle!: GeneratorWorker;
  const loop = (async () => {
    while (!stopped) {
      if ((await runPoll()) < 0) {
        void handle.stop();
        break;
      }
      if (stopped) break;
      await sleep(pollMs, abort.signal).catch(() => {});
    }
  })();

  const answerMutex = new Mutex();
  const stageAnswers = {
    client,
    answersOf: (jobId: bigint) => {
      const rec = state.jobs[jobId.toString()];
      if (!rec || rec.status !== "committed" || !rec.root) return undefined;
      return (rec.signedAnswers ??= {});
    },
    fingerprint: (jobId: bigint, seed: bigint) => {
      const rec = state.jobs[jobId.toString()]!;
      return fingerprintOf(rec.root!, rec.modelId, seed);
    },
    save,
  };

  handle = {
    account,
    done,
    chainChange: () => chainChange,
    answerStage: (jobId, req) => answerMutex.run(() => answerStage(stageAnswers, jobId, req)),
    async stop() {
      if (stopped) return done;
      stopped = true;
      abort.abort(new GeneratorWorkerError("the worker is stopping"));
      await loop;
      await pollMutex.run(async () => {});
      await saving.catch(() => {});
      if (ownsModels) await models.close();
      await lock.release();
      log("info", "stopped", "generator worker stopped", { account });
      resolveDone();
    },
    async idle() {
      // Poll now (after any poll in progress) until a poll finds nothing left to do.
      for (;;) {
        if (stopped) return;
        const left = await runPoll();
        if (left < 0) {
          await handle.stop();
          return;
        }
        if (left === 0) return;
        await sleep(Math.min(pollMs, 200), abort.signal).catch(() => {});
      }
    },
    state() {
      return JSON.parse(JSON.stringify(state)) as GeneratorState;
    },
  };
  return handle;
}
