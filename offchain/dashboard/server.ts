/**
 * The dashboard's HTTP server (node:http, no framework):
 *
 *   GET /                the page (./page/index.html) and its script (/app.js, /style.css)
 *   GET /api/snapshot    the latest snapshot as JSON (./snapshot.ts; bigints as decimal strings)
 *   GET /api/events      server-sent events: `event: snapshot` with the whole snapshot at once and
 *                        after every new block (a comment line every 15 s keeps proxies open)
 *
 * It polls the head every `pollMs` (default 1000) through a DashboardIndexer. Listens on 127.0.0.1
 * by default: the page shows the answers of the user whose store it was started with (./answers.ts),
 * so it is that user's page; bind another host only for a dashboard without `answers`.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { readFile } from "node:fs/promises";
import { PocError } from "../errors.js";
import { DashboardIndexer, type IndexerOptions } from "./indexer.js";
import { snapshotToJson, type DashboardSnapshot } from "./snapshot.js";

export class DashboardError extends PocError {
  override name = "DashboardError";
}

export interface DashboardServerOptions extends IndexerOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 8001; 0 picks a free port. */
  port?: number;
  /** How often the head is polled (ms; default 1000). */
  pollMs?: number;
  /** Called with an RPC failure of a poll (the next poll tries again). Default: ignored. */
  onError?: (e: unknown) => void;
}

export interface DashboardServer {
  /** http://host:port */
  url: string;
  indexer: DashboardIndexer;
  /** Poll now (what the timer does): catch up and push a new snapshot to every subscriber. */
  refresh(): Promise<DashboardSnapshot | undefined>;
  close(): Promise<void>;
}

const PAGE_FILES: Record<string, { file: string; type: string }> = {
  "/": { file: "index.html", type: "text/html; charset=utf-8" },
  "/index.html": { file: "index.html", type: "text/html; charset=utf-8" },
  "/app.js": { file: "app.js", type: "text/javascript; charset=utf-8" },
  "/style.css": { file: "style.css", type: "text/css; charset=utf-8" },
};

async function loadPage(): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const { file } of Object.values(PAGE_FILES)) {
    if (out.has(file)) continue;
    out.set(file, await readFile(new URL(`./page/${file}`, import.meta.url)));
  }
  return out;
}

const SECURITY_HEADERS = {
  "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'",
  "X-Content-Type-Options": "nosniff",
  "Cache-Control": "no-store",
};

/** Start the dashboard (module comment); the first snapshot is read before it listens. */
export async function startDashboard(o: DashboardServerOptions): Promise<DashboardServer> {
  const page = await loadPage();
  const indexer = new DashboardIndexer(o);
  await indexer.refresh();
  const subscribers = new Set<ServerResponse>();
  let json = snapshotToJson(indexer.snapshot!);

  const push = (res: ServerResponse) => res.write(`event: snapshot\ndata: ${json}\n\n`);
  const refresh = async () => {
    const s = await indexer.refresh();
    if (s) {
      json = snapshotToJson(s);
      for (const r of subscribers) push(r);
    }
    return indexer.snapshot;
  };

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { Allow: "GET, HEAD", ...SECURITY_HEADERS }).end();
      return;
    }
    const f = PAGE_FILES[path];
    if (f) {
      res.writeHead(200, { "Content-Type": f.type, ...SECURITY_HEADERS }).end(page.get(f.file));
      return;
    }
    if (path === "/api/snapshot") {
      res.writeHead(200, { "Content-Type": "application/json; charset=utf-8", ...SECURITY_HEADERS }).end(json);
      return;
    }
    if (path === "/api/events") {
      res.writeHead(200, { "Content-Type": "text/event-stream; charset=utf-8", Connection: "keep-alive", ...SECURITY_HEADERS });
      res.write("retry: 2000\n\n");
      push(res);
      subscribers.add(res);
      req.on("close", () => subscribers.delete(res));
      return;
    }
    res.writeHead(404, { "Content-Type": "text/plain; charset=utf-8", ...SECURITY_HEADERS }).end("not found\n");
  };

  const server = createServer(handle);
  const host = o.host ?? "127.0.0.1";
  await new Promise<void>((ok, fail) => {
    server.once("error", (e: NodeJS.ErrnoException) =>
      fail(e.code === "EADDRINUSE" ? new DashboardError(`port ${o.port ?? 8001} on ${host} is in use: pass another --port`, { cause: e }) : e),
    );
    server.listen(o.port ?? 8001, host, () => ok());
  });
  const { port } = server.address() as AddressInfo;

  let stopped = false;
  const pollMs = o.pollMs ?? 1000;
  const keepAlive = setInterval(() => {
    for (const r of subscribers) r.write(": keep-alive\n\n");
  }, 15_000);
  keepAlive.unref();
  let timer: NodeJS.Timeout | undefined;
  const tick = async () => {
    try {
      await refresh();
    } catch (e) {
      o.onError?.(e);
    }
    if (!stopped) timer = setTimeout(tick, pollMs);
  };
  timer = setTimeout(tick, pollMs);

  return {
    url: `http://${host.includes(":") ? `[${host}]` : host}:${port}`,
    indexer,
    refresh,
    async close() {
      stopped = true;
      clearTimeout(timer);
      clearInterval(keepAlive);
      for (const r of subscribers) r.end();
      subscribers.clear();
      const closed = new Promise<void>((ok) => server.close(() => ok()));
      server.closeAllConnections();
      await closed;
    },
  };
}
