/**
 * The gateway's HTTP client of a generator's server (docs/NETWORK.md "The generator's server"):
 * deliver the request bytes, follow the job's token stream as typed events, fetch the committed
 * receipt as the job's user (`Authorization` from `signAccess`). Every failure is a
 * GeneratorLinkError with a one-line reason (the gateway then falls back to another generator).
 */
import { decodeReceipt, receiptRoot, type Receipt } from "../receipt/index.js";
import { deliverRequest, GeneratorHttpError, streamJob } from "../transport/generator-client.js";
import { GeneratorLinkError } from "./errors.js";

export type GeneratorEvent =
  | { kind: "token"; index: number; token: number }
  | { kind: "done"; tokens: number[]; finishReason: "stop" | "length" }
  | { kind: "committed"; receiptRoot: string; receiptUri: string; tx: string }
  | { kind: "error"; message: string };

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

function oneLine(e: GeneratorHttpError): string {
  return e.details ? `${e.shortMessage} (${e.details})` : e.shortMessage;
}

function reason(e: unknown): string {
  const c = (e as { cause?: { code?: string; message?: string } }).cause;
  return c?.code ?? c?.message ?? (e as Error).message ?? String(e);
}

export const httpGeneratorLink: GeneratorLink = {
  // The protocol itself is offchain/transport/generator-client.ts (the one the CLI uses too); this
  // only turns its errors into GeneratorLinkError (the gateway falls back on those) and its events
  // into the runner's shape.
  async deliverRequest(endpoint, jobId, body, o = {}) {
    try {
      await deliverRequest(base(endpoint), jobId, body, o);
    } catch (e) {
      if (e instanceof GeneratorHttpError) throw new GeneratorLinkError(`the generator refused or could not take the request: ${oneLine(e)}`, { cause: e });
      throw e;
    }
  },

  async *streamJob(endpoint, jobId, authorization, o = {}) {
    try {
      for await (const e of streamJob(base(endpoint), jobId, authorization, o)) {
        yield { kind: e.event, ...e.data } as GeneratorEvent;
        if (e.event === "error") return;
      }
    } catch (e) {
      if (o.signal?.aborted) return;
      if (e instanceof GeneratorHttpError) throw new GeneratorLinkError(`the token stream failed: ${oneLine(e)}`, { cause: e });
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
