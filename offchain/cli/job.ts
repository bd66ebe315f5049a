/**
 * The user's commands (BRIEF "Who uses it": users buy one inference from a generator, escrow their
 * payment in the pool, and may challenge the result):
 *
 *   poc job open --generator ADDR (--model DIR | --model-id HEX) (--prompt TEXT | --prompt-tokens IDS | --chat JSON)
 *                --max-tokens N --cg AMOUNT --cv AMOUNT [decoding and sampler options] [--direct URL]
 *   poc job deliver JOB --direct URL (the same request options)   deliver a private job's request (again)
 *   poc job challenge JOB        the user disputes the committed result (stage 1 joins the draw queue)
 *   poc job finalize JOB         anyone, after the challenge window: pays the generator
 *   poc job cancel JOB           anyone, after the commit deadline without a commit: refunds the user
 *   poc job timeout-verifier JOB anyone, after a verifier's deadline: its stake goes to the treasury, the stage is drawn again
 *   poc job timeout-draw JOB     anyone, after the draw deadline: stage 1 settles as unchallenged (Unverified), later ones as a stalemate
 *   poc job decline JOB          the drawn verifier, in the first quarter of its window: give the stage back for the decline fee
 *   poc job advance JOB [--wait] whichever of cancel / finalize / timeoutVerifier / drawVerifiers / timeoutDraw is due (anyone; ./advance.ts)
 *   poc job status JOB [--json]  state, deadlines, stages, each verifier's result, payouts; the answer when the user's store holds it
 *   poc job result JOB [--json]  the answer: text, tokens, receipt root, whether it can be trusted yet (./job-result.ts)
 *   poc withdraw                 pay out the account's credit
 *
 * `job open` builds the job request (offchain/request: model id, prompt tokens, decoding and sampler
 * configuration), puts it on-chain as a `data:` URI with its hash, approves αCg + αCv when the
 * allowance is short and opens the job. The prompt text is tokenized with the model's own tokenizer,
 * so `--prompt` needs the model directory (`--model DIR`, which also gives the model id); with only
 * `--model-id`, give `--prompt-tokens`. Amounts are in whole tokens (decimals allowed: 1.5).
 *
 * `--direct URL` makes the job private (docs/NETWORK.md): `requestUri` is `poc:direct` (only the hash
 * goes on-chain) and the request encoding is POSTed to the generator's server at
 * `URL/v1/jobs/<id>/request`. When that delivery fails the job stays open; `job deliver JOB --direct
 * URL` with the same request options sends it again (it checks the hash against the job first).
 *
 * The helpers (buildJobRequest, openJobWithRequest, describeJob, stageResults) are exported for the
 * demo and tests.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { Command, Option } from "commander";
import { z } from "zod";
import { PocError } from "../errors.js";
import { type JobHistory, JobState, StageStatus, type PoolClient, type TxResult, jobHistory } from "../chain/index.js";
import { modelIdOf } from "../model/index.js";
import { wrapTokenizer } from "../model/tokenizer.js";
import { type ChatError, type ChatMessage, type ChatModel, chatPromptTokens, parseChatJson, tokenizerSetupOf } from "../model/chat.js";
import { type JobRequest, encodeJobRequest, parseJobRequest, requestHash, requestToDataUri } from "../request/index.js";
import { DIRECT_REQUEST_URI } from "../worker/generator.js";
import { deliverRequest, type Delivered } from "../transport/generator-client.js";
import { HEX32_RE, parseRatePpm, toSeed64 } from "../sampling/index.js";
import { matchedCountOfHex } from "../receipt/bitmap.js";
import { addChainOptions, formatTokens, parseTokenAmount, withClient, type ChainCliOptions } from "./chain-options.js";
import { REQUEST_DEFAULTS, sampleRateSchema } from "./options.js";
import { describeDrawEvents } from "./pool.js";
import { advanceCommand, finalizeWhenDue } from "./advance.js";
import { amountProblem } from "../chain/pool-params.js";
import { clocksAt, type Clocks, when } from "../chain/clock.js";
import { DEFAULT_USER_STORE, answerFromStore, describeResult, jobResult, jobResultJson, printable, tokenizerFor } from "./job-result.js";

export class JobCliError extends PocError {
  override name = "JobCliError";
}

// ------------------------------------------------------------------------------------------------
// Library
// ------------------------------------------------------------------------------------------------

export interface JobRequestParams {
  modelId: string;
  promptTokens: number[];
  /** A chat's messages: promptTokens must be them rendered with the model's template (chat.ts chatPromptTokens). */
  messages?: ChatMessage[];
  maxTokens: number;
  seed?: bigint | number | string;
  temperature?: number;
  topK?: number;
  topP?: number;
  stopAtEos?: boolean;
  /** Fraction of positions sampled: 0.0625, "1/16", "6.25%" (default 1/16). */
  sampleRate?: number | string;
  layersPerToken?: number;
  scope?: "all" | "generated";
  kvDtype?: "float32" | "float16";
}

/** The job request for these parameters (validated; RequestError names a bad field). */
export function buildJobRequest(p: JobRequestParams): JobRequest {
  return parseJobRequest({
    version: 1,
    modelId: p.modelId,
    promptTokens: p.promptTokens,
    ...(p.messages ? { messages: p.messages } : {}),
    decoding: {
      seed: (p.seed ?? REQUEST_DEFAULTS.seed).toString(),
      temperature: p.temperature ?? REQUEST_DEFAULTS.temperature,
      topK: p.topK ?? REQUEST_DEFAULTS.topK,
      topP: p.topP ?? REQUEST_DEFAULTS.topP,
      maxTokens: p.maxTokens,
      stopAtEos: p.stopAtEos ?? false,
    },
    sampler: {
      ratePpm: parseRatePpm(p.sampleRate ?? REQUEST_DEFAULTS.sampleRate),
      layersPerToken: p.layersPerToken ?? REQUEST_DEFAULTS.layersPerToken,
      scope: p.scope ?? REQUEST_DEFAULTS.scope,
    },
    ...(p.kvDtype ? { kvDtype: p.kvDtype } : {}),
  });
}

export interface OpenedJob {
  jobId: bigint;
  requestHash: string;
  requestUri: string;
  tx: TxResult;
  /** The approve transaction, when the allowance was short. */
  approveTx: TxResult | null;
}

/**
 * Approve αCg + αCv if needed and open a job for `request` with a data: URI (module comment), or with
 * `requestUri: "poc:direct"` for a private job whose request is delivered to the generator directly.
 */
export async function openJobWithRequest(
  client: PoolClient,
  o: { generator: string; request: JobRequest; cg: bigint; cv: bigint; requestUri?: typeof DIRECT_REQUEST_URI }
): Promise<OpenedJob> {
  const hash = requestHash(o.request);
  const uri = o.requestUri ?? requestToDataUri(o.request);
  const approveTx = await client.approveIfNeeded(await client.openDeposit(o.cg, o.cv));
  const r = await client.openJob({ generator: o.generator, modelId: o.request.modelId, cg: o.cg, cv: o.cv, requestHash: hash, requestUri: uri });
  return { jobId: r.jobId, requestHash: hash, requestUri: uri, tx: r, approveTx };
}

/** What one verifier's result says, compared with the generator's claim and the earlier verifiers. */
export type StageResult =
  | { kind: "pending" }
  | { kind: "timedOut" }
  | { kind: "equivocated" }
  | { kind: "declined" }
  | { kind: "agreesWithGenerator" }
  | { kind: "agreesWithVerifier"; stage: number; verifier: string }
  | { kind: "none" };

export interface StageResultRow {
  stage: number;
  verifier: string;
  result: StageResult;
  matchBitmap?: string;
  /** Matched checks / numChecks of the bitmap (when submitted). */
  matched?: number;
}

/** Every verifier drawn for the job, in order, with what its result agrees with. */
export function stageResults(h: JobHistory): StageResultRow[] {
  const rows: StageResultRow[] = [];
  const earlier: { stage: number; verifier: string; hash: string }[] = [];
  for (const s of h.stages) {
    for (const a of s.assignments) {
      let result: StageResult;
      if (a.outcome === "pending") result = { kind: "pending" };
      else if (a.outcome === "timedOut") result = { kind: "timedOut" };
      else if (a.outcome === "equivocated") result = { kind: "equivocated" };
      else if (a.outcome === "declined") result = { kind: "declined" };
      else if (a.agreesWithGenerator) result = { kind: "agreesWithGenerator" };
      else {
        const same = earlier.find((e) => e.hash === a.resultHash);
        result = same ? { kind: "agreesWithVerifier", stage: same.stage, verifier: same.verifier } : { kind: "none" };
      }
      rows.push({
        stage: s.stage,
        verifier: a.verifier,
        result,
        ...(a.matchBitmap ? { matchBitmap: a.matchBitmap, matched: matchedCountOfHex(a.matchBitmap) } : {}),
      });
      if (a.outcome === "submitted" && a.resultHash) earlier.push({ stage: s.stage, verifier: a.verifier, hash: a.resultHash });
    }
  }
  return rows;
}

export function describeStageResult(r: StageResult): string {
  switch (r.kind) {
    case "pending":
      return "has not submitted yet";
    case "timedOut":
      return "missed its deadline (its stake went to the treasury)";
    case "equivocated":
      return "committed another result than the one it signed for the generator's answer (its stake was forfeited, a share to the reporter)";
    case "declined":
      return "declined the assignment (paid the decline fee to the treasury)";
    case "agreesWithGenerator":
      return "agrees with the generator";
    case "agreesWithVerifier":
      return `disagrees with the generator and agrees with the verifier of stage ${r.stage}`;
    case "none":
      return "disagrees with the generator and with every earlier verifier";
  }
}

const OUTCOME_WORDS: Record<number, string> = {
  [JobState.None]: "does not exist",
  [JobState.Open]: "open: waiting for the generator to commit",
  [JobState.Committed]: "committed: the generator staked and committed its receipt",
  [JobState.Verifying]: "being verified",
  [JobState.AwaitingVerifier]: "waiting in the draw queue for a verifier",
  [JobState.Finalized]: "finalized without a challenge: the generator was paid",
  [JobState.Cancelled]: "cancelled: the generator never committed, the user was refunded",
  [JobState.GeneratorUpheld]: "settled: a verifier confirmed the generator's result",
  [JobState.VerifierUpheld]: "settled: a verifier confirmed an earlier verifier, the generator was slashed",
  [JobState.Stalemate]:
    "settled as a stalemate: the user got αCv back, the generator's deposits went to the treasury (and, after the last stage, every verifier's stake)",
  [JobState.Unverified]: "no verifier could be drawn for the challenge in time: the generator was paid as if unchallenged, the user's αCv went to the treasury",
};

const short = (a: string) => `${a.slice(0, 6)}…${a.slice(-4)}`;

/** A job's status in plain words (what `poc job status` prints). */
export function describeJob(h: JobHistory, o: { decimals: number; clocks: Clocks; symbol?: string; names?: Map<string, string> }): string[] {
  const f = (v: bigint) => `${formatTokens(v, o.decimals)}${o.symbol ? ` ${o.symbol}` : ""}`;
  const who = (a: string) => o.names?.get(a.toLowerCase()) ?? a;
  const v = h.view;
  const lines: string[] = [];
  lines.push(`job ${h.jobId}: ${h.stateName} — ${OUTCOME_WORDS[h.state] ?? "unknown state"}`);
  lines.push(`  user        ${who(v.user)}`);
  lines.push(`  generator   ${who(v.generator)}`);
  if (h.opened) {
    lines.push(`  model       ${h.opened.modelId}`);
    const uri = h.opened.requestUri;
    lines.push(`  request     ${uri.length > 60 ? uri.slice(0, 57) + "..." : uri} (hash ${h.opened.requestHash})`);
  }
  lines.push(
    `  amounts     the user paid αCg ${f(v.alphaCg)} + αCv ${f(v.alphaCv)}; the generator stakes βCg ${f(v.betaCg)}; each verifier stakes βCv ${f(v.betaCv)}`
  );
  if (h.committed) {
    lines.push(`  committed   receipt ${h.committed.receiptRoot} with ${h.committed.numChecks} checks, at ${h.committed.receiptUri}`);
  }
  if (h.challenged) lines.push(`  challenged  by the user in block ${h.challenged.at.block}`);
  for (const r of stageResults(h)) {
    const m = r.matched !== undefined && h.committed ? ` (${r.matched}/${h.committed.numChecks} checks matched)` : "";
    lines.push(`  stage ${r.stage}     verifier ${who(r.verifier)} ${describeStageResult(r.result)}${m}`);
  }
  for (const s of h.stages) for (const u of s.unavailable ?? []) lines.push(`  stage ${s.stage}     no verifier could be drawn (block ${u.at.block})`);
  switch (h.state) {
    case JobState.Open:
      lines.push(`  next        the generator must commit by ${when(v.deadline, o.clocks)}; after that anyone may cancel (\`poc job cancel ${h.jobId}\`: the user is refunded in full; a generator that skips a job never commits)`);
      break;
    case JobState.Committed:
      lines.push(`  next        the user may challenge until ${when(v.deadline, o.clocks)}; after that anyone may finalize (\`poc job finalize ${h.jobId} --wait\`)`);
      break;
    case JobState.Verifying:
      lines.push(
        `  next        the verifier of stage ${h.current.stage} (${who(h.current.verifier)}) must submit by ${when(
          v.deadline,
          o.clocks
        )} (or decline early); after that anyone may call \`poc job timeout-verifier ${h.jobId}\` (its stake goes to the treasury)`
      );
      break;
    case JobState.AwaitingVerifier:
      lines.push(
        `  next        stage ${v.stage} waits for a draw: anyone advances the queue (\`poc pool draw\`; verifier workers do it) until ${when(
          v.deadline,
          o.clocks
        )}; after that \`poc job timeout-draw ${h.jobId}\` settles it (${v.stage === 1 ? "Unverified: the generator is paid, the user's αCv goes to the treasury" : "as a stalemate"})`
      );
      break;
    default:
      break;
  }
  const s = h.settlement;
  if (s) {
    const p = s.payouts;
    const slashedGen = s.kind === "settled" && s.outcome === JobState.VerifierUpheld;
    lines.push(`  payouts     (credited by the pool; each party withdraws with \`poc withdraw\`)`);
    lines.push(`    user                ${f(p.user)}`);
    lines.push(`    generator           ${f(p.generator)}${slashedGen ? ` (lost its stake βCg ${f(v.betaCg)})` : ""}`);
    for (const x of p.verifiers) lines.push(`    verifier ${who(x.verifier)}  ${f(x.payout)}${x.payout === 0n ? ` (lost its stake βCv ${f(v.betaCv)})` : ""}`);
    if (p.treasury > 0n) lines.push(`    treasury            ${f(p.treasury)}`);
    lines.push(`    total               ${f(p.total)} = everything the job held`);
  } else if (v.escrow > 0n) {
    lines.push(`  escrow      ${f(v.escrow)} held by the pool for this job`);
  }
  return lines;
}

/** A JSON-ready view of a job's history (bigints as decimal strings). */
export function jobStatusJson(h: JobHistory): unknown {
  return JSON.parse(
    JSON.stringify(
      {
        jobId: h.jobId,
        state: h.stateName,
        final: h.final,
        view: { ...h.view, state: h.stateName },
        current: h.current,
        opened: h.opened,
        committed: h.committed,
        challenged: h.challenged,
        stages: stageResults(h),
        settlement: h.settlement ? { ...h.settlement, ...(h.settlement.kind === "settled" ? { outcome: JobState[h.settlement.outcome] } : {}) } : undefined,
        stageStatus: h.stages.map((s) => ({ stage: s.stage, status: StageStatus[s.status] })),
      },
      (_k, x: unknown) => (typeof x === "bigint" ? x.toString() : x)
    )
  );
}

// ------------------------------------------------------------------------------------------------
// CLI
// ------------------------------------------------------------------------------------------------

const hex32 = z.string().regex(HEX32_RE, "must be 0x followed by 64 hex digits");
const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/, "must be an address (0x + 40 hex digits)");
const posInt = (name: string) =>
  z
    .string()
    .regex(/^\d+$/, `${name} must be a positive integer`)
    .transform(Number)
    .refine((n) => Number.isSafeInteger(n) && n >= 1, `${name} must be a positive integer`);
const nonNegInt = (name: string) => z.string().regex(/^\d+$/, `${name} must be a non-negative integer`).transform(Number);
const num = (name: string, check: (n: number) => boolean, what: string) =>
  z
    .string()
    .transform(Number)
    .refine((n) => Number.isFinite(n) && check(n), `${name} must be ${what}`);
const amount = (name: string) => z.string().regex(/^(\d+)(\.\d+)?$/, `${name} must be an amount of tokens, e.g. 100 or 0.5`);

const requestFields = {
    model: z.string().min(1).optional(),
    variant: z.string().min(1, "--variant needs a name (fp32, fp16, q4, …)").optional(),
    modelId: hex32.optional(),
    prompt: z.string().optional(),
    promptTokens: z
      .string()
      .regex(/^\s*\d+(\s*[,\s]\s*\d+)*\s*$/, "--prompt-tokens must be comma-separated token ids, e.g. 256,72,105")
      .transform((s) =>
        s
          .split(/[\s,]+/)
          .filter(Boolean)
          .map(Number)
      )
      .optional(),
    chat: z
      .string()
      .transform((text, ctx) => {
        try {
          return parseChatJson(text);
        } catch (e) {
          const err = e as ChatError;
          ctx.addIssue({ code: "custom", message: err.details ? `${err.shortMessage}: ${err.details}` : err.shortMessage });
          return z.NEVER;
        }
      })
      .optional(),
    specialTokens: z.boolean().default(true),
    maxTokens: posInt("--max-tokens"),
    seed: z.string().refine((s) => {
      try {
        toSeed64(s.trim());
        return true;
      } catch {
        return false;
      }
    }, "--seed must be a decimal integer in [0, 2^64)"),
    temperature: num("--temperature", (n) => n >= 0, "a number >= 0 (0 = greedy)"),
    topK: nonNegInt("--top-k"),
    topP: num("--top-p", (n) => n > 0 && n <= 1, "a number in (0, 1]"),
    stopAtEos: z.boolean().default(false),
    sampleRate: sampleRateSchema,
    layersPerToken: posInt("--layers-per-token"),
    scope: z.enum(["all", "generated"]),
    kvDtype: z.enum(["float32", "float16"]).optional(),
};
const directUrl = z.url({ protocol: /^https?$/, error: "--direct must be the generator's http(s) base URL" });

type RequestOptionsShape = { model?: string | undefined; variant?: string | undefined; modelId?: string | undefined; prompt?: string | undefined; promptTokens?: number[] | undefined; chat?: ChatMessage[] | undefined };
function requestRules<T extends z.ZodType<RequestOptionsShape>>(schema: T) {
  return schema
    .refine((o) => o.model !== undefined || o.modelId !== undefined, { message: "give --model DIR (or --model-id HEX with --prompt-tokens)" })
    .refine((o) => [o.prompt, o.promptTokens, o.chat].filter((x) => x !== undefined).length === 1, { message: "give exactly one of --prompt TEXT, --prompt-tokens IDS and --chat JSON" })
    .refine((o) => o.prompt === undefined || o.model !== undefined, {
      message: "--prompt needs --model DIR: the prompt is tokenized with the model's tokenizer (or give --prompt-tokens)",
    })
    .refine((o) => o.chat === undefined || o.model !== undefined, { message: "--chat needs --model DIR: the messages are rendered with the model's chat template" })
    .refine((o) => o.variant === undefined || o.model !== undefined, { message: "--variant needs --model DIR (it picks one of the directory's ONNX variants)" });
}

const openSchema = requestRules(
  z.object({
    ...requestFields,
    generator: address,
    cg: amount("--cg"),
    cv: amount("--cv"),
    json: z.boolean().default(false),
    mint: z.boolean().default(false),
    direct: directUrl.optional(),
  })
);
const deliverSchema = requestRules(z.object({ ...requestFields, direct: directUrl, json: z.boolean().default(false) }));

function parseOr<T extends z.ZodType>(schema: T, input: unknown): z.output<T> {
  const r = schema.safeParse(input);
  if (!r.success) throw new JobCliError(r.error.issues.map((i) => i.message).join("; "));
  return r.data;
}

const jobIdSchema = z
  .string()
  .regex(/^\d+$/, "JOB must be a job id (a positive integer)")
  .transform(BigInt)
  .refine((n) => n > 0n, "JOB must be a job id (ids start at 1)");

/** Model id and tokenizer of a model directory (reads tokenizer.json; does not load the ONNX graph). */
async function modelInfo(dir: string, variant?: string) {
  const modelId = await modelIdOf(dir, variant !== undefined ? { variant } : {});
  const tokJson = JSON.parse(await readFile(join(dir, "tokenizer.json"), "utf8")) as object;
  let tokCfg: object = {};
  try {
    tokCfg = JSON.parse(await readFile(join(dir, "tokenizer_config.json"), "utf8")) as object;
  } catch {
    // optional
  }
  let maxPositions: number | null = null;
  let vocabSize: number | null = null;
  try {
    const cfg = JSON.parse(await readFile(join(dir, "config.json"), "utf8")) as { max_position_embeddings?: number; vocab_size?: number };
    maxPositions = typeof cfg.max_position_embeddings === "number" ? cfg.max_position_embeddings : null;
    vocabSize = typeof cfg.vocab_size === "number" ? cfg.vocab_size : null;
  } catch {
    // checked by modelIdOf already
  }
  const tokenizer = wrapTokenizer(tokJson, tokCfg);
  return { modelId, tokenizer, chat: { tokenizer, setup: tokenizerSetupOf(tokCfg, tokenizer) } satisfies ChatModel, maxPositions, vocabSize };
}

async function tokenUnits(client: PoolClient) {
  const decimals = await client.tokenDecimals();
  return {
    decimals,
    parse: (s: string, name: string) => {
      try {
        return parseTokenAmount(s, decimals);
      } catch (e) {
        throw new JobCliError(`${name}: ${(e as Error).message.split("\n")[0]}`);
      }
    },
    format: (v: bigint) => formatTokens(v, decimals),
  };
}

type OpenCli = ChainCliOptions & Record<string, unknown>;

/** The job request the request options (`--model`, `--prompt`, decoding and sampler options) describe. */
async function requestFromOptions(o: z.output<typeof deliverSchema> | z.output<typeof openSchema>): Promise<JobRequest> {
  let modelId = o.modelId?.toLowerCase();
  let promptTokens = o.promptTokens;
  if (o.model) {
    const info = await modelInfo(o.model, o.variant);
    if (modelId && modelId !== info.modelId) throw new JobCliError(`--model-id ${modelId} is not the id of ${o.model} (${info.modelId})`);
    modelId = info.modelId;
    if (o.prompt !== undefined) promptTokens = info.tokenizer.encode(o.prompt, { addSpecialTokens: o.specialTokens });
    if (o.chat !== undefined) promptTokens = chatPromptTokens(info.chat, o.chat);
    if (!promptTokens || promptTokens.length === 0) throw new JobCliError("the prompt is empty after tokenization");
    if (info.vocabSize !== null && promptTokens.some((t) => t >= info.vocabSize!))
      throw new JobCliError(`a prompt token is outside the model's vocabulary of ${info.vocabSize}`);
    if (info.maxPositions !== null && promptTokens.length + o.maxTokens > info.maxPositions) {
      throw new JobCliError(`prompt (${promptTokens.length} tokens) + --max-tokens ${o.maxTokens} exceeds the model's context of ${info.maxPositions} tokens`);
    }
  }
  return buildJobRequest({
    modelId: modelId!,
    promptTokens: promptTokens!,
    ...(o.chat ? { messages: o.chat } : {}),
    maxTokens: o.maxTokens,
    seed: o.seed.trim(),
    temperature: o.temperature,
    topK: o.topK,
    topP: o.topP,
    stopAtEos: o.stopAtEos,
    sampleRate: o.sampleRate,
    layersPerToken: o.layersPerToken,
    scope: o.scope,
    ...(o.kvDtype ? { kvDtype: o.kvDtype } : {}),
  });
}

const shellWord = (w: string) => (/^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`);

/** The `poc job deliver` line that retries a failed delivery: this `job open` line without its opening-only options. */
export function deliverRetryCommand(argv: readonly string[], jobId: bigint, url: string): string {
  const i = argv.indexOf("open");
  const rest = i >= 0 && argv[i - 1] === "job" ? argv.slice(i + 1) : [];
  const withValue = new Set(["--generator", "--cg", "--cv", "--direct"]);
  const flags = new Set(["--mint", "--json"]);
  const kept: string[] = [];
  for (let k = 0; k < rest.length; k++) {
    const a = rest[k]!;
    const name = a.split("=")[0]!;
    if (withValue.has(name)) {
      if (!a.includes("=")) k++;
      continue;
    }
    if (flags.has(name)) continue;
    kept.push(a);
  }
  const opts = kept.length ? kept.map(shellWord).join(" ") : "<the request options of job open: --model … --prompt … --max-tokens …>";
  return `npx poc job deliver ${jobId} --direct ${shellWord(url)} ${opts}`;
}

type DeliveryOutcome = { ok: true; delivered: Delivered } | { ok: false; error: string; status?: number; code?: string };

async function tryDeliver(url: string, jobId: bigint, request: JobRequest): Promise<DeliveryOutcome> {
  try {
    return { ok: true, delivered: await deliverRequest(url, jobId, encodeJobRequest(request)) };
  } catch (e) {
    const err = e as PocError & { status?: number; code?: string };
    return {
      ok: false,
      error: err instanceof PocError ? err.message.split("\n").join(" ") : String(e),
      ...(err.status !== undefined ? { status: err.status } : {}),
      ...(err.code !== undefined ? { code: err.code } : {}),
    };
  }
}

function describeDelivery(r: DeliveryOutcome, url: string): string {
  if (r.ok) return `delivered to ${url}${r.delivered.held ? " (the generator had not seen the job yet: it holds the request for 10 minutes)" : " (accepted)"}`;
  return `NOT delivered to ${url}: ${r.error}`;
}

async function runOpen(raw: OpenCli): Promise<void> {
  const o = parseOr(openSchema, raw);
  const request = await requestFromOptions(o);
  await withClient(raw, true, async (client) => {
    const units = await tokenUnits(client);
    const cg = units.parse(o.cg, "--cg");
    const cv = units.parse(o.cv, "--cv");
    const { params } = await client.params();
    const problem = amountProblem(params, cg, cv);
    // amountProblem speaks base units: show tokens (wei stays for --json).
    if (problem) throw new JobCliError(`--cg ${o.cg} --cv ${o.cv}: ${o.json ? problem : problem.replace(/\((\d+)\)/g, (_m, v: string) => `(${units.format(BigInt(v))})`)}`);
    // The pool opens jobs only for a model enough verifiers serve (StakePoolModelUnderserved): said before anything is minted or approved.
    const served = await client.modelStake(request.modelId);
    const minVerifiers = params.maxStages + 2;
    if (served.total < params.minModelStake || served.verifiers < minVerifiers)
      throw new JobCliError(
        `model ${request.modelId} is not served enough to open a job: ${served.verifiers} verifier(s) with ${units.format(served.total)} of draw weight declared it; the pool needs ${units.format(params.minModelStake)} from at least ${minVerifiers}`,
        { details: "verifiers declare the models they replay (poc verifier models, or the worker's --models); each ONNX variant (--variant) is a model of its own" },
      );
    const deposit = await client.openDeposit(cg, cv);
    const me = await client.account();
    const wallet = await client.tokenBalance(me);
    if (wallet < deposit) {
      if (!o.mint)
        throw new JobCliError(`the wallet holds ${units.format(wallet)}, opening this job needs αCg + αCv = ${units.format(deposit)}`, {
          details: "on a local chain, --mint mints test tokens",
        });
      await client.mintTestTokens(me, deposit - wallet);
      if (!o.json) console.log(`minted ${units.format(deposit - wallet)} test tokens`);
    }
    const opened = await openJobWithRequest(client, { generator: o.generator, request, cg, cv, ...(o.direct ? { requestUri: DIRECT_REQUEST_URI } : {}) });
    const ev = opened.tx.events.find((e) => e.name === "JobOpened");
    const delivery = o.direct ? await tryDeliver(o.direct, opened.jobId, request) : undefined;
    const retry = o.direct && delivery && !delivery.ok ? deliverRetryCommand(process.argv, opened.jobId, o.direct) : undefined;
    if (delivery && !delivery.ok) process.exitCode = 1;
    if (o.json) {
      console.log(
        JSON.stringify(
          {
            jobId: opened.jobId.toString(),
            tx: opened.tx.hash,
            requestHash: opened.requestHash,
            modelId: request.modelId,
            promptTokens: request.promptTokens.length,
            requestUri: opened.requestUri === DIRECT_REQUEST_URI ? DIRECT_REQUEST_URI : "data:",
            ...(delivery ? { delivery: { url: o.direct, ...delivery, ...(retry ? { retry } : {}) } } : {}),
            ...(ev && ev.name === "JobOpened"
              ? {
                  alphaCg: ev.alphaCg.toString(),
                  alphaCv: ev.alphaCv.toString(),
                  betaCg: ev.betaCg.toString(),
                  betaCv: ev.betaCv.toString(),
                  commitDeadline: ev.commitDeadline,
                }
              : {}),
          },
          null,
          2
        )
      );
      return;
    }
    console.log(`job ${opened.jobId} opened (tx ${opened.tx.hash})`);
    console.log(`  generator   ${o.generator}`);
    console.log(`  model       ${request.modelId}`);
    console.log(`  request     ${request.promptTokens.length} prompt tokens, ${request.decoding.maxTokens} tokens to generate (hash ${opened.requestHash})`);
    if (delivery) {
      console.log(`  private     only the request's hash is on-chain (requestUri poc:direct); the request was ${describeDelivery(delivery, o.direct!)}`);
      if (retry)
        console.log(`  retry       the job stays open until the commit deadline; deliver the request again with:\n                ${retry}`);
    }
    if (ev && ev.name === "JobOpened") {
      console.log(
        `  paid        ${units.format(ev.alphaCg + ev.alphaCv)} (αCg ${units.format(ev.alphaCg)} + αCv ${units.format(ev.alphaCv)}), held by the pool`
      );
      console.log(
        `  next        the generator must commit by ${new Date(ev.commitDeadline * 1000).toISOString()}; check with: npx poc job status ${opened.jobId}`
      );
    }
  });
}

async function runDeliver(jobArg: string, raw: OpenCli): Promise<void> {
  const jobId = parseOr(jobIdSchema, jobArg);
  const o = parseOr(deliverSchema, raw);
  const request = await requestFromOptions(o);
  await withClient(raw, false, async (client) => {
    const { opened } = await client.jobRecord(jobId);
    if (!opened) throw new JobCliError(`job ${jobId} was not found on this pool`);
    const hash = requestHash(request);
    if (hash.toLowerCase() !== opened.requestHash.toLowerCase())
      throw new JobCliError(`these options give request hash ${hash}; job ${jobId} is bound to ${opened.requestHash}`, {
        details: "give exactly the request options (--model, --prompt or --prompt-tokens, --max-tokens, --seed, …) that job open was given",
      });
    if (opened.requestUri !== DIRECT_REQUEST_URI && !o.json) console.log(`note: job ${jobId} is not private (its request is on-chain at ${opened.requestUri.slice(0, 40)}…)`);
    const r = await tryDeliver(o.direct, jobId, request);
    if (o.json) console.log(JSON.stringify({ jobId: jobId.toString(), url: o.direct, ...r }, null, 2));
    else console.log(`job ${jobId}: request ${describeDelivery(r, o.direct)}`);
    if (!r.ok) process.exitCode = 1;
  });
}

type SimpleAction = "challenge" | "finalize" | "cancel" | "timeoutVerifier" | "timeoutDraw" | "declineAssignment";

async function simpleAction(action: SimpleAction, jobArg: string, raw: ChainCliOptions): Promise<void> {
  const jobId = parseOr(jobIdSchema, jobArg);
  await withClient(raw, true, async (client) => {
    const r = await client[action](jobId);
    const units = await tokenUnits(client);
    const words: Record<SimpleAction, string> = {
      challenge: "challenged",
      finalize: "finalized",
      cancel: "cancelled",
      timeoutVerifier: "timed out its verifier",
      timeoutDraw: "settled after its draw deadline",
      declineAssignment: "declined",
    };
    console.log(`job ${jobId} ${words[action]} (tx ${r.hash})`);
    for (const l of describeDrawEvents(r.events)) console.log(l);
    for (const e of r.events) {
      if (e.name === "DrawQueued")
        console.log(
          `  stage ${e.stage} joined the draw queue (entry ${e.queueIndex}); anyone draws it once the randomness exists (\`poc pool draw\`), by ${new Date(
            e.drawDeadline * 1000
          ).toISOString()}`
        );
      if (e.name === "VerifierTimedOut") console.log(`  stage ${e.stage}: verifier ${e.verifier} forfeited ${units.format(e.forfeited)} to the treasury`);
      if (e.name === "VerifierDeclined")
        console.log(`  stage ${e.stage}: verifier ${e.verifier} paid the fee ${units.format(e.fee)} and was credited ${units.format(e.refund)}`);
      if (e.name === "JobSettled")
        console.log(
          `  settled ${JobState[e.outcome]}: user ${units.format(e.userPayout)}, generator ${units.format(e.generatorPayout)}${e.verifiers
            .map((v, i) => `, verifier ${v} ${units.format(e.verifierPayouts[i] ?? 0n)}`)
            .join("")}${e.treasuryPayout > 0n ? `, treasury ${units.format(e.treasuryPayout)}` : ""}`
        );
      if (e.name === "JobFinalized")
        console.log(`  generator credited ${units.format(e.generatorPayout)}, user credited ${units.format(e.userPayout)} (withdraw with \`poc withdraw\`)`);
      if (e.name === "JobCancelled") console.log(`  user credited ${units.format(e.userRefund)} (withdraw with \`poc withdraw\`)`);
    }
  });
}

async function runStatus(jobArg: string, raw: ChainCliOptions & { json?: boolean; store?: string; model?: string }): Promise<void> {
  const jobId = parseOr(jobIdSchema, jobArg);
  await withClient(raw, false, async (client) => {
    const h = await jobHistory(client, jobId);
    // The answer from the user's store only (no fetch; `job result` fetches and saves it).
    const store = raw.store ?? DEFAULT_USER_STORE;
    const answer = await answerFromStore(h, store, raw.model && h.opened ? await tokenizerFor(raw.model, h.opened.modelId) : undefined);
    if (raw.json) {
      console.log(JSON.stringify({ ...(jobStatusJson(h) as object), answer: answer ?? null }, null, 2));
      return;
    }
    const units = await tokenUnits(client);
    const clocks = clocksAt((await client.latestBlock()).timestamp);
    for (const l of describeJob(h, { decimals: units.decimals, clocks })) console.log(l);
    if (answer) console.log(`  answer      ${answer.text === null ? `${answer.tokens.length} tokens in ${store} (add --model DIR for the text)` : printable(answer.text)}`);
    else if (h.committed) console.log(`  answer      not in ${store} yet: \`poc job result ${h.jobId} --account N --model DIR\` fetches it`);
  });
}

async function runResult(jobArg: string, raw: ChainCliOptions & { json?: boolean; store?: string; model?: string }): Promise<void> {
  const jobId = parseOr(jobIdSchema, jobArg);
  await withClient(raw, false, async (client) => {
    const r = await jobResult(client, jobId, { ...(raw.store ? { store: raw.store } : {}), ...(raw.model ? { modelDir: raw.model } : {}) });
    if (raw.json) console.log(JSON.stringify(jobResultJson(r), null, 2));
    else for (const l of describeResult(r)) console.log(l);
  });
}

async function runWithdraw(raw: ChainCliOptions): Promise<void> {
  await withClient(raw, true, async (client) => {
    const units = await tokenUnits(client);
    const me = await client.account();
    const { amount, tx } = await client.withdraw();
    if (!tx) console.log(`${me} has no credit to withdraw`);
    else console.log(`${me} withdrew ${units.format(amount)} (tx ${tx.hash}); wallet now ${units.format(await client.tokenBalance(me))}`);
  });
}

/** The options that describe a job request (job open, job deliver). */
function addRequestOptions(cmd: Command): Command {
  return cmd
      .option("--model <dir>", "model directory: gives the model id and the tokenizer of --prompt")
      .option("--variant <name>", "with --model: the ONNX variant whose id the job names (fp32, fp16, q4, q4f16, int8/quantized, …; needed when the directory holds several)")
      .option("--model-id <hex32>", "the model id (without --model: needs --prompt-tokens)")
      .option("--prompt <text>", "prompt text (tokenized with the model's tokenizer)")
      .option("--prompt-tokens <ids>", "prompt as comma-separated token ids")
      .option("--chat <json>", 'chat messages, e.g. \'[{"role":"user","content":"Hi"}]\': rendered with the model\'s chat template; the request carries them')
      .option("--no-special-tokens", "do not let the tokenizer add special tokens (e.g. <bos>) to --prompt")
      .requiredOption("--max-tokens <n>", "tokens to generate")
      .option("--seed <n>", "decoding seed, an unsigned 64-bit integer", REQUEST_DEFAULTS.seed)
      .option("--temperature <t>", "0 = greedy", String(REQUEST_DEFAULTS.temperature))
      .option("--top-k <k>", "keep the k most likely tokens (0 = off)", String(REQUEST_DEFAULTS.topK))
      .option("--top-p <p>", "nucleus mass in (0, 1] (1 = off)", String(REQUEST_DEFAULTS.topP))
      .option("--stop-at-eos", "stop after the model's end-of-sequence token", false)
      .option("--sample-rate <r>", "fraction of positions whose K/V the generator must sample", REQUEST_DEFAULTS.sampleRate)
      .option("--layers-per-token <n>", "layers sampled at each sampled position", String(REQUEST_DEFAULTS.layersPerToken))
      .addOption(
        new Option("--scope <scope>", "candidate positions: prompt and output, or output only").choices(["all", "generated"]).default(REQUEST_DEFAULTS.scope)
      )
      .addOption(new Option("--kv-dtype <dtype>", "how the receipt stores K/V (default: the generator's choice)").choices(["float32", "float16"]));
}

export function jobCommand(): Command {
  const job = new Command("job").description("a user's jobs: open one for a generator, challenge, finalize, cancel, time out a verifier or a draw, decline, show its status");
  job.addCommand(
    addChainOptions(
      addRequestOptions(
        new Command("open")
          .description("open a job: ask GENERATOR for one inference and pay αCg + αCv into the pool; prints the job id")
          .requiredOption("--generator <address>", "the generator that must run the job")
      )
        .requiredOption("--cg <amount>", "generation cost unit Cg, in tokens (the user pays αCg)")
        .requiredOption("--cv <amount>", "verification cost unit Cv, in tokens (the user pays αCv)")
        .option("--direct <url>", "private job: only the request's hash goes on-chain (poc:direct); POST the request to the generator's server at URL")
        .option("--mint", "local TestToken only: mint the deposit's shortfall to the wallet first", false)
        .option("--json", "print one JSON object", false)
    ).action(async (o: OpenCli) => runOpen(o))
  );
  job.addCommand(
    addChainOptions(
      addRequestOptions(
        new Command("deliver")
          .description("deliver a private job's request to its generator (again): the same request options as job open; checked against the job's hash first")
          .argument("<job>", "job id")
          .requiredOption("--direct <url>", "the generator's server (base URL)")
      ).option("--json", "print one JSON object", false)
    ).action(async (id: string, o: OpenCli) => runDeliver(id, o))
  );
  job.addCommand(
    addChainOptions(
      new Command("challenge").description("dispute the committed result (the job's user only, inside the challenge window)").argument("<job>", "job id")
    ).action(async (id: string, o: ChainCliOptions) => simpleAction("challenge", id, o))
  );
  job.addCommand(
    addChainOptions(
      new Command("finalize")
        .description("settle an unchallenged job after the challenge window (anyone)")
        .argument("<job>", "job id")
        .option("--wait", "wait until the challenge window has passed (chain time), then finalize", false)
    ).action(async (id: string, o: ChainCliOptions & { wait?: boolean }) =>
      o.wait ? withClient(o, true, (client) => finalizeWhenDue(client, parseOr(jobIdSchema, id))) : simpleAction("finalize", id, o)
    )
  );
  job.addCommand(advanceCommand());
  job.addCommand(
    addChainOptions(new Command("cancel").description("refund the user when the generator did not commit in time (anyone)").argument("<job>", "job id")).action(
      async (id: string, o: ChainCliOptions) => simpleAction("cancel", id, o)
    )
  );
  job.addCommand(
    addChainOptions(
      new Command("timeout-verifier")
        .description("after a drawn verifier's deadline (anyone): its stake goes to the treasury and the stage is queued for a new draw")
        .argument("<job>", "job id")
    ).action(async (id: string, o: ChainCliOptions) => simpleAction("timeoutVerifier", id, o))
  );
  job.addCommand(
    addChainOptions(
      new Command("timeout-draw")
        .description("after the draw deadline of a queued stage (anyone): stage 1 settles as unchallenged (Unverified), later stages as a stalemate")
        .argument("<job>", "job id")
    ).action(async (id: string, o: ChainCliOptions) => simpleAction("timeoutDraw", id, o))
  );
  job.addCommand(
    addChainOptions(
      new Command("decline")
        .description("the drawn verifier gives its stage back (first quarter of its window): it pays the decline fee, the stage is drawn again")
        .argument("<job>", "job id")
    ).action(async (id: string, o: ChainCliOptions) => simpleAction("declineAssignment", id, o))
  );
  job.addCommand(
    addChainOptions(
      new Command("status")
        .description("a job's state, deadlines, stages, verifier results and payouts")
        .argument("<job>", "job id")
        .option("--json", "print JSON", false)
        .option("--store <dir>", `the user's receipt store: the answer is shown when it holds the receipt (default ${DEFAULT_USER_STORE})`)
        .option("--model <dir>", "the job's model directory: decode the answer's tokens to text")
    ).action(async (id: string, o: ChainCliOptions & { json?: boolean; store?: string; model?: string }) => runStatus(id, o))
  );
  job.addCommand(
    addChainOptions(
      new Command("result")
        .description("the answer: generated text, tokens, receipt root, and whether it can be trusted yet; fetches the receipt (signed as the user) into the user's store")
        .argument("<job>", "job id")
        .option("--model <dir>", "the job's model directory: its tokenizer decodes the text")
        .option("--store <dir>", `the user's receipt store, read first and where a fetched receipt is saved (default ${DEFAULT_USER_STORE})`)
        .option("--json", "print one JSON object", false)
    ).action(async (id: string, o: ChainCliOptions & { json?: boolean; store?: string; model?: string }) => runResult(id, o))
  );
  return job;
}

export function withdrawCommand(): Command {
  return addChainOptions(new Command("withdraw").description("withdraw the account's credit (payouts of settled jobs)")).action(async (o: ChainCliOptions) =>
    runWithdraw(o)
  );
}
