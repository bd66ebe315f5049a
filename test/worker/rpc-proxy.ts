/**
 * A JSON-RPC-over-HTTP front for Hardhat's in-process network (an EIP-1193 provider), with fault
 * injection: `failNext(n, status)` answers the next n requests with an HTTP error *without forwarding
 * them*, the way an overloaded gateway does. Lets the tests run the standalone client (JsonRpcProvider
 * + the node's unlocked accounts, as with `npx hardhat node`) against a transport that fails.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

interface Eip1193 {
  request(args: { method: string; params?: unknown[] }): Promise<unknown>;
}

export interface RpcProxy {
  url: string;
  /** Requests seen (including failed ones). */
  readonly calls: { method: string; failed: boolean }[];
  /**
   * Fail the next `n` requests (of `methods`, when given) with HTTP `status` (default 503). With
   * `afterForward` the request is executed first and only its response is lost (a gateway timing out
   * after the node accepted a transaction).
   */
  failNext(n: number, o?: { status?: number; methods?: string[]; afterForward?: boolean }): void;
  /** Requests still to fail. */
  readonly failing: number;
  close(): Promise<void>;
}

export async function startRpcProxy(target: Eip1193): Promise<RpcProxy> {
  let failLeft = 0;
  let failStatus = 503;
  let failMethods: string[] | undefined;
  let afterForward = false;
  const calls: { method: string; failed: boolean }[] = [];
  const handle = async (body: { id?: unknown; method?: string; params?: unknown[] }) => {
    try {
      const result = await target.request({ method: String(body.method), params: body.params ?? [] });
      return { jsonrpc: "2.0", id: body.id ?? null, result: result === undefined ? null : result };
    } catch (e) {
      const err = e as { code?: unknown; message?: string; data?: unknown };
      return {
        jsonrpc: "2.0",
        id: body.id ?? null,
        error: { code: typeof err.code === "number" ? err.code : -32603, message: err.message ?? String(e), ...(err.data !== undefined ? { data: err.data } : {}) },
      };
    }
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      void (async () => {
        let parsed: unknown;
        try {
          parsed = JSON.parse(Buffer.concat(chunks).toString("utf8"));
        } catch {
          res.statusCode = 400;
          res.end("bad json");
          return;
        }
        const list = Array.isArray(parsed) ? parsed : [parsed];
        const methods = list.map((b) => String((b as { method?: unknown }).method));
        const hit = failLeft > 0 && (!failMethods || methods.some((m) => failMethods!.includes(m)));
        if (hit) {
          failLeft--;
          for (const m of methods) calls.push({ method: m, failed: true });
          if (afterForward) await Promise.all(list.map((b) => handle(b as { id?: unknown; method?: string; params?: unknown[] })));
          res.statusCode = failStatus;
          res.end("service unavailable");
          return;
        }
        for (const m of methods) calls.push({ method: m, failed: false });
        const out = await Promise.all(list.map((b) => handle(b as { id?: unknown; method?: string; params?: unknown[] })));
        const payload = JSON.stringify(Array.isArray(parsed) ? out : out[0], (_k, v) => (typeof v === "bigint" ? `0x${v.toString(16)}` : v));
        res.setHeader("content-type", "application/json");
        res.end(payload);
      })();
    });
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", () => ok()));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    failNext(n: number, o: { status?: number; methods?: string[]; afterForward?: boolean } = {}) {
      failLeft = n;
      failStatus = o.status ?? 503;
      failMethods = o.methods;
      afterForward = o.afterForward ?? false;
    },
    get failing() {
      return failLeft;
    },
    close: () =>
      new Promise<void>((ok) => {
        server.close(() => ok());
        server.closeAllConnections();
      }),
  };
}
