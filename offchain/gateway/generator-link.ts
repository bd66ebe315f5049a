/**
 * The gateway's HTTP client of a generator's server (docs/NETWORK.md "The generator's server"):
 * deliver the request bytes, follow the job's token stream as typed events, fetch the committed
 * receipt as the job's user (`Authorization` from `signAccess`). Every failure is a
 * GeneratorLinkError with a one-line reason (the gateway then falls back to another generator).
 */
import { z } from "zod";
import { decodeReceipt, receiptRoot, type Receipt } from "../receipt/index.js";
import { GeneratorLinkError } from "./errors.js";
import { parseSse } from "./sse.js";

export type GeneratorEvent =
  | { kind: "token"; index: number; token: number }
  | { kind: "done"; tokens: number[]; finishReason: "stop" | "length" }
  | { kind: "committed"; receiptRoot: string; receiptUri: string; tx: string }
  | { kind: "error"; message: string };

const hex32 = z.string().regex(/^0x[0-9a-fA-F]{64}$/);
const eventSchemas = {
  token: z.object({ index: z.number().int().min(0), token: z.number().int().min(0) }),
  done: z.object({ tokens: z.array(z.number().int().min(0)), finishReason: z.enum(["stop", "length"]) }),
  committed: z.object({ receiptRoot: hex32, receiptUri: z.string(), tx: z.string() }),
  error: z.object({ message: z.string() }),
} as const;

/** What the gateway needs of a generator (swap in another transport with the same shape). */
export interface GeneratorLink {
  deliverRequest(endpoint: string, jobId: bigint, body: Uint8Array, o?: { signal?: AbortSignal; timeoutMs?: number }): Promise<void>;
  streamJob(endpoint: string, jobId: bigint, authorization: string, o?: { signal?: AbortSignal }): AsyncGenerator<GeneratorEvent>;
  fetchReceipt(uri: string, expectedRoot: string, authorization: string, o?: { timeoutMs?: number; maxBytes?: number }): Promise<{ bytes: Uint8Array; receipt: Receipt }>;
}

const base = (endpoint: string) => endpoint.replace(/\/+$/, "");

async function errorText(res: Response): Promise<string> {
  const text = await res.text().catch(() => "");
  try {
    const j = JSON.parse(text) as { error?: { message?: unknown; code?: unknown } };
    if (typeof j.error?.message === "string") return `${j.error.message}${typeof j.error.code === "string" ? ` (${j.error.code})` : ""}`;
  } catch {
    // not JSON
  }
  return text.slice(0, 200).trim() || res.statusText;
}

function reason(e: unknown): string {
  const c = (e as { cause?: { code?: string; message?: string } }).cause;
  return c?.code ?? c?.message ?? (e as Error).message ?? String(e);
}

export const httpGeneratorLink: GeneratorLink = {
  async deliverRequest(endpoint, jobId, body, o = {}) {
    const url = `${base(endpoint)}/v1/jobs/${jobId}/request`;
    let res: Response;
    try {
      const signals = [AbortSignal.timeout(o.timeoutMs ?? 30_000), ...(o.signal ? [o.signal] : [])];
      res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body, signal: AbortSignal.any(signals) });
    } catch (e) {
      throw new GeneratorLinkError(`could not deliver the request to ${url}: ${reason(e)}`, { cause: e });
    }
    if (res.status !== 202 && res.status !== 200) throw new GeneratorLinkError(`the generator refused the request (HTTP ${res.status}: ${await errorText(res)})`);
    await res.body?.cancel().catch(() => {});
  },

  async *streamJob(endpoint, jobId, authorization, o = {}) {
    const url = `${base(endpoint)}/v1/jobs/${jobId}/stream`;
    let res: Response;
    try {
      res = await fetch(url, { headers: { authorization, accept: "text/event-stream" }, ...(o.signal ? { signal: o.signal } : {}) });
    } catch (e) {
      throw new GeneratorLinkError(`could not open the token stream ${url}: ${reason(e)}`, { cause: e });
    }
    if (!res.ok || !res.body) throw new GeneratorLinkError(`the token stream ${url} answered HTTP ${res.status}: ${await errorText(res)}`);
    try {
      for await (const m of parseSse(res.body as unknown as AsyncIterable<Uint8Array>)) {
        const schema = eventSchemas[m.event as keyof typeof eventSchemas];
        if (!schema) continue; // unknown events are for someone else
        let json: unknown;
        try {
          json = JSON.parse(m.data);
        } catch {
          throw new GeneratorLinkError(`the token stream sent a ${m.event} event that is not JSON`);
        }
        const r = schema.safeParse(json);
        if (!r.success) throw new GeneratorLinkError(`the token stream sent a malformed ${m.event} event: ${r.error.issues[0]?.message}`);
        yield { kind: m.event, ...r.data } as GeneratorEvent;
        if (m.event === "error") return;
      }
    } catch (e) {
      if (e instanceof GeneratorLinkError) throw e;
      if (o.signal?.aborted) return;
      throw new GeneratorLinkError(`the token stream broke: ${reason(e)}`, { cause: e });
    }
  },

  async fetchReceipt(uri, expectedRoot, authorization, o = {}) {
    if (!/^https?:\/\//.test(uri)) throw new GeneratorLinkError(`the committed receipt URI is not http(s): ${uri.slice(0, 80)}`);
    let res: Response;
    try {
      res = await fetch(uri, { headers: { authorization }, signal: AbortSignal.timeout(o.timeoutMs ?? 30_000) });
    } catch (e) {
      throw new GeneratorLinkError(`could not fetch the receipt ${uri}: ${reason(e)}`, { cause: e });
    }
    if (!res.ok) throw new GeneratorLinkError(`fetching the receipt ${uri} answered HTTP ${res.status}: ${await errorText(res)}`);
    const bytes = new Uint8Array(await res.arrayBuffer());
    if (bytes.length > (o.maxBytes ?? 256 * 1024 * 1024)) throw new GeneratorLinkError(`the receipt ${uri} is too large (${bytes.length} bytes)`);
    let receipt: Receipt;
    let root: string;
    try {
      receipt = decodeReceipt(bytes);
      root = receiptRoot(bytes);
    } catch (e) {
      throw new GeneratorLinkError(`the receipt ${uri} does not decode: ${(e as Error).message.split("\n")[0]}`, { cause: e });
    }
    if (root.toLowerCase() !== expectedRoot.toLowerCase()) throw new GeneratorLinkError(`the receipt served at ${uri} has root ${root}, the committed root is ${expectedRoot}`);
    return { bytes, receipt };
  },
};
