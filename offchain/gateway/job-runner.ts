/**
 * One completion = one job (or several, after fallbacks). For each generator in rank order
 * (directory.ts) until one commits:
 *
 * 1. **Open** a private job with the user's key (open-job.ts): the request (the rendered prompt
 *    tokens, the request's decoding settings, the gateway's sampler settings) is bound on-chain by
 *    its hash only, `requestUri = "poc:direct"`; Cg and Cv from the listing's price (amounts.ts).
 * 2. **Deliver** the request bytes to the generator (`POST /v1/jobs/{id}/request`).
 * 3. **Stream**: follow `GET /v1/jobs/{id}/stream` as the job's user; each token is decoded
 *    (prompt.ts IncrementalDecoder), cut at a `stop` string (StopFilter) and passed to `onDelta` as
 *    it arrives. Generation itself stops at max_tokens or the model's end-of-sequence token: `stop`
 *    strings only cut the returned text; the receipt holds every token generated.
 * 4. **Commit**: wait (at most `commitTimeoutMs` from the delivery) for `JobCommitted` on-chain.
 *    Delivery refused, a stream error, or no commit in time → the next generator, as long as
 *    nothing was passed to `onDelta` yet (otherwise a 502); the abandoned job stays Open and the
 *    settle policy cancels it after its commit deadline (the user's refund).
 * 5. **Check** the receipt: fetched from the committed URI as the user, its root must be the
 *    on-chain root, it must answer the job (`checkReceiptAgainstJob`: model, prompt, decoding,
 *    sampler, seed) and hold exactly the streamed tokens. The gateway keeps a copy (`store`).
 * 6. **Policies** (policies.ts): local replay, challenge on a mismatch or a disagreement, spot checks.
 *
 * The result's text is the committed receipt's tokens decoded (cut at `stop`), equal to the streamed
 * text when the checks pass; `proof_of_cache` says what was checked and what was sent on-chain.
 */
import { randomBytes } from "node:crypto";
import { JobState, type PoolClient, type PoolEventOf, describeError } from "../chain/index.js";
import type { ChatMessage } from "../model/chat-messages.js";
import { type JobRequest, checkReceiptAgainstJob, encodeJobRequest, parseJobRequest, samplerSeedFor } from "../request/index.js";
import type { Receipt, ReceiptStore } from "../receipt/index.js";
import { signAccess } from "../transport/auth.js";
import { verifyReceipt } from "../verify/index.js";
import type { Mutex } from "../worker/queue.js";
import { type CostPolicy, type JobCosts, jobCosts } from "./amounts.js";
import { type GeneratorDirectory, type GeneratorListing, rankListings } from "./directory.js";
import { GatewayConfigError, GatewayError, GeneratorLinkError } from "./errors.js";
import type { GeneratorLink } from "./generator-link.js";
import type { GatewayModel } from "./models.js";
import { type GatewayPolicies, challengeReason } from "./policies.js";
import { IncrementalDecoder, StopFilter } from "./prompt.js";
import { openPrivateJob } from "./open-job.js";
import type { Settler } from "./settle.js";

export interface SamplerSettings {
  ratePpm: number;
  layersPerToken: number;
  scope: "all" | "generated";
}

export const DEFAULT_SAMPLER: SamplerSettings = Object.freeze({ ratePpm: 62_500, layersPerToken: 2, scope: "all" as const });

export interface CompletionSpec {
  model: GatewayModel;
  promptTokens: number[];
  /** A chat's messages (the request carries them: the generator and the verifiers re-render them). */
  messages?: ChatMessage[];
  maxTokens: number;
  temperature: number;
  topP: number;
  seed: bigint;
  stop: string[];
}

/** What a completion proves and what the gateway did on-chain (the `proof_of_cache` object). */
export interface ProofOfCache {
  jobId: string;
  generator: string;
  endpoint: string;
  modelId: string;
  requestHash: string;
  receiptRoot: string | null;
  receiptUri: string | null;
  numChecks: number | null;
  amounts: { cg: string; cv: string; paid: string };
  transactions: { open: string; approve?: string; mint?: string; commit?: string; challenge?: string };
  /** The job's on-chain state after the gateway's actions (a JobState name). */
  state: string;
  checks: { receiptMatchesRoot: boolean; receiptAnswersJob: boolean; streamMatchesReceipt: boolean };
  /** Local replay (verify policy): whether every check matched. */
  verified?: boolean;
  problems: string[];
  challenged?: { reason: string; tx: string };
  /** Earlier generators that were tried and why they were left (fallbacks). */
  fallbacks?: { generator: string; jobId: string | null; reason: string }[];
}

export interface CompletionResult {
  text: string;
  finishReason: "stop" | "length";
  promptTokens: number;
  completionTokens: number;
  poc: ProofOfCache;
}

export interface RunnerOptions {
  /** The pool, connected with the user's signer. */
  client: PoolClient;
  directory: GeneratorDirectory;
  link: GeneratorLink;
  policies: GatewayPolicies;
  costs: CostPolicy & { maxPricePerToken?: bigint };
  sampler?: SamplerSettings;
  /** From delivery to the commit on-chain (default 120 s). */
  commitTimeoutMs?: number;
  /** Keep a copy of every receipt. */
  store?: ReceiptStore;
  /** Local TestToken only: mint the deposit's shortfall. */
  mint?: boolean;
  /** Serialises the user's transactions (one nonce sequence). */
  txMutex: Mutex;
  settler?: Settler;
  log?: (event: string, message: string, fields?: Record<string, unknown>) => void;
  /** Polling interval of the chain while waiting for a commit (default 250 ms). */
  pollMs?: number;
}

class AttemptError extends Error {
  constructor(
    message: string,
    readonly jobId: bigint | null,
    readonly sentToClient: boolean
  ) {
    super(message);
  }
}

/** An http(s) receipt URI with `?job=ID` (docs/NETWORK.md's form), added when the committed one lacks it. */
export function withJob(uri: string, jobId: bigint): string {
  if (!/^https?:\/\//i.test(uri)) return uri;
  try {
    const u = new URL(uri);
    if (!u.searchParams.has("job")) u.searchParams.set("job", jobId.toString());
    return u.href;
  } catch {
    return uri;
  }
}

const sameTokens = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((t, i) => t === b[i]);

/** A uint64 decoding seed when the request gives none. */
export function randomSeed(): bigint {
  return BigInt(`0x${randomBytes(8).toString("hex")}`);
}

export class JobRunner {
  readonly o: RunnerOptions;
  constructor(o: RunnerOptions) {
    if (!o.client.signer) throw new GatewayConfigError("the gateway needs the user's key: a pool client with a signer (--account N or POC_PRIVATE_KEY)");
    this.o = o;
  }

  #log(event: string, message: string, fields: Record<string, unknown> = {}) {
    this.o.log?.(event, message, fields);
  }

  buildRequest(spec: CompletionSpec): JobRequest {
    const s = this.o.sampler ?? DEFAULT_SAMPLER;
    return parseJobRequest({
      version: 1,
      modelId: spec.model.modelId,
      promptTokens: spec.promptTokens,
      ...(spec.messages ? { messages: spec.messages } : {}),
      decoding: { seed: spec.seed.toString(), temperature: spec.temperature, topK: 0, topP: spec.topP, maxTokens: spec.maxTokens, stopAtEos: true },
      sampler: { ratePpm: s.ratePpm, layersPerToken: s.layersPerToken, scope: s.scope },
    });
  }

  /**
   * Run a completion (module comment); `onDelta` gets the text as it streams. Without `onDelta`
   * nothing reaches the caller before the end, so a fallback is possible until a generator commits.
   */
  async run(spec: CompletionSpec, onDelta?: (text: string) => void): Promise<CompletionResult> {
    const request = this.buildRequest(spec);
    const listings = rankListings(await this.o.directory.list(spec.model.modelId), spec.model.modelId, {
      ...(this.o.costs.maxPricePerToken !== undefined ? { maxPrice: this.o.costs.maxPricePerToken } : {}),
    });
    if (listings.length === 0)
      throw new GatewayError(503, `no generator serves the model ${spec.model.name} (${spec.model.modelId})`, { code: "no_generator", type: "server_error" });
    const { params } = await this.o.client.params();
    const fallbacks: NonNullable<ProofOfCache["fallbacks"]> = [];
    for (const listing of listings) {
      const costs = jobCosts(params, { pricePerToken: listing.pricePerToken, maxTokens: spec.maxTokens, ...this.o.costs });
      try {
        const r = await this.#attempt(spec, request, listing, costs, onDelta);
        if (fallbacks.length > 0) r.poc.fallbacks = fallbacks;
        return r;
      } catch (e) {
        if (!(e instanceof AttemptError)) throw e;
        fallbacks.push({ generator: listing.address, jobId: e.jobId?.toString() ?? null, reason: e.message });
        this.#log("fallback", `generator ${listing.address}: ${e.message}`, { generator: listing.address, jobId: e.jobId?.toString() });
        if (e.sentToClient) throw new GatewayError(502, `the generator failed after streaming part of the answer: ${e.message}`, { code: "generator_failed" });
      }
    }
    throw new GatewayError(502, `every generator failed: ${fallbacks.map((f) => `${f.generator}: ${f.reason}`).join("; ")}`, { code: "generator_failed" });
  }

  async #attempt(spec: CompletionSpec, request: JobRequest, listing: GeneratorListing, costs: JobCosts, onDelta: ((t: string) => void) | undefined): Promise<CompletionResult> {
    const { client } = this.o;
    const opened = await this.o.txMutex.run(() =>
      openPrivateJob(client, { generator: listing.address, request, cg: costs.cg, cv: costs.cv, mint: this.o.mint ?? false })
    );
    const jobId = opened.jobId;
    this.o.settler?.track(jobId);
    this.#log("opened", `job ${jobId} opened for ${listing.address} (tx ${opened.tx})`, { jobId: jobId.toString(), generator: listing.address });
    const scope = { chainId: client.chainId, pool: client.address, jobId };
    const auth = await signAccess(client.signer!, scope);
    let sent = false;
    const fail = (m: string) => new AttemptError(m, jobId, sent);
    const timeoutMs = this.o.commitTimeoutMs ?? 120_000;

    try {
      await this.o.link.deliverRequest(listing.endpoint, jobId, encodeJobRequest(request));
    } catch (e) {
      throw fail(e instanceof GeneratorLinkError ? e.shortMessage : describeError(e));
    }
    const deadline = Date.now() + timeoutMs;
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), timeoutMs);
    const decoder = new IncrementalDecoder(spec.model.prompt.tokenizer);
    const stop = new StopFilter(spec.stop);
    const streamed: number[] = [];
    const problems: string[] = [];
    let done: { tokens: number[]; finishReason: "stop" | "length" } | undefined;
    const emit = (t: string) => {
      if (t === "" || !onDelta) return;
      sent = true;
      onDelta(t);
    };
    try {
      for await (const ev of this.o.link.streamJob(listing.endpoint, jobId, auth, { signal: abort.signal })) {
        if (ev.kind === "token") {
          if (ev.index !== streamed.length) problems.push(`the stream sent token index ${ev.index} where ${streamed.length} was due`);
          streamed.push(ev.token);
          emit(stop.push(decoder.push(ev.token)));
        } else if (ev.kind === "done") {
          done = { tokens: ev.tokens, finishReason: ev.finishReason };
          emit(stop.push(decoder.flush()));
          emit(stop.end());
        } else if (ev.kind === "committed") break;
        else if (ev.kind === "error") throw fail(`the generator reported: ${ev.message}`);
      }
    } catch (e) {
      if (e instanceof AttemptError) throw e;
      if (!abort.signal.aborted) throw fail(e instanceof GeneratorLinkError ? e.shortMessage : describeError(e));
    } finally {
      clearTimeout(timer);
    }
    if (!done) {
      emit(stop.push(decoder.flush()));
      emit(stop.end());
    }

    // the commit, on-chain
    const committed = await this.#waitForCommit(jobId, deadline);
    if (!committed) throw fail(`no commit within ${timeoutMs / 1000} s`);
    const poc: ProofOfCache = {
      jobId: jobId.toString(),
      generator: listing.address,
      endpoint: listing.endpoint,
      modelId: request.modelId,
      requestHash: opened.requestHash,
      receiptRoot: committed.receiptRoot,
      receiptUri: committed.receiptUri,
      numChecks: committed.numChecks,
      amounts: { cg: costs.cg.toString(), cv: costs.cv.toString(), paid: costs.deposit.toString() },
      transactions: { open: opened.tx, ...(opened.approveTx ? { approve: opened.approveTx } : {}), ...(opened.mintTx ? { mint: opened.mintTx } : {}), commit: committed.transactionHash },
      state: JobState[JobState.Committed],
      checks: { receiptMatchesRoot: false, receiptAnswersJob: false, streamMatchesReceipt: false },
      problems,
    };

    // the receipt
    let receipt: Receipt | undefined;
    try {
      const got = await this.o.link.fetchReceipt(withJob(committed.receiptUri, jobId), committed.receiptRoot, await signAccess(client.signer!, scope));
      receipt = got.receipt;
      poc.checks.receiptMatchesRoot = true;
      if (this.o.store) await this.o.store.put(got.bytes).catch((e: unknown) => problems.push(`could not keep a copy of the receipt: ${describeError(e)}`));
    } catch (e) {
      problems.push(`receipt unavailable: ${e instanceof GeneratorLinkError ? e.shortMessage : describeError(e)}`);
    }
    if (receipt) {
      const binding = checkReceiptAgainstJob(receipt, { modelId: request.modelId, request, samplerSeed: samplerSeedFor(scope) });
      poc.checks.receiptAnswersJob = binding.ok;
      if (!binding.ok) problems.push(`the receipt does not answer the job: ${binding.reason}`);
      poc.checks.streamMatchesReceipt = sameTokens(streamed, receipt.outputTokens) && (!done || sameTokens(done.tokens, receipt.outputTokens));
      if (!poc.checks.streamMatchesReceipt)
        problems.push(`the streamed tokens (${streamed.length}) differ from the committed receipt's (${receipt.outputTokens.length})`);
    }
    let verdict: { agrees: boolean } | undefined;
    if (this.o.policies.verifyLocally && receipt && spec.model.loaded) {
      try {
        const v = await verifyReceipt(spec.model.loaded, receipt, { expectedRoot: committed.receiptRoot });
        verdict = v;
        poc.verified = v.agrees;
        if (!v.agrees) problems.push(`the local replay disagrees: ${v.matched}/${v.checks} checks matched${v.malformed ? ` (${v.malformed.message})` : ""}`);
      } catch (e) {
        poc.verified = false;
        verdict = { agrees: false };
        problems.push(`the local replay refused the receipt: ${describeError(e)}`);
      }
    }
    const reason = challengeReason(this.o.policies, { problems, localVerdict: verdict });
    if (reason) {
      try {
        const tx = await this.o.txMutex.run(() => client.challenge(jobId));
        poc.challenged = { reason, tx: tx.hash };
        poc.transactions.challenge = tx.hash;
        this.#log("challenged", `job ${jobId}: challenged (${reason}, tx ${tx.hash})`, { jobId: jobId.toString(), reason });
      } catch (e) {
        problems.push(`the challenge failed: ${describeError(e)}`);
      }
    }
    poc.state = JobState[(await client.getJob(jobId)).state] ?? "unknown";

    // the answer: the committed tokens (equal to the streamed ones when the checks pass)
    let text: string;
    let tokens: readonly number[];
    if (receipt) {
      const f = new StopFilter(spec.stop);
      f.push(spec.model.prompt.tokenizer.decode(receipt.outputTokens));
      text = f.text();
      tokens = receipt.outputTokens;
    } else {
      text = stop.text();
      tokens = streamed;
    }
    const eosEnd = tokens.length < spec.maxTokens;
    return { text, finishReason: stop.stopped || eosEnd ? "stop" : "length", promptTokens: spec.promptTokens.length, completionTokens: tokens.length, poc };
  }

  /** The job's JobCommitted event once mined (polling the chain until `deadline`), or undefined. */
  async #waitForCommit(jobId: bigint, deadline: number): Promise<PoolEventOf<"JobCommitted"> | undefined> {
    for (;;) {
      const job = await this.o.client.getJob(jobId);
      if (job.state !== JobState.Open) {
        const rec = await this.o.client.jobRecord(jobId);
        return rec.committed;
      }
      if (Date.now() >= deadline) return undefined;
      await new Promise((r) => setTimeout(r, Math.min(this.o.pollMs ?? 250, Math.max(1, deadline - Date.now()))));
    }
  }
}
