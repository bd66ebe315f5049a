/**
 * The gateway's HTTP server (OpenAI-compatible; README.md here): `GET /v1/models`,
 * `GET /v1/models/{name}`, `POST /v1/chat/completions`, `POST /v1/completions`, with `stream: true`
 * as server-sent events (`data: {chunk}` … `data: [DONE]`). Every completion is a job (job-runner.ts)
 * and carries `proof_of_cache`. Errors are OpenAI's shape with its statuses: 400 bad body or
 * parameter, 401 wrong API key, 403 a browser origin, 404 unknown model or path, 413 body too large,
 * 502 the generator failed, 503 no generator for the model.
 *
 * It spends the user's tokens, so it listens on 127.0.0.1 by default and refuses requests a web page
 * could make: any request carrying an `Origin` header (unless listed in `allowOrigins`) and any
 * whose `Host` is not the loopback address it listens on (DNS rebinding). `apiKey`, when set, must
 * come as `Authorization: Bearer <key>`.
 *
 * A stream's HTTP status and headers are sent with its first delta: an error before it (no
 * generator, bad amounts) is an ordinary error response; after it, an `data: {"error":…}` event.
 */
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { describeError, type PoolClient } from "../chain/index.js";
import { PocError } from "../errors.js";
import { HEX32_RE } from "../sampling/index.js";
import { ReceiptNotFoundError, type ReceiptStore } from "../receipt/index.js";
import { AccessError, verifyAccess } from "../transport/auth.js";
import { GatewayConfigError, GatewayError, badRequest } from "./errors.js";
import { type CompletionResult, type CompletionSpec, type JobRunner, randomSeed } from "./job-runner.js";
import type { GatewayModel, ModelCatalog } from "./models.js";
import {
  chatChunk,
  chatCompletion,
  chatRequestSchema,
  completionRequestSchema,
  errorBody,
  parseBody,
  textCompletion,
  usageOf,
  type ChatRequest,
  type CompletionRequest,
} from "./openai-schema.js";
import { chatPromptTokens, completionPromptTokens, plainMessages } from "./prompt.js";
import type { ChatMessage as PlainMessage } from "../model/chat-messages.js";

export const MAX_BODY_BYTES = 1024 * 1024;
export const DEFAULT_MAX_TOKENS = 256;

export interface GatewayServerOptions {
  catalog: ModelCatalog;
  runner: JobRunner;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: any free port. */
  port?: number;
  /** max_tokens when the request gives none (default 256, lowered to fit the model's context). */
  defaultMaxTokens?: number;
  apiKey?: string;
  /** Origins whose browser requests are accepted (default none). */
  allowOrigins?: readonly string[];
  log?: (event: string, message: string, fields?: Record<string, unknown>) => void;
  /**
   * Serve the gateway's copies of its receipts at `GET /receipts/{root}?job={id}` to the job's
   * parties (docs/NETWORK.md authentication: its user and drawn verifiers), for when the generator
   * is gone. Needs `--host` reachable by the verifiers.
   */
  receipts?: { store: ReceiptStore; client: PoolClient };
}

export interface GatewayServer {
  server: Server;
  url: string;
  port: number;
  close(): Promise<void>;
}

function sendJson(res: ServerResponse, status: number, body: unknown) {
  const text = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader("content-type", "application/json");
  res.setHeader("content-length", Buffer.byteLength(text));
  res.end(text);
}

function toGatewayError(e: unknown): GatewayError {
  if (e instanceof GatewayError) return e;
  if (e instanceof PocError) return new GatewayError(500, e.shortMessage, { code: "internal_error", cause: e });
  return new GatewayError(500, `internal error: ${describeError(e)}`, { code: "internal_error", cause: e });
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > MAX_BODY_BYTES) throw new GatewayError(413, `the request body exceeds ${MAX_BODY_BYTES} bytes`, { code: "request_too_large" });
    chunks.push(c);
  }
  const text = Buffer.concat(chunks).toString("utf8");
  if (text.trim() === "") throw badRequest("the request body is empty: send a JSON object", undefined, "invalid_json");
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw badRequest("We could not parse the JSON body of your request: it is not valid JSON", undefined, "invalid_json");
  }
}

/** `GET /receipts/{root}?job={id}`: the stored copy, to a party of the job whose committed root it is. */
async function serveReceipt(req: IncomingMessage, res: ServerResponse, root: string, r: { store: ReceiptStore; client: PoolClient }) {
  if (!HEX32_RE.test(root)) throw badRequest("malformed receipt root: expected 0x followed by 64 hex digits", "root");
  const job = new URL(req.url ?? "/", "http://x").searchParams.get("job");
  if (!job || !/^\d+$/.test(job)) throw badRequest("?job=ID is required: receipts are served to the parties of a job", "job", "missing_required_parameter");
  const jobId = BigInt(job);
  try {
    await verifyAccess(req.headers.authorization, { chainId: r.client.chainId, pool: r.client.address, jobId }, r.client);
  } catch (e) {
    if (e instanceof AccessError) throw new GatewayError(e.status, e.shortMessage, { type: e.status === 401 ? "authentication_error" : "permission_error", code: "access_denied" });
    throw e;
  }
  const { committed } = await r.client.jobRecord(jobId);
  if (!committed || committed.receiptRoot.toLowerCase() !== root.toLowerCase()) throw new GatewayError(404, `${root} is not the committed receipt of job ${jobId}`, { code: "unknown_receipt" });
  let bytes: Uint8Array;
  try {
    bytes = await r.store.get(root);
  } catch (e) {
    if (e instanceof ReceiptNotFoundError) throw new GatewayError(404, `this gateway keeps no copy of ${root}`, { code: "unknown_receipt" });
    throw e;
  }
  res.statusCode = 200;
  res.setHeader("content-type", "application/octet-stream");
  res.setHeader("content-length", bytes.length);
  res.end(bytes);
}

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);

export async function startGatewayServer(o: GatewayServerOptions): Promise<GatewayServer> {
  const host = o.host ?? "127.0.0.1";
  const allowOrigins = new Set(o.allowOrigins ?? []);
  const loopback = LOOPBACK_HOSTS.has(host) || host === "::1";
  if (!loopback && o.apiKey === undefined)
    throw new GatewayConfigError(`listening on ${host} without an API key would let anyone there spend the user's tokens: set POC_GATEWAY_API_KEY (or listen on 127.0.0.1)`);
  let port = 0;

  const spec = (model: GatewayModel, promptTokens: number[], r: ChatRequest | CompletionRequest, messages?: PlainMessage[]): CompletionSpec => {
    const asked = r.max_completion_tokens ?? r.max_tokens ?? undefined;
    const room = model.maxPositions === null ? Infinity : model.maxPositions - promptTokens.length;
    if (room < 1) throw badRequest(`the prompt is ${promptTokens.length} tokens, the model's context is ${model.maxPositions}`, "messages", "context_length_exceeded");
    if (asked !== undefined && asked > room)
      throw badRequest(`max_tokens ${asked} + the prompt's ${promptTokens.length} tokens exceed the model's context of ${model.maxPositions}`, "max_tokens", "context_length_exceeded");
    return {
      model,
      promptTokens,
      ...(messages ? { messages } : {}),
      maxTokens: asked ?? Math.min(o.defaultMaxTokens ?? DEFAULT_MAX_TOKENS, room),
      temperature: r.temperature ?? 1,
      topP: r.top_p ?? 1,
      seed: r.seed ?? randomSeed(),
      stop: r.stop === null || r.stop === undefined ? [] : typeof r.stop === "string" ? [r.stop] : r.stop,
    };
  };

  const complete = async (req: IncomingMessage, res: ServerResponse, kind: "chat" | "text") => {
    const body = await readBody(req);
    const r = kind === "chat" ? parseBody(chatRequestSchema, body) : parseBody(completionRequestSchema, body);
    const model = o.catalog.resolve(r.model);
    const tokens = kind === "chat" ? chatPromptTokens(model.prompt, (r as ChatRequest).messages) : completionPromptTokens(model.prompt, (r as CompletionRequest).prompt);
    const s = spec(model, tokens, r, kind === "chat" ? plainMessages((r as ChatRequest).messages) : undefined);
    const id = `${kind === "chat" ? "chatcmpl" : "cmpl"}-poc${randomBytes(12).toString("hex")}`;
    const created = Math.floor(Date.now() / 1000);
    const base = { id, created, model: model.name };
    if (!r.stream) {
      const out = await o.runner.run(s);
      const usage = usageOf(out.promptTokens, out.completionTokens);
      sendJson(
        res,
        200,
        kind === "chat"
          ? chatCompletion({ ...base, text: out.text, finish: out.finishReason, usage, poc: out.poc })
          : textCompletion({ ...base, text: out.text, finish: out.finishReason, usage, poc: out.poc })
      );
      return;
    }
    // streaming
    let started = false;
    let closed = false;
    res.on("close", () => (closed = true));
    const write = (data: unknown) => {
      if (!closed) res.write(`data: ${JSON.stringify(data)}\n\n`);
    };
    const start = () => {
      if (started) return;
      started = true;
      res.statusCode = 200;
      res.setHeader("content-type", "text/event-stream; charset=utf-8");
      res.setHeader("cache-control", "no-cache");
      res.setHeader("connection", "keep-alive");
      res.flushHeaders();
      if (kind === "chat") write(chatChunk({ ...base, delta: { role: "assistant", content: "" }, finish: null }));
    };
    const delta = (text: string) => {
      start();
      write(kind === "chat" ? chatChunk({ ...base, delta: { content: text }, finish: null }) : textCompletion({ ...base, text, finish: null }));
    };
    let out: CompletionResult;
    try {
      out = await o.runner.run(s, delta);
    } catch (e) {
      if (!started) throw e;
      write(errorBody(toGatewayError(e)));
      res.end();
      return;
    }
    start();
    const usage = usageOf(out.promptTokens, out.completionTokens);
    write(
      kind === "chat"
        ? chatChunk({ ...base, delta: {}, finish: out.finishReason, poc: out.poc })
        : textCompletion({ ...base, text: "", finish: out.finishReason, poc: out.poc })
    );
    if (r.stream_options?.include_usage)
      write(kind === "chat" ? chatChunk({ ...base, delta: {}, finish: null, usage, noChoices: true }) : textCompletion({ ...base, text: "", finish: null, usage, noChoices: true }));
    if (!closed) res.end("data: [DONE]\n\n");
  };

  const models = () => ({
    object: "list",
    data: o.catalog.models.map((m) => ({ id: m.name, object: "model", created: 0, owned_by: "proof-of-cache", proof_of_cache: { modelId: m.modelId } })),
  });

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? "/").split("?")[0]!.replace(/\/+$/, "") || "/";
    const origin = req.headers.origin;
    if (origin !== undefined && !allowOrigins.has(origin))
      throw new GatewayError(403, `requests from a web page (Origin ${origin}) are refused: start the gateway with --allow-origin ${origin} to accept them`, { type: "permission_error", code: "origin_not_allowed" });
    if (origin !== undefined) res.setHeader("access-control-allow-origin", origin);
    if (loopback) {
      const h = (req.headers.host ?? "").replace(/:\d+$/, "");
      if (!LOOPBACK_HOSTS.has(h)) throw new GatewayError(403, `the Host header ${req.headers.host ?? "(none)"} is not this loopback gateway`, { type: "permission_error", code: "host_not_allowed" });
    }
    if (req.method === "OPTIONS") {
      res.statusCode = 204;
      res.setHeader("access-control-allow-headers", "Authorization, Content-Type");
      res.setHeader("access-control-allow-methods", "GET, POST, OPTIONS");
      res.end();
      return;
    }
    const method = req.method ?? "GET";
    const rm = /^\/receipts\/([^/]+)$/.exec(path);
    if (rm && method === "GET" && o.receipts) return serveReceipt(req, res, rm[1]!, o.receipts); // signed by a party, no API key
    if (o.apiKey !== undefined && req.headers.authorization !== `Bearer ${o.apiKey}`)
      throw new GatewayError(401, "Incorrect API key provided", { type: "authentication_error", code: "invalid_api_key" });
    const route = (m: string, p: string) => method === m && path === p;
    if (route("GET", "/v1/models")) return sendJson(res, 200, models());
    const mm = /^\/v1\/models\/(.+)$/.exec(path);
    if (mm && method === "GET") {
      const m = o.catalog.resolve(decodeURIComponent(mm[1]!));
      return sendJson(res, 200, { id: m.name, object: "model", created: 0, owned_by: "proof-of-cache", proof_of_cache: { modelId: m.modelId } });
    }
    if (route("POST", "/v1/chat/completions")) return complete(req, res, "chat");
    if (route("POST", "/v1/completions")) return complete(req, res, "text");
    if (["/v1/models", "/v1/chat/completions", "/v1/completions"].includes(path))
      throw new GatewayError(405, `${method} is not allowed on ${path}`, { type: "invalid_request_error", code: "method_not_allowed" });
    throw new GatewayError(404, `Unknown request URL: ${method} ${path}`, { type: "invalid_request_error", code: "unknown_url" });
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      const g = toGatewayError(e);
      if (g.status >= 500) o.log?.("error", `${req.method} ${req.url}: ${g.shortMessage}`, { status: g.status });
      if (res.headersSent) {
        res.end();
        return;
      }
      req.resume();
      sendJson(res, g.status, errorBody(g));
    });
  });
  await new Promise<void>((ok, fail) => {
    server.once("error", fail);
    server.listen(o.port ?? 0, host, () => {
      server.off("error", fail);
      ok();
    });
  });
  port = (server.address() as AddressInfo).port;
  const shownHost = host.includes(":") ? `[${host}]` : host;
  return {
    server,
    url: `http://${shownHost}:${port}`,
    port,
    close: () =>
      new Promise<void>((ok) => {
        server.close(() => ok());
        server.closeAllConnections();
      }),
  };
}
