/**
 * The answer of a job, for its user: `poc job result JOB [--json] [--model DIR] [--account N] [--store DIR]`.
 *
 * 1. The committed receipt root and URI come from the pool (`JobCommitted`).
 * 2. The receipt is read from the user's own store (`--store`, default {@link DEFAULT_USER_STORE});
 *    when it is not there, it is fetched from the committed URI with the user's signature
 *    (`Authorization: PoC …`, docs/NETWORK.md: the generator serves receipts to the job's parties
 *    only), checked against the committed root, and saved into the store — so the user keeps a copy
 *    after the generator is gone and can serve it to the job's verifiers
 *    (`poc receipts serve --store DIR`, and they pass `--receipt-mirror URL`).
 * 3. The receipt must answer the job: the request rebuilt from its fields hashes to the on-chain
 *    `requestHash`, and its model id, sampler seed and number of checks are the job's.
 * 4. The output tokens are decoded with the tokenizer of `--model DIR` (which must be the job's model).
 * 5. Whether the answer can be trusted yet, from the job's state (challenge window, verdict).
 *
 * `job status` shows the text too, from the store only (no network fetch): {@link answerFromStore}.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Signer } from "ethers";
import { PocError } from "../errors.js";
import { type JobHistory, JobState, type PoolClient, jobHistory } from "../chain/index.js";
import { modelIdOf } from "../model/index.js";
import { type TextTokenizer, wrapTokenizer } from "../model/tokenizer.js";
import { ReceiptFetchError, ReceiptNotFoundError, ReceiptStore, decodeReceipt, fetchReceipt, numChecks, type Receipt } from "../receipt/index.js";
import { checkReceiptAgainstJob, requestFromReceipt, samplerSeedFor, type BindingCheck } from "../request/index.js";
import { signAccess } from "../transport/auth.js";

/** The user's receipt store when `--store` is not given (relative to the working directory). */
export const DEFAULT_USER_STORE = ".poc/user-receipts";

export class JobResultError extends PocError {
  override name = "JobResultError";
}

export type TrustVerdict = "unchallenged" | "finalized" | "challenged" | "upheld" | "slashed" | "forfeited" | "stalemate" | "unverified";

export interface Trust {
  verdict: TrustVerdict;
  /** Nothing can change any more. */
  final: boolean;
  /** true: confirmed or final without a dispute; false: proven wrong; null: not decided. */
  trusted: boolean | null;
  /** One line for a person. */
  message: string;
  /** Unchallenged: when the challenge window closes (unix seconds). */
  finalAfter?: number;
  /** Challenged: the stage under way. */
  stage?: number;
}

const iso = (t: number) => new Date(t * 1000).toISOString().replace(".000Z", "Z");

/** Whether the answer of job `h` can be trusted yet (module comment, step 5). */
export function assessTrust(h: JobHistory, now: number): Trust {
  const v = h.view;
  const k = h.current.stage || v.stage;
  switch (h.state) {
    case JobState.Committed:
      return now < v.deadline
        ? { verdict: "unchallenged", final: false, trusted: null, finalAfter: v.deadline, message: `not challenged; final after ${iso(v.deadline)} (the user may challenge until then: poc job challenge ${h.jobId})` }
        : {
            verdict: "unchallenged",
            final: false,
            trusted: null,
            finalAfter: v.deadline,
            message: `not challenged; the challenge window closed at ${iso(v.deadline)}: final once anyone finalizes (poc job finalize ${h.jobId})`,
          };
    case JobState.Verifying:
      return { verdict: "challenged", final: false, trusted: null, stage: k, message: `challenged: stage ${k}, verifier ${h.current.verifier} replays the receipt (result due by ${iso(v.deadline)})` };
    case JobState.Answering:
      return { verdict: "challenged", final: false, trusted: null, stage: k, message: `challenged: stage ${k}, the verifier committed its result; the fingerprint answers and the reveal are due` };
    case JobState.AwaitingVerifier:
      return { verdict: "challenged", final: false, trusted: null, stage: k, message: `challenged: stage ${k} waits for a verifier to be drawn (until ${iso(v.deadline)})` };
    case JobState.Finalized:
      return { verdict: "finalized", final: true, trusted: true, message: "finalized: not challenged in the window; the generator was paid" };
    case JobState.GeneratorUpheld:
      return { verdict: "upheld", final: true, trusted: true, message: "upheld by verifiers: a verifier's replay confirmed the generator's receipt" };
    case JobState.VerifierUpheld:
      return { verdict: "slashed", final: true, trusted: false, message: "the generator was slashed: do not trust this answer" };
    case JobState.GeneratorForfeited:
      return { verdict: "forfeited", final: true, trusted: false, message: "the generator did not answer the verifiers' fingerprint seed and forfeited its stake: do not trust this answer" };
    case JobState.Stalemate:
      return { verdict: "stalemate", final: true, trusted: null, message: "stalemate: the verifiers did not settle it; the answer was neither confirmed nor refuted" };
    case JobState.Unverified:
      return { verdict: "unverified", final: true, trusted: null, message: "challenged, but no verifier could be drawn in time: the answer was never checked" };
    default:
      throw new JobResultError(`job ${h.jobId} is ${h.stateName}: it has no answer`);
  }
}

/**
 * Whether `receipt` answers the job (module comment, step 3): the request rebuilt from its own fields
 * must hash to `requestHash` (the user never needs the request itself, which may be off-chain).
 */
export function receiptAnswersJob(
  receipt: Receipt,
  job: { chainId: bigint; pool: string; jobId: bigint; modelId: string; requestHash: string; numChecks: number }
): BindingCheck {
  const n = numChecks(receipt);
  if (n !== job.numChecks) return { ok: false, reason: `the receipt has ${n} checks, the commit says ${job.numChecks}` };
  const request = requestFromReceipt(receipt, job.requestHash);
  if (!request) return { ok: false, reason: `the receipt's prompt, decoding and sampler fields do not hash to the job's requestHash ${job.requestHash}` };
  return checkReceiptAgainstJob(receipt, { modelId: job.modelId, request, samplerSeed: samplerSeedFor(job) });
}

/** The tokenizer of a model directory that must hold `modelId` (JobResultError otherwise). */
export async function tokenizerFor(dir: string, modelId: string): Promise<TextTokenizer> {
  let id: string;
  try {
    id = await modelIdOf(dir);
  } catch (e) {
    throw new JobResultError(`--model ${dir}: not a model directory`, { details: (e as Error).message, cause: e });
  }
  if (id.toLowerCase() !== modelId.toLowerCase()) throw new JobResultError(`--model ${dir} is model ${id}, the job's model is ${modelId}`);
  const read = async (f: string, optional: boolean): Promise<object> => {
    try {
      return JSON.parse(await readFile(join(dir, f), "utf8")) as object;
    } catch (e) {
      if (optional) return {};
      throw new JobResultError(`--model ${dir}: cannot read ${f}`, { details: (e as Error).message, cause: e });
    }
  };
  return wrapTokenizer(await read("tokenizer.json", false), await read("tokenizer_config.json", true));
}

/** Text safe to print on a terminal (the generator chose it): a JSON string, C1 controls escaped too. */
export function printable(text: string): string {
  return JSON.stringify(text).replace(/[\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

export interface JobResult {
  jobId: bigint;
  state: string;
  modelId: string;
  receiptRoot: string;
  receiptUri: string;
  /** Where the receipt came from: the user's store, or the committed URI (then saved to the store). */
  source: "store" | "uri";
  store: string;
  receipt: Receipt;
  binding: BindingCheck;
  /** null without a tokenizer. */
  text: string | null;
  finishReason: "stop" | "length";
  trust: Trust;
}

export interface JobResultOptions {
  /** The user's store directory (default DEFAULT_USER_STORE). */
  store?: string;
  /** Signs the fetch from the committed URI (default: the client's signer; none: fetched unsigned). */
  signer?: Signer;
  tokenizer?: TextTokenizer;
  /** Or a model directory to take it from (checked against the job's model). */
  modelDir?: string;
  timeoutMs?: number;
  history?: JobHistory;
}

/** The answer of job `jobId` (module comment). */
export async function jobResult(client: PoolClient, jobId: bigint, o: JobResultOptions = {}): Promise<JobResult> {
  const h = o.history ?? (await jobHistory(client, jobId));
  if (!h.committed || !h.opened) {
    const why =
      h.state === JobState.Open
        ? `the generator has not committed yet (it must by ${iso(h.view.deadline)})`
        : h.state === JobState.Cancelled
          ? "it was cancelled: the generator never committed (the user was refunded)"
          : `it is ${h.stateName} and has no committed receipt`;
    throw new JobResultError(`job ${jobId} has no answer: ${why}`);
  }
  const { receiptRoot, receiptUri } = h.committed;
  const store = new ReceiptStore(o.store ?? DEFAULT_USER_STORE);
  let receipt: Receipt | undefined;
  let source: JobResult["source"] = "store";
  try {
    receipt = decodeReceipt(await store.get(receiptRoot));
  } catch (e) {
    if (!(e instanceof ReceiptNotFoundError)) throw e;
  }
  if (!receipt) {
    source = "uri";
    const signer = o.signer ?? client.signer;
    const scope = { chainId: client.chainId, pool: client.address, jobId };
    let got;
    try {
      got = await fetchReceipt(receiptUri, receiptRoot, {
        ...(o.timeoutMs ? { timeoutMs: o.timeoutMs } : {}),
        ...(signer ? { authorization: () => signAccess(signer, scope) } : {}),
      });
    } catch (e) {
      if (e instanceof ReceiptFetchError && !signer && /HTTP 40[13]/.test(e.shortMessage))
        throw new JobResultError(`${e.shortMessage}`, { details: "sign as the job's user: pass --account N or set POC_PRIVATE_KEY", cause: e });
      throw e;
    }
    await store.put(got.bytes);
    receipt = got.receipt;
  }
  const binding = receiptAnswersJob(receipt, {
    chainId: client.chainId,
    pool: client.address,
    jobId,
    modelId: h.opened.modelId,
    requestHash: h.opened.requestHash,
    numChecks: h.committed.numChecks,
  });
  const tokenizer = o.tokenizer ?? (o.modelDir ? await tokenizerFor(o.modelDir, h.opened.modelId) : undefined);
  const now = (await client.latestBlock()).timestamp;
  return {
    jobId,
    state: h.stateName,
    modelId: h.opened.modelId,
    receiptRoot,
    receiptUri,
    source,
    store: store.dir,
    receipt,
    binding,
    text: tokenizer ? tokenizer.decode(receipt.outputTokens) : null,
    finishReason: receipt.outputTokens.length < receipt.decoding.maxTokens ? "stop" : "length",
    trust: assessTrust(h, now),
  };
}

/** The stable `--json` object of `poc job result`. */
export function jobResultJson(r: JobResult) {
  return {
    jobId: r.jobId.toString(),
    state: r.state,
    modelId: r.modelId,
    receiptRoot: r.receiptRoot,
    receiptUri: r.receiptUri,
    source: r.source,
    store: r.store,
    text: r.text,
    tokens: [...r.receipt.outputTokens],
    promptTokens: r.receipt.promptTokens.length,
    finishReason: r.finishReason,
    answersRequest: r.binding.ok,
    ...(r.binding.ok ? {} : { bindingProblem: r.binding.reason }),
    trust: r.trust,
  };
}

/** What `poc job result` prints. */
export function describeResult(r: JobResult): string[] {
  const lines = [`job ${r.jobId}: ${r.state} — ${r.receipt.outputTokens.length} tokens generated (${r.finishReason === "stop" ? "stopped at EOS" : "max tokens"})`];
  lines.push(`  text        ${r.text === null ? "(give --model DIR, the job's model, to decode the tokens)" : printable(r.text)}`);
  lines.push(`  tokens      ${r.receipt.outputTokens.join(",")}`);
  lines.push(`  receipt     ${r.receiptRoot} ${r.source === "store" ? `(from the store ${r.store})` : `(fetched from ${r.receiptUri}, saved to ${r.store})`}`);
  lines.push(`  request     ${r.binding.ok ? "the receipt answers the job's request (its fields hash to the on-chain requestHash)" : `DOES NOT ANSWER THE JOB: ${r.binding.reason}`}`);
  lines.push(`  trust       ${r.trust.message}`);
  return lines;
}

/** The answer in the user's store, for `job status` (no fetch): undefined when the job has no commit or the store lacks it. */
export async function answerFromStore(h: JobHistory, storeDir: string, tokenizer?: TextTokenizer): Promise<{ tokens: number[]; text: string | null } | undefined> {
  if (!h.committed) return undefined;
  try {
    const receipt = decodeReceipt(await new ReceiptStore(storeDir).get(h.committed.receiptRoot));
    return { tokens: [...receipt.outputTokens], text: tokenizer ? tokenizer.decode(receipt.outputTokens) : null };
  } catch (e) {
    if (e instanceof ReceiptNotFoundError) return undefined;
    throw e;
  }
}
