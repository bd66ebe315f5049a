/**
 * Content-addressed receipt store: a local directory of `<root>.pocr` files (root = receiptRoot of the
 * bytes, 0x + 64 lowercase hex), an HTTP server for it (`GET /receipts/<root>[?job=ID]`, CORS, JSON
 * errors, an optional `authorize` hook: offchain/transport/receipt-access.ts makes the party check
 * of docs/NETWORK.md), and `fetchReceipt`, which accepts http(s) URLs (optionally sending a party's
 * `Authorization`), file:// URLs and local paths and checks the content against the root that was
 * committed on-chain.
 */
import { randomBytes } from "node:crypto";
import { mkdir, open, readFile, readdir, rename, rm, stat } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { HEX32_RE, type Hex } from "../sampling/bytes.js";
import { PocError } from "../errors.js";
import { AccessError } from "../transport/auth.js";
import { decodeReceipt } from "./encoding.js";
import {
  ReceiptFetchError,
  ReceiptFormatError,
  ReceiptMismatchError,
  ReceiptNotFoundError,
  ReceiptStoreError,
} from "./errors.js";
import { receiptRoot } from "./root.js";
import type { Receipt } from "./schema.js";

/** File extension of stored receipts. */
export const RECEIPT_EXT = ".pocr";
/** Default limit on fetched receipt size. */
export const DEFAULT_MAX_RECEIPT_BYTES = 256 * 1024 * 1024;
export const DEFAULT_FETCH_TIMEOUT_MS = 30_000;

/** Validate and normalise (lower-case) a root; throws ReceiptStoreError when malformed. */
export function normalizeRoot(root: string): Hex {
  if (typeof root !== "string" || !HEX32_RE.test(root)) {
    throw new ReceiptStoreError(`malformed receipt root: ${String(root).slice(0, 80)}`, { details: "expected 0x followed by 64 hex digits" });
  }
  return root.toLowerCase() as Hex;
}

function errnoCode(e: unknown): string | undefined {
  return typeof e === "object" && e !== null && "code" in e ? String((e as { code: unknown }).code) : undefined;
}

/** Write `data` to `path` atomically: a temp file in the same directory, fsync, then rename. */
export async function writeFileAtomic(path: string, data: Uint8Array): Promise<void> {
  const tmp = `${path}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`;
  const fh = await open(tmp, "wx");
  try {
    await fh.writeFile(data);
    await fh.sync();
  } catch (e) {
    await fh.close().catch(() => {});
    await rm(tmp, { force: true });
    throw e;
  }
  await fh.close();
  try {
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

export class ReceiptStore {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = resolve(dir);
  }

  /** Path of the file for `root`. */
  pathFor(root: string): string {
    return join(this.dir, `${normalizeRoot(root)}${RECEIPT_EXT}`);
  }

  /** Validate receipt bytes (decodeReceipt), store them under their root and return the root. */
  async put(bytes: Uint8Array): Promise<Hex> {
    const root = receiptRoot(bytes); // validates; throws ReceiptFormatError
    try {
      await mkdir(this.dir, { recursive: true });
      if (await this.#holds(root)) return root;
      await writeFileAtomic(this.pathFor(root), bytes);
    } catch (e) {
      throw new ReceiptStoreError(`cannot write receipt ${root} to ${this.dir}`, { details: String((e as Error).message ?? e), cause: e });
    }
    return root;
  }

  /** Whether a stored file for `root` exists and hashes to it. */
  async #holds(root: Hex): Promise<boolean> {
    try {
      await this.get(root);
      return true;
    } catch {
      return false;
    }
  }

  /** Whether the store has a file for `root` (not verified). */
  async has(root: string): Promise<boolean> {
    try {
      return (await stat(this.pathFor(root))).isFile();
    } catch (e) {
      if (e instanceof ReceiptStoreError) throw e;
      return false;
    }
  }

  /**
   * The bytes stored under `root`, verified: ReceiptNotFoundError when absent, ReceiptMismatchError
   * when the file does not hash to `root`, ReceiptFormatError when it is not a valid receipt.
   */
  async get(root: string): Promise<Uint8Array> {
    const r = normalizeRoot(root);
    const path = this.pathFor(r);
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(await readFile(path));
    } catch (e) {
      if (errnoCode(e) === "ENOENT") throw new ReceiptNotFoundError(`no receipt ${r} in ${this.dir}`);
      throw new ReceiptStoreError(`cannot read ${path}`, { details: String((e as Error).message ?? e), cause: e });
    }
    const actual = receiptRoot(bytes);
    if (actual !== r) {
      throw new ReceiptMismatchError(`stored receipt does not match its root`, { details: `file ${path} has root ${actual}` });
    }
    return bytes;
  }

  /** Roots of the files in the store (by name; not verified). */
  async list(): Promise<Hex[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (e) {
      if (errnoCode(e) === "ENOENT") return [];
      throw new ReceiptStoreError(`cannot list ${this.dir}`, { cause: e });
    }
    return names
      .filter((n) => n.endsWith(RECEIPT_EXT) && HEX32_RE.test(n.slice(0, -RECEIPT_EXT.length)))
      .map((n) => n.slice(0, -RECEIPT_EXT.length).toLowerCase() as Hex)
      .sort();
  }
}

export interface ReceiptServer {
  server: Server;
  /** Base URL, e.g. http://127.0.0.1:8547 (receipts at `${url}/receipts/<root>`). */
  url: string;
  port: number;
  close(): Promise<void>;
}

/** What an {@link ServeOptions.authorize} hook is asked about. */
export interface ReceiptAccessRequest {
  /** The requested root (normalised: 0x + 64 lowercase hex). */
  root: Hex;
  /** `?job=` of the URL, as given (undefined when absent). */
  job: string | undefined;
  /** The `Authorization` header (undefined when absent). */
  authorization: string | undefined;
  method: string;
}

/**
 * Decides whether a request may read a receipt: resolve (with anything, e.g. an AccessGrant) to
 * serve it; throw AccessError (401/403) or ReceiptNotFoundError (404) to refuse. Other errors are
 * answered 500. (offchain/transport/receipt-access.ts builds the party check of docs/NETWORK.md.)
 */
export type ReceiptAuthorizer = (request: ReceiptAccessRequest) => Promise<unknown>;

export interface ServeOptions {
  port?: number;
  host?: string;
  /** Called once per request (for logging). */
  onRequest?: (method: string, path: string, status: number) => void;
  /**
   * Access control. Without it every receipt is served to anyone (local demos and tests only:
   * receipts hold the prompt); workers and `poc receipts serve` pass the party check.
   */
  authorize?: ReceiptAuthorizer;
  /** Tried first for every request: returns true when it answered it (e.g. offchain/transport/generator-routes.ts). */
  extraRoutes?: (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>;
}

/** The headers every response carries (docs/NETWORK.md "The generator's server"). */
export const CORS_HEADERS: Readonly<Record<string, string>> = {
  "access-control-allow-origin": "*",
  "access-control-allow-headers": "Authorization, Content-Type",
  "access-control-allow-methods": "GET, HEAD, OPTIONS",
  "access-control-max-age": "600",
};

/** OpenAI-shaped error types (docs/NETWORK.md). */
export type HttpErrorType = "invalid_request_error" | "authentication_error" | "permission_error" | "not_found_error" | "server_error";

const TYPE_OF_STATUS: Record<number, HttpErrorType> = {
  400: "invalid_request_error",
  401: "authentication_error",
  403: "permission_error",
  404: "not_found_error",
  405: "invalid_request_error",
  500: "server_error",
};

/** The JSON error body of docs/NETWORK.md. */
export function errorBody(status: number, message: string, code: string): string {
  return JSON.stringify({ error: { message, type: TYPE_OF_STATUS[status] ?? "server_error", code } });
}

/**
 * The request handler of {@link serveReceipts}, for mounting under another server (e.g. the
 * generator's, which also answers `/v1/jobs/...`): answers every method on `/receipts/<name>` (OPTIONS
 * 204 included) and returns true, or returns false (nothing written) for any other path.
 */
export function receiptRequestHandler(store: ReceiptStore, options: Pick<ServeOptions, "onRequest" | "authorize"> = {}) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    const url = req.url ?? "/";
    const [path, query = ""] = url.split("?", 2) as [string, string?];
    const m = /^\/receipts\/([^/]+)$/.exec(path);
    if (!m) return false;
    for (const [k, v] of Object.entries(CORS_HEADERS)) res.setHeader(k, v);
    const send = (status: number, body: string | Uint8Array, type: string) => {
      res.statusCode = status;
      res.setHeader("content-type", type);
      res.setHeader("content-length", typeof body === "string" ? Buffer.byteLength(body) : body.length);
      if (req.method === "HEAD") res.end();
      else res.end(body);
      options.onRequest?.(req.method ?? "?", path, status);
      return true;
    };
    const fail = (status: number, message: string, code: string) => send(status, errorBody(status, message, code), "application/json");
    if (req.method === "OPTIONS") {
      res.statusCode = 204;
      res.end();
      options.onRequest?.("OPTIONS", path, 204);
      return true;
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.setHeader("allow", "GET, HEAD, OPTIONS");
      return fail(405, "method not allowed: use GET or HEAD", "method_not_allowed");
    }
    const name = m[1]!.endsWith(RECEIPT_EXT) ? m[1]!.slice(0, -RECEIPT_EXT.length) : m[1]!;
    if (!HEX32_RE.test(name)) return fail(400, "malformed root: expected 0x followed by 64 hex digits", "malformed_root");
    const root = name.toLowerCase() as Hex;
    if (options.authorize) {
      res.setHeader("vary", "Authorization");
      const header = req.headers.authorization;
      try {
        await options.authorize({
          root,
          job: new URLSearchParams(query).get("job") ?? undefined,
          authorization: typeof header === "string" ? header : undefined,
          method: req.method,
        });
      } catch (e) {
        if (e instanceof AccessError) {
          if (e.status === 401) res.setHeader("www-authenticate", 'PoC realm="receipts"');
          return fail(e.status, e.shortMessage, e.status === 401 ? "unauthenticated" : "not_a_party");
        }
        if (e instanceof ReceiptNotFoundError) return fail(404, e.shortMessage, "receipt_not_found");
        return fail(500, e instanceof PocError ? e.shortMessage : "internal error", "internal_error");
      }
    }
    try {
      const bytes = await store.get(root);
      // Receipts never change; an authenticated one must not sit in a shared cache.
      res.setHeader("cache-control", options.authorize ? "private, max-age=31536000, immutable" : "public, max-age=31536000, immutable");
      return send(200, bytes, "application/octet-stream");
    } catch (e) {
      if (e instanceof ReceiptNotFoundError) return fail(404, `unknown receipt ${root}`, "receipt_not_found");
      return fail(500, e instanceof PocError ? e.shortMessage : "internal error", "internal_error");
    }
  };
}

/**
 * Serve a store over HTTP: `GET|HEAD /receipts/<root>` → 200 application/octet-stream (verified
 * against the root before it is sent), 400 for a malformed root, 401/403 when `authorize` refuses,
 * 404 when unknown, 405 for other methods, 500 when the stored file is corrupt; `OPTIONS` → 204.
 * Every response carries the CORS headers; errors are JSON (`{"error":{message,type,code}}`).
 * Default host 127.0.0.1, default port 0 (any free port).
 */
export async function serveReceipts(store: ReceiptStore, options: ServeOptions = {}): Promise<ReceiptServer> {
  const host = options.host ?? "127.0.0.1";
  const handle = receiptRequestHandler(store, options);
  const handler = async (req: IncomingMessage, res: ServerResponse) => {
    if (options.extraRoutes && (await options.extraRoutes(req, res))) return;
    if (await handle(req, res)) return;
    const path = (req.url ?? "/").split("?")[0]!;
    for (const [k, v] of Object.entries(CORS_HEADERS)) res.setHeader(k, v);
    if (req.method === "OPTIONS") {
      res.statusCode = 204;
      res.end();
      options.onRequest?.("OPTIONS", path, 204);
      return;
    }
    const body = errorBody(404, "not found: receipts are at /receipts/<root>", "not_found");
    res.statusCode = 404;
    res.setHeader("content-type", "application/json");
    res.setHeader("content-length", Buffer.byteLength(body));
    res.end(req.method === "HEAD" ? undefined : body);
    options.onRequest?.(req.method ?? "?", path, 404);
  };
  const server = createServer((req, res) => {
    handler(req, res).catch(() => {
      if (!res.headersSent) res.statusCode = 500;
      res.end();
    });
  });
  await new Promise<void>((ok, fail) => {
    server.once("error", fail);
    server.listen(options.port ?? 0, host, () => {
      server.off("error", fail);
      ok();
    });
  }).catch((e: unknown) => {
    throw new ReceiptStoreError(`cannot listen on ${host}:${options.port ?? 0}`, { details: String((e as Error).message ?? e), cause: e });
  });
  const port = (server.address() as AddressInfo).port;
  const shownHost = host.includes(":") ? `[${host}]` : host;
  return {
    server,
    port,
    url: `http://${shownHost}:${port}`,
    close: () =>
      new Promise<void>((ok, fail) => {
        server.close((e) => (e ? fail(e) : ok()));
        server.closeAllConnections();
      }),
  };
}

/**
 * The URL of receipt `root` under a server's base URL (`http://host:port`, with or without a path
 * or a trailing `/`; one already ending in `/receipts` gets just the root), with `?job=<jobId>` when
 * given: the form committed on-chain (docs/NETWORK.md). A base that is not http(s) (a path, a
 * file:// URL) is returned as is.
 */
export function receiptUrl(base: string, root: string, jobId?: bigint | number | string): string {
  const r = normalizeRoot(root);
  if (!/^https?:\/\//i.test(base)) return base;
  let u: URL;
  try {
    u = new URL(base);
  } catch (e) {
    throw new ReceiptFetchError(`invalid receipt server URL ${base}`, { cause: e });
  }
  const p = u.pathname.replace(/\/+$/, "");
  if (!new RegExp(`/receipts/${r}(${RECEIPT_EXT.replace(".", "\\.")})?$`, "i").test(p)) u.pathname = p.endsWith("/receipts") ? `${p}/${r}` : `${p}/receipts/${r}`;
  if (jobId !== undefined) u.searchParams.set("job", BigInt(jobId).toString());
  return u.href;
}

export interface FetchOptions {
  /** Abort after this many milliseconds (default 30 s). */
  timeoutMs?: number;
  /** Reject content larger than this (default 256 MiB). */
  maxBytes?: number;
  /**
   * http(s) only: the `Authorization` header to send (offchain/transport/auth.ts `signAccess`), or
   * a function making one per request.
   */
  authorization?: string | (() => Promise<string>);
}

export interface FetchedReceipt {
  bytes: Uint8Array;
  receipt: Receipt;
  root: Hex;
}

/**
 * Fetch a receipt and check it against `expectedRoot`. `uri` may be:
 * - `http(s)://…` — fetched as is; a URL whose path ends in `/` gets `receipts/<root>` appended
 *   (so a server's base URL works), one ending in `/receipts/` gets `<root>`;
 * - `file://…` or a local path — a file, or a directory holding `<root>.pocr`.
 * Errors: ReceiptFetchError (unreachable, HTTP status, timeout, too large, unreadable),
 * ReceiptFormatError (not a valid receipt), ReceiptMismatchError (valid, but a different root).
 */
export async function fetchReceipt(uri: string, expectedRoot: string, options: FetchOptions = {}): Promise<FetchedReceipt> {
  const root = normalizeRoot(expectedRoot);
  const timeoutMs = options.timeoutMs ?? DEFAULT_FETCH_TIMEOUT_MS;
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_RECEIPT_BYTES;
  let bytes: Uint8Array;
  let source = uri;
  if (/^https?:\/\//i.test(uri)) {
    let u: URL;
    try {
      u = new URL(uri);
    } catch (e) {
      throw new ReceiptFetchError(`invalid receipt URL ${uri}`, { cause: e });
    }
    if (u.pathname.endsWith("/receipts/")) u.pathname += root;
    else if (u.pathname.endsWith("/")) u.pathname += `receipts/${root}`;
    const url = u.href;
    source = url;
    const auth = typeof options.authorization === "function" ? await options.authorization() : options.authorization;
    bytes = await fetchHttp(url, timeoutMs, maxBytes, auth);
  } else {
    let path: string;
    if (/^file:/i.test(uri)) {
      try {
        path = fileURLToPath(uri);
      } catch (e) {
        throw new ReceiptFetchError(`invalid file URL ${uri}`, { cause: e });
      }
    } else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(uri)) {
      throw new ReceiptFetchError(`unsupported receipt URI scheme in ${uri}`, { details: "use http://, https://, file:// or a local path" });
    } else path = uri;
    bytes = await readLocal(path, root, maxBytes);
    source = path;
  }
  let receipt: Receipt;
  try {
    receipt = decodeReceipt(bytes);
  } catch (e) {
    if (e instanceof ReceiptFormatError) {
      throw new ReceiptFormatError(`receipt from ${source} is malformed: ${e.shortMessage}`, { details: e.details, cause: e });
    }
    throw e;
  }
  const actual = receiptRoot(bytes);
  if (actual !== root) {
    throw new ReceiptMismatchError("fetched receipt does not match the expected root", {
      details: `expected ${root}, got ${actual} from ${source}`,
    });
  }
  return { bytes, receipt, root };
}

async function readLocal(path: string, root: Hex, maxBytes: number): Promise<Uint8Array> {
  try {
    let p = path;
    let st = await stat(p);
    if (st.isDirectory()) {
      p = join(p, `${root}${RECEIPT_EXT}`);
      st = await stat(p);
    }
    if (st.size > maxBytes) throw new ReceiptFetchError(`receipt file ${p} is ${st.size} bytes, over the ${maxBytes}-byte limit`);
    return new Uint8Array(await readFile(p));
  } catch (e) {
    if (e instanceof PocError) throw e;
    const why = errnoCode(e) === "ENOENT" ? "no such file" : String((e as Error).message ?? e);
    throw new ReceiptFetchError(`cannot read receipt from ${path}`, { details: why, cause: e });
  }
}

async function fetchHttp(url: string, timeoutMs: number, maxBytes: number, authorization?: string): Promise<Uint8Array> {
  const signal = AbortSignal.timeout(timeoutMs);
  let res: Response;
  try {
    // No redirects with a signature: it must not travel to another host.
    res = await fetch(url, { signal, redirect: authorization ? "error" : "follow", ...(authorization ? { headers: { authorization } } : {}) });
  } catch (e) {
    throw httpError(e, url, timeoutMs);
  }
  if (res.status !== 200) {
    // The JSON error of docs/NETWORK.md says why (e.g. not a party of the job).
    let why = "";
    try {
      const text = (await res.text()).slice(0, 2000);
      const parsed = JSON.parse(text) as { error?: { message?: unknown } };
      if (typeof parsed.error?.message === "string") why = `: ${parsed.error.message.slice(0, 300)}`;
    } catch {
      // not JSON
    }
    throw new ReceiptFetchError(`fetching ${url} failed: HTTP ${res.status} ${res.statusText}`.trim() + why, res.status === 401 || res.status === 403 ? { details: "the server serves receipts to the job's parties only (docs/NETWORK.md)" } : {});
  }
  const declared = Number(res.headers.get("content-length") ?? NaN);
  if (declared > maxBytes) {
    await res.body?.cancel().catch(() => {});
    throw new ReceiptFetchError(`receipt at ${url} is ${declared} bytes, over the ${maxBytes}-byte limit`);
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    if (res.body) {
      for await (const chunk of res.body) {
        total += chunk.length;
        if (total > maxBytes) {
          throw new ReceiptFetchError(`receipt at ${url} exceeds the ${maxBytes}-byte limit`);
        }
        chunks.push(chunk);
      }
    }
  } catch (e) {
    if (e instanceof PocError) throw e;
    throw httpError(e, url, timeoutMs);
  }
  const out = new Uint8Array(total);
  let o = 0;
  for (const c of chunks) (out.set(c, o), (o += c.length));
  return out;
}

function httpError(e: unknown, url: string, timeoutMs: number): ReceiptFetchError {
  const name = (e as Error)?.name;
  if (name === "TimeoutError" || name === "AbortError") {
    return new ReceiptFetchError(`fetching ${url} timed out after ${timeoutMs} ms`, { cause: e });
  }
  const cause = (e as { cause?: { code?: string; message?: string } })?.cause;
  return new ReceiptFetchError(`cannot fetch ${url}`, {
    details: cause?.code ?? cause?.message ?? String((e as Error)?.message ?? e),
    cause: e,
  });
}
