/**
 * JSON-RPC over HTTP in front of an EIP-1193 provider (Hardhat's in-process network): single requests
 * and batches, errors as JSON-RPC errors, bigints as 0x quantities. Used by `poc devnet` and the CLI
 * tests to serve the in-process chain to other processes.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface Eip1193 {
  request(args: { method: string; params?: unknown[] }): Promise<unknown>;
}

export interface RpcServer {
  url: string;
  server: Server;
  close(): Promise<void>;
}

type RpcCall = { id?: unknown; method?: unknown; params?: unknown };

export async function serveJsonRpc(provider: Eip1193, options: { host?: string; port?: number } = {}): Promise<RpcServer> {
  const one = async (b: RpcCall) => {
    if (!b || typeof b !== "object" || typeof b.method !== "string") {
      return { jsonrpc: "2.0", id: (b as RpcCall | null)?.id ?? null, error: { code: -32600, message: "invalid request" } };
    }
    try {
      const result = await provider.request({ method: b.method, params: Array.isArray(b.params) ? b.params : [] });
      return { jsonrpc: "2.0", id: b.id ?? null, result: result ?? null };
    } catch (e) {
      const err = e as { code?: unknown; message?: string; data?: unknown };
      return {
        jsonrpc: "2.0",
        id: b.id ?? null,
        error: { code: typeof err.code === "number" ? err.code : -32603, message: err.message ?? String(e), ...(err.data !== undefined ? { data: err.data } : {}) },
      };
    }
  };
  const server = createServer((req, res) => {
    res.setHeader("access-control-allow-origin", "*");
    res.setHeader("access-control-allow-headers", "content-type");
    if (req.method === "OPTIONS") {
      res.writeHead(204).end();
      return;
    }
    let body = "";
    req.setEncoding("utf8").on("data", (d: string) => (body += d));
    req.on("end", () => {
      void (async () => {
        let parsed: unknown;
        try {
          parsed = JSON.parse(body);
        } catch {
          res.writeHead(400, { "content-type": "application/json" }).end(JSON.stringify({ jsonrpc: "2.0", id: null, error: { code: -32700, message: "parse error" } }));
          return;
        }
        const out = Array.isArray(parsed) ? await Promise.all(parsed.map((p) => one(p as RpcCall))) : await one(parsed as RpcCall);
        res.setHeader("content-type", "application/json");
        res.end(JSON.stringify(out, (_k, v: unknown) => (typeof v === "bigint" ? `0x${v.toString(16)}` : v)));
      })();
    });
  });
  await new Promise<void>((ok, fail) => {
    server.once("error", fail);
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => ok());
  });
  const a = server.address() as AddressInfo;
  return {
    url: `http://${a.address}:${a.port}`,
    server,
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}
