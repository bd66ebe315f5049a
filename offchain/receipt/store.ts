/**
 * Content-addressed receipt store: a local directory of `<root>.pocr` files (root = receiptRoot of the
 * bytes, 0x + 64 lowercase hex), an HTTP server for it (`GET /receipts/<root>`), and `fetchReceipt`,
 * which accepts http(s) URLs, file:// URLs and local paths and checks the content against the root
 * that was committed on-chain.
 */
import { randomBytes } from "node:crypto";
import { mkdir, open, readFile, readdir, rename, rm, stat } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { HEX32_RE, type Hex } from "../sampling/bytes.js";
import { PocError } from "../errors.js";
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

export interface ServeOptions {
  port?: number;
  host?: string;
  /** Called once per request (for logging). */
  onRequest?: (method: string, path: string, status: number) => void;
  /** Tried first for every request: returns true when it answered it (e.g. offchain/transport/generator-routes.ts). */
  extraRoutes?: (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>;
}

/**
 * Serve a store over HTTP: `GET|HEAD /receipts/<root>` → 200 application/octet-stream (verified
 * against the root before it is sent), 400 for a malformed root, 404 when unknown, 405 for other
 * methods, 500 when the stored file is corrupt. Default host 127.0.0.1, default port 0 (any free port).
 */
export async function serveReceipts(store: ReceiptStore, options: ServeOptions = {}): Promise<ReceiptServer> {
  const host = options.host ?? "127.0.0.1";
  const handler = async (req: IncomingMessage, res: ServerResponse) => {
    if (options.extraRoutes && (await options.extraRoutes(req, res))) return;
    const url = req.url ?? "/";
    const path = url.split("?")[0]!;
    const done = (status: number, body: string | Uint8Array, type = "text/plain; charset=utf-8") => {
      res.statusCode = status;
      res.setHeader("content-type", type);
      res.setHeader("content-length", typeof body === "string" ? Buffer.byteLength(body) : body.length);
      if (req.method === "HEAD") res.end();
      else res.end(body);
      options.onRequest?.(req.method ?? "?", path, status);
    };
    const m = /^\/receipts\/([^/]+)$/.exec(path);
    if (!m) return done(404, "not found: receipts are at /receipts/<root>\n");
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.setHeader("allow", "GET, HEAD");
      return done(405, "method not allowed\n");
    }
    const name = m[1]!.endsWith(RECEIPT_EXT) ? m[1]!.slice(0, -RECEIPT_EXT.length) : m[1]!;
    if (!HEX32_RE.test(name)) return done(400, "malformed root: expected 0x followed by 64 hex digits\n");
    try {
      const bytes = await store.get(name);
      res.setHeader("cache-control", "public, max-age=31536000, immutable");
      return done(200, bytes, "application/octet-stream");
    } catch (e) {
      if (e instanceof ReceiptNotFoundError) return done(404, `unknown receipt ${name.toLowerCase()}\n`);
      const msg = e instanceof PocError ? e.shortMessage : "internal error";
      return done(500, `${msg}\n`);
    }
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

export interface FetchOptions {
  /** Abort after this many milliseconds (default 30 s). */
  timeoutMs?: number;
  /** Reject content larger than this (default 256 MiB). */
  maxBytes?: number;
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
    bytes = await fetchHttp(url, timeoutMs, maxBytes);
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

async function fetchHttp(url: string, timeoutMs: number, maxBytes: number): Promise<Uint8Array> {
  const signal = AbortSignal.timeout(timeoutMs);
  let res: Response;
  try {
    res = await fetch(url, { signal, redirect: "follow" });
  } catch (e) {
    throw httpError(e, url, timeoutMs);
  }
  if (res.status !== 200) {
    await res.body?.cancel().catch(() => {});
    throw new ReceiptFetchError(`fetching ${url} failed: HTTP ${res.status} ${res.statusText}`.trim());
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
