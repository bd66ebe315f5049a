/** JSON-RPC over HTTP on 127.0.0.1 in front of an in-process Hardhat provider (single requests and batches). */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

type Eip1193 = { request(a: { method: string; params?: unknown[] }): Promise<unknown> };

export async function serveRpc(provider: Eip1193): Promise<{ url: string; close(): Promise<void> }> {
  const one = async (b: { id?: unknown; method?: string; params?: unknown[] }) => {
    try {
      const result = await provider.request({ method: String(b.method), params: b.params ?? [] });
      return { jsonrpc: "2.0", id: b.id ?? null, result: result ?? null };
    } catch (e) {
      const err = e as { code?: unknown; message?: string; data?: unknown };
      return { jsonrpc: "2.0", id: b.id ?? null, error: { code: typeof err.code === "number" ? err.code : -32603, message: err.message ?? String(e), ...(err.data !== undefined ? { data: err.data } : {}) } };
    }
  };
  const server: Server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8").on("data", (d: string) => (body += d));
    req.on("end", () => {
      void (async () => {
        const parsed = JSON.parse(body) as unknown;
        const out = Array.isArray(parsed) ? await Promise.all(parsed.map(one)) : await one(parsed as { method?: string });
        res.setHeader("content-type", "application/json");
        res.end(JSON.stringify(out, (_k, v: unknown) => (typeof v === "bigint" ? `0x${v.toString(16)}` : v)));
      })();
    });
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((ok) => server.close(() => ok())),
  };
}
