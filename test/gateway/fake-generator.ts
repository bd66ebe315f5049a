/**
 * A protocol-faithful generator server for the gateway tests (docs/NETWORK.md "The generator's
 * server"), built from the real pieces: it reads the job from the in-process pool, accepts a POSTed
 * request only when it hashes to the job's on-chain `requestHash` (409 otherwise), generates it with
 * the real model (offchain/generate, the job's sampler seed), streams the tokens as SSE to the job's
 * user (`verifyAccess`, offchain/transport/auth.ts), commits the receipt on-chain (`client.commit`)
 * and serves it to the job's parties at `/receipts/<root>?job=<id>`.
 *
 * Misbehaviours:
 * - `never-commit`: streams the tokens but never commits (the gateway must fall back);
 * - `lie`: streams other tokens than the committed receipt holds (each token + 1 mod 256);
 * - `substitute`: generates with another model (`substitute`) and claims the job's model in the
 *   receipt (only a replay with the real model can tell);
 * - `refuse`: answers every request with 503.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { keccak256 } from "ethers";
import { JobState, type PoolClient } from "../../offchain/chain/index.js";
import { generate } from "../../offchain/generate/index.js";
import type { LoadedModel } from "../../offchain/model/index.js";
import { ReceiptStore, encodeReceipt, numChecks, receiptRoot } from "../../offchain/receipt/index.js";
import { MAX_REQUEST_BYTES, decodeJobRequest, samplerSeedFor } from "../../offchain/request/index.js";
import { AccessError, verifyAccess } from "../../offchain/transport/auth.js";

export type FakeBehaviour = "honest" | "never-commit" | "lie" | "substitute" | "refuse";

export interface FakeGenerator {
  url: string;
  address: string;
  /** Job ids whose request was accepted. */
  accepted: bigint[];
  /** Job ids committed. */
  committed: bigint[];
  close(): Promise<void>;
}

interface JobStream {
  events: string[];
  subscribers: Set<ServerResponse>;
  ended: boolean;
  root?: string;
  bytes?: Uint8Array;
}

export async function startFakeGenerator(o: { client: PoolClient; model: LoadedModel; store: ReceiptStore; behaviour?: FakeBehaviour; substitute?: LoadedModel }): Promise<FakeGenerator> {
  const behaviour = o.behaviour ?? "honest";
  const client = o.client;
  const me = await client.account();
  const jobs = new Map<string, JobStream>();
  const accepted: bigint[] = [];
  const committed: bigint[] = [];
  let url = "";
  let sending: Promise<void> = Promise.resolve();

  const json = (res: ServerResponse, status: number, body: unknown) => {
    res.statusCode = status;
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify(body));
  };
  const error = (res: ServerResponse, status: number, type: string, code: string, message: string) => json(res, status, { error: { message, type, code } });
  const stream = (id: string) => {
    let s = jobs.get(id);
    if (!s) jobs.set(id, (s = { events: [], subscribers: new Set(), ended: false }));
    return s;
  };
  const emit = (id: string, event: string, data: unknown) => {
    const s = stream(id);
    const frame = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    s.events.push(frame);
    for (const r of s.subscribers) r.write(frame);
  };
  const end = (id: string) => {
    const s = stream(id);
    s.ended = true;
    for (const r of s.subscribers) r.end();
    s.subscribers.clear();
  };
  const scope = (jobId: bigint) => ({ chainId: client.chainId, pool: client.address, jobId });

  const work = async (jobId: bigint, body: Uint8Array) => {
    const id = jobId.toString();
    try {
      const request = decodeJobRequest(body);
      const model = behaviour === "substitute" ? o.substitute! : o.model;
      const g = await generate(model, {
        promptTokens: request.promptTokens,
        decoding: request.decoding,
        sampler: { ...request.sampler, seed: samplerSeedFor(scope(jobId)) },
        ...(request.kvDtype ? { kvDtype: request.kvDtype } : {}),
      });
      let bytes = g.bytes;
      if (behaviour === "substitute") bytes = encodeReceipt({ ...g.receipt, modelId: request.modelId });
      const tokens = g.receipt.outputTokens;
      const shown = behaviour === "lie" ? tokens.map((t) => (t + 1) % 256) : tokens;
      for (let i = 0; i < shown.length; i++) {
        emit(id, "token", { index: i, token: shown[i] });
        await new Promise((r) => setImmediate(r));
      }
      emit(id, "done", { tokens: shown, finishReason: shown.length < request.decoding.maxTokens ? "stop" : "length" });
      if (behaviour === "never-commit") return end(id);
      const root = await o.store.put(bytes);
      const s = stream(id);
      s.root = root;
      s.bytes = bytes;
      const receiptUri = `${url}/receipts/${root}?job=${id}`;
      // one account, one nonce sequence: commits (approve + commit) of concurrent jobs go one at a time
      const send = sending.then(() => client.commit(jobId, { receiptRoot: root, numChecks: numChecks(g.receipt), receiptUri, approve: true }));
      sending = send.then(
        () => undefined,
        () => undefined,
      );
      const tx = await send;
      committed.push(jobId);
      emit(id, "committed", { receiptRoot: root, receiptUri, tx: tx.hash });
    } catch (e) {
      emit(id, "error", { message: (e as Error).message.split("\n")[0] });
    }
    end(id);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    res.setHeader("access-control-allow-origin", "*");
    res.setHeader("access-control-allow-headers", "Authorization, Content-Type");
    if (req.method === "OPTIONS") {
      res.statusCode = 204;
      return res.end();
    }
    if (behaviour === "refuse") return error(res, 503, "server_error", "unavailable", "this generator is not taking jobs");
    const u = new URL(req.url ?? "/", "http://x");
    let m = /^\/v1\/jobs\/(\d+)\/request$/.exec(u.pathname);
    if (m && req.method === "POST") {
      const chunks: Buffer[] = [];
      let n = 0;
      for await (const c of req as AsyncIterable<Buffer>) {
        n += c.length;
        if (n > MAX_REQUEST_BYTES) return error(res, 413, "invalid_request_error", "request_too_large", "request too large");
        chunks.push(c);
      }
      const body = new Uint8Array(Buffer.concat(chunks));
      const jobId = BigInt(m[1]!);
      const job = await client.getJob(jobId);
      if (job.state === JobState.None) return error(res, 404, "not_found_error", "unknown_job", `job ${jobId} is not open (yet)`);
      const { opened } = await client.jobRecord(jobId);
      if (!opened || opened.generator !== me) return error(res, 403, "permission_error", "not_my_job", `job ${jobId} names another generator`);
      if (keccak256(body).toLowerCase() !== opened.requestHash.toLowerCase())
        return error(res, 409, "invalid_request_error", "request_hash_mismatch", "the request does not hash to the job's requestHash");
      if (job.state !== JobState.Open) return error(res, 409, "invalid_request_error", "job_not_open", `job ${jobId} is not open`);
      if (!jobs.has(jobId.toString())) {
        accepted.push(jobId);
        stream(jobId.toString());
        void work(jobId, body);
      }
      return json(res, 202, { accepted: true, jobId: jobId.toString() });
    }
    m = /^\/v1\/jobs\/(\d+)\/stream$/.exec(u.pathname);
    if (m && req.method === "GET") {
      const jobId = BigInt(m[1]!);
      await verifyAccess(req.headers.authorization, scope(jobId), client, { allow: ["user"] });
      const s = jobs.get(jobId.toString());
      if (!s) return error(res, 404, "not_found_error", "unknown_job", `no request for job ${jobId}`);
      res.statusCode = 200;
      res.setHeader("content-type", "text/event-stream");
      res.setHeader("cache-control", "no-cache");
      res.flushHeaders();
      for (const f of s.events) res.write(f);
      if (s.ended) return res.end();
      s.subscribers.add(res);
      res.on("close", () => s.subscribers.delete(res));
      return;
    }
    m = /^\/receipts\/(0x[0-9a-fA-F]{64})$/.exec(u.pathname);
    if (m && req.method === "GET") {
      const job = u.searchParams.get("job");
      if (!job || !/^\d+$/.test(job)) return error(res, 400, "invalid_request_error", "job_required", "?job=ID is required");
      await verifyAccess(req.headers.authorization, scope(BigInt(job)), client);
      const { committed: c } = await client.jobRecord(BigInt(job));
      if (!c || c.receiptRoot.toLowerCase() !== m[1]!.toLowerCase()) return error(res, 404, "not_found_error", "unknown_receipt", "not this job's receipt");
      const bytes = await o.store.get(m[1]!);
      if (receiptRoot(bytes) !== c.receiptRoot.toLowerCase()) return error(res, 500, "server_error", "corrupt", "stored receipt is corrupt");
      res.statusCode = 200;
      res.setHeader("content-type", "application/octet-stream");
      return res.end(bytes);
    }
    return error(res, 404, "not_found_error", "unknown_url", `no route ${req.method} ${u.pathname}`);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (res.headersSent) return res.end();
      if (e instanceof AccessError) return error(res, e.status, e.status === 401 ? "authentication_error" : "permission_error", "access", e.shortMessage);
      error(res, 500, "server_error", "internal", (e as Error).message.split("\n")[0]!);
    });
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    address: me,
    accepted,
    committed,
    close: () =>
      new Promise<void>((ok) => {
        for (const s of jobs.values()) for (const r of s.subscribers) r.end();
        server.close(() => ok());
        server.closeAllConnections();
      }),
  };
}
