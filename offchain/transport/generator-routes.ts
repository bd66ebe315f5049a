/**
 * The generator's HTTP routes of docs/NETWORK.md "The generator's server", mounted on the receipt
 * server (`serveReceipts(store, { extraRoutes: routes.handle })`):
 *
 * - `POST /v1/jobs/{jobId}/request` — the canonical request encoding of a private job (`poc:direct`).
 *   202 when it hashes to the job's on-chain `requestHash` (or is held by hash when the job is not
 *   opened yet), 409 `request_hash_mismatch`, 413 over `MAX_REQUEST_BYTES`, 400 when it is not a
 *   valid request, 404 `wrong_generator` when the job names another generator.
 * - `GET /v1/jobs/{jobId}/stream` — server-sent events of the job's `JobEventLog` (the job's user
 *   only: `verifyAccess(…, { allow: ["user"] })`), replayed from the start.
 * - `POST /v1/jobs/{jobId}/answer` — a one-transaction stage (docs/PROTOCOL.md "One-transaction
 *   stages"): JSON `{ stage, commitment, signature }` from the stage's verifier; 200 `{ answer,
 *   signature }` (the generator's fingerprint, signed over the commitment), 400 for a malformed body
 *   or signature, 403 when the signer is not the stage's verifier or pick, 409 when the stage was
 *   answered for another commitment or is not waiting for a result, 503 when no answerer is attached.
 *
 * Every response carries the CORS headers; `OPTIONS` is 204; errors are JSON in OpenAI's shape.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { getAddress, isHexString, keccak256 } from "ethers";
import { z } from "zod";
import { PocError } from "../errors.js";
import { type PoolClient } from "../chain/index.js";
import { MAX_REQUEST_BYTES, decodeJobRequest } from "../request/index.js";
import { AccessError, verifyAccess, type JobParties } from "./auth.js";
import { IntakeError, type RequestIntake } from "./intake.js";
import type { JobEventLog } from "./job-events.js";
import { AnswerRefusedError, type StageAnswer, type StageAnswerRequest } from "../worker/stage-answer.js";

/** Answers a one-transaction stage's commitment (GeneratorWorker `answerStage`); throws AnswerRefusedError. */
export type StageAnswerer = (jobId: bigint, req: StageAnswerRequest) => Promise<StageAnswer>;

const hex32 = z.string().refine((v) => isHexString(v, 32), "must be 32 bytes of 0x-hex");
const answerRequestBody = z.object({
  stage: z.number().int().min(1).max(255),
  commitment: hex32,
  signature: z.string().refine((v) => isHexString(v, 65), "must be a 65-byte 0x-hex signature"),
});
const MAX_ANSWER_BODY = 4096;

export type OpenAiErrorType = "invalid_request_error" | "authentication_error" | "permission_error" | "not_found_error" | "server_error";

/** What the routes need to know about a job from the chain. */
export interface KnownJob {
  requestHash: string;
  generator: string;
}

export interface GeneratorRouteContext {
  chainId: bigint;
  pool: string;
  /** This generator's address: requests for jobs naming another one are refused. */
  generator: string;
  /** Who the job's parties are (a PoolClient fits). */
  parties: JobParties;
  /** The job's hash and generator when it is opened (undefined: not opened, or not seen yet). */
  lookupJob(jobId: bigint): Promise<KnownJob | undefined>;
}

export interface GeneratorRoutesOptions {
  intake: RequestIntake;
  events: JobEventLog;
  /** The chain side; may be set later (`routes.context = …`), e.g. after a redeployment. */
  context?: GeneratorRouteContext;
  /** Interval of SSE keep-alive comments (default 15 s). */
  heartbeatMs?: number;
  /** Called once per request handled here (for logging). */
  onRequest?: (method: string, path: string, status: number) => void;
  /** The answerer of `POST /v1/jobs/{id}/answer`; may be set later (`routes.answerer = worker.answerStage`). */
  answerer?: StageAnswerer;
}

/** A job lookup over the pool's events (JobOpened of the job). */
export function chainJobLookup(client: PoolClient): (jobId: bigint) => Promise<KnownJob | undefined> {
  return async (jobId) => {
    const { opened } = await client.jobRecord(jobId);
    return opened ? { requestHash: opened.requestHash, generator: opened.generator } : undefined;
  };
}

/** The route context of a pool client connected with the generator's signer. */
export async function routeContextFor(client: PoolClient): Promise<GeneratorRouteContext> {
  return { chainId: client.chainId, pool: client.address, generator: await client.account(), parties: client, lookupJob: chainJobLookup(client) };
}

export const CORS_HEADERS: Readonly<Record<string, string>> = {
  "access-control-allow-origin": "*",
  "access-control-allow-headers": "Authorization, Content-Type",
  "access-control-allow-methods": "GET, POST, OPTIONS",
};

class BodyTooLargeError extends PocError {
  override name = "BodyTooLargeError";
}

async function readBody(req: IncomingMessage, max: number): Promise<Uint8Array> {
  const declared = Number(req.headers["content-length"] ?? NaN);
  if (declared > max) throw new BodyTooLargeError(`the request body is ${declared} bytes, over the ${max}-byte limit`);
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    total += c.length;
    if (total > max) throw new BodyTooLargeError(`the request body is over the ${max}-byte limit`);
    chunks.push(c);
  }
  return new Uint8Array(Buffer.concat(chunks));
}

export class GeneratorRoutes {
  readonly intake: RequestIntake;
  readonly events: JobEventLog;
  context: GeneratorRouteContext | undefined;
  answerer: StageAnswerer | undefined;
  readonly #heartbeatMs: number;
  readonly #onRequest: GeneratorRoutesOptions["onRequest"];

  constructor(o: GeneratorRoutesOptions) {
    this.intake = o.intake;
    this.events = o.events;
    this.context = o.context;
    this.answerer = o.answerer;
    this.#heartbeatMs = o.heartbeatMs ?? 15_000;
    this.#onRequest = o.onRequest;
  }

  /** Handle the request when its path is one of these routes (`/v1/…`); false: not ours. */
  readonly handle = async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    const path = (req.url ?? "/").split("?")[0]!;
    if (!path.startsWith("/v1/")) return false;
    const method = req.method ?? "GET";
    const log = (status: number) => this.#onRequest?.(method, path, status);
    const send = (status: number, body: unknown, extra: Record<string, string> = {}) => {
      const text = JSON.stringify(body);
      res.writeHead(status, { ...CORS_HEADERS, "content-type": "application/json", "content-length": String(Buffer.byteLength(text)), ...extra });
      res.end(text);
      log(status);
    };
    const fail = (status: number, type: OpenAiErrorType, code: string, message: string, extra: Record<string, string> = {}) =>
      send(status, { error: { message, type, code } }, extra);
    try {
      if (method === "OPTIONS") {
        res.writeHead(204, { ...CORS_HEADERS, "access-control-max-age": "600" });
        res.end();
        log(204);
        return true;
      }
      const m = /^\/v1\/jobs\/([^/]+)\/(request|stream|answer)$/.exec(path);
      if (!m) {
        fail(404, "not_found_error", "not_found", `no route ${path}: the generator serves POST /v1/jobs/{jobId}/request, GET /v1/jobs/{jobId}/stream and POST /v1/jobs/{jobId}/answer`);
        return true;
      }
      const [, idText, what] = m;
      if (!/^[1-9]\d{0,77}$/.test(idText!)) {
        fail(400, "invalid_request_error", "invalid_job_id", `job id must be a positive decimal integer (got ${idText!.slice(0, 80)})`);
        return true;
      }
      const jobId = BigInt(idText!);
      const want = what === "stream" ? "GET" : "POST";
      if (method !== want) {
        fail(405, "invalid_request_error", "method_not_allowed", `${path} takes ${want}`, { allow: `${want}, OPTIONS` });
        return true;
      }
      if (what === "answer") {
        await this.#postAnswer(req, jobId, send, fail);
        return true;
      }
      const ctx = this.context;
      if (!ctx) {
        fail(503, "server_error", "not_ready", "the generator is not connected to its pool yet: try again shortly");
        return true;
      }
      if (what === "request") await this.#postRequest(req, jobId, ctx, send, fail);
      else await this.#stream(req, res, jobId, ctx, fail, log);
    } catch (e) {
      if (!res.headersSent) fail(500, "server_error", "internal_error", e instanceof PocError ? e.shortMessage : "internal error");
      else res.end();
    }
    return true;
  };

  async #postRequest(
    req: IncomingMessage,
    jobId: bigint,
    ctx: GeneratorRouteContext,
    send: (status: number, body: unknown) => void,
    fail: (status: number, type: OpenAiErrorType, code: string, message: string, extra?: Record<string, string>) => void
  ): Promise<void> {
    let body: Uint8Array;
    try {
      body = await readBody(req, MAX_REQUEST_BYTES);
    } catch (e) {
      if (e instanceof BodyTooLargeError) return fail(413, "invalid_request_error", "request_too_large", e.shortMessage, { connection: "close" });
      throw e;
    }
    if (body.length === 0) return fail(400, "invalid_request_error", "invalid_request", "the body must be the canonical request encoding (encodeJobRequest); it is empty");
    try {
      decodeJobRequest(body);
    } catch (e) {
      const why = e instanceof PocError ? `${e.shortMessage}${e.details ? `: ${e.details}` : ""}` : "not a job request";
      return fail(400, "invalid_request_error", "invalid_request", `the body is not a valid job request (${why})`);
    }
    const job = await ctx.lookupJob(jobId);
    if (job && getAddress(job.generator) !== getAddress(ctx.generator)) {
      return fail(404, "not_found_error", "wrong_generator", `job ${jobId} names generator ${getAddress(job.generator)}, not this one (${getAddress(ctx.generator)})`);
    }
    const hash = keccak256(body).toLowerCase();
    if (job && hash !== job.requestHash.toLowerCase()) {
      return fail(409, "invalid_request_error", "request_hash_mismatch", `the body hashes to ${hash}, job ${jobId} is bound to ${job.requestHash.toLowerCase()}`);
    }
    try {
      this.intake.put(body, { bound: job !== undefined });
    } catch (e) {
      if (e instanceof IntakeError) return fail(503, "server_error", "intake_full", e.shortMessage);
      throw e;
    }
    send(202, { accepted: true, jobId: jobId.toString(), ...(job ? {} : { held: true }) });
  }

  async #postAnswer(
    req: IncomingMessage,
    jobId: bigint,
    send: (status: number, body: unknown) => void,
    fail: (status: number, type: OpenAiErrorType, code: string, message: string, extra?: Record<string, string>) => void
  ): Promise<void> {
    const answerer = this.answerer;
    if (!answerer) return fail(503, "server_error", "no_answerer", "this server does not answer one-transaction stages: commit the result on-chain");
    let parsed: z.infer<typeof answerRequestBody>;
    try {
      const body = await readBody(req, MAX_ANSWER_BODY);
      const r = answerRequestBody.safeParse(JSON.parse(new TextDecoder().decode(body)));
      if (!r.success) return fail(400, "invalid_request_error", "invalid_answer_request", `the body must be { stage, commitment, signature }: ${r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
      parsed = r.data;
    } catch (e) {
      if (e instanceof BodyTooLargeError) return fail(413, "invalid_request_error", "request_too_large", e.shortMessage, { connection: "close" });
      return fail(400, "invalid_request_error", "invalid_answer_request", "the body is not JSON");
    }
    try {
      send(200, await answerer(jobId, parsed));
    } catch (e) {
      if (!(e instanceof AnswerRefusedError)) throw e;
      const type: OpenAiErrorType = e.status === 403 ? "permission_error" : e.status === 404 ? "not_found_error" : "invalid_request_error";
      fail(e.status, type, e.code, e.shortMessage);
    }
  }

  async #stream(
    req: IncomingMessage,
    res: ServerResponse,
    jobId: bigint,
    ctx: GeneratorRouteContext,
    fail: (status: number, type: OpenAiErrorType, code: string, message: string) => void,
    log: (status: number) => void
  ): Promise<void> {
    try {
      await verifyAccess(req.headers.authorization, { chainId: ctx.chainId, pool: ctx.pool, jobId }, ctx.parties, { allow: ["user"] });
    } catch (e) {
      if (e instanceof AccessError) {
        return e.status === 401
          ? fail(401, "authentication_error", "unauthenticated", e.shortMessage)
          : fail(403, "permission_error", "not_the_user", e.shortMessage);
      }
      throw e;
    }
    res.writeHead(200, {
      ...CORS_HEADERS,
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache, no-transform",
      connection: "keep-alive",
      "x-accel-buffering": "no",
    });
    res.flushHeaders();
    log(200);
    const abort = new AbortController();
    const onClose = () => abort.abort();
    res.on("close", onClose);
    const beat = setInterval(() => res.write(": keep-alive\n\n"), this.#heartbeatMs);
    try {
      for await (const e of this.events.subscribe(jobId, abort.signal)) {
        res.write(`event: ${e.event}\ndata: ${JSON.stringify(e.data)}\n\n`);
      }
    } finally {
      clearInterval(beat);
      res.off("close", onClose);
      res.end();
    }
  }
}
