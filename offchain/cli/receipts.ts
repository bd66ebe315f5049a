/**
 * `poc receipts …`: serve a receipt store over HTTP, inspect a receipt file, add a file to a store,
 * fetch a receipt by root.
 *
 * `serve` answers only the parties of a job (docs/NETWORK.md: `GET /receipts/<root>?job=<id>` signed
 * by the job's user or a drawn verifier, and `<root>` must be what the job committed), so it needs the
 * chain options (read-only: the pool's views and events); `--no-auth` serves anyone, for local demos.
 */
import { Command } from "commander";
import { readFile } from "node:fs/promises";
import {
  ReceiptFetchError,
  ReceiptStore,
  ReceiptStoreError,
  decodeWithLayout,
  fetchReceipt,
  numChecks,
  receiptRoot,
  receiptUrl,
  serveReceipts,
  writeFileAtomic,
} from "../receipt/index.js";
import { port, positiveInt } from "./options.js";
import { addChainOptions, closeClient, connectFromOptions, type ChainCliOptions } from "./chain-options.js";
import { receiptAuthorizer } from "../transport/receipt-access.js";
import { signAccess } from "../transport/auth.js";
import type { PoolClient } from "../chain/index.js";
import { DEFAULT_USER_STORE } from "./job-result.js";

async function readReceiptFile(file: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(file));
  } catch (e) {
    throw new ReceiptFetchError(`cannot read ${file}`, { details: (e as Error).message, cause: e });
  }
}

function describe(bytes: Uint8Array) {
  const { receipt: r, layout } = decodeWithLayout(bytes);
  const out = r.outputTokens.length;
  return {
    root: receiptRoot(bytes),
    bytes: bytes.length,
    version: r.version,
    modelId: r.modelId,
    promptTokens: r.promptTokens.length,
    outputTokens: out,
    decoding: { ...r.decoding, seed: r.decoding.seed.toString() },
    sampler: r.sampler,
    kvDtype: r.kvDtype,
    vectorLength: r.vectorLength,
    samples: r.samples.length,
    sampledPositions: new Set(r.samples.map((s) => s.position)).size,
    numChecks: numChecks(r),
    headerBytes: layout.headerLength,
    bytesPerSample: layout.sampleLength,
    bytesPerGeneratedToken: out > 0 ? bytes.length / out : null,
  };
}

export function receiptsCommand(): Command {
  const cmd = new Command("receipts").description("receipt store: serve over HTTP, inspect, add, fetch");

  addChainOptions(
    cmd
      .command("serve")
      .description(
        "serve a receipt store over HTTP at /receipts/<root>?job=ID to the job's parties only (its user and drawn verifiers, signed requests): e.g. the user's own copy, as a mirror for the job's verifiers"
      )
      .option("--store <dir>", `receipt store directory (<root>.pocr files; default ${DEFAULT_USER_STORE}, the user's copy)`)
      .option("--dir <dir>", "the same as --store")
      .option("--port <port>", "TCP port (0 = any free port)", port, 8547)
      .option("--host <host>", "address to listen on", "127.0.0.1")
      .option("--no-auth", "LOCAL DEMOS ONLY: serve every receipt to anyone (no chain connection; receipts hold prompts and answers)")
      .option("--quiet", "do not log requests")
  ).action(async (opts: ChainCliOptions & { store?: string; dir?: string; port: number; host: string; auth: boolean; quiet?: boolean }) => {
    if (opts.store && opts.dir && opts.store !== opts.dir) throw new ReceiptStoreError("give --store or --dir, not both");
    const store = new ReceiptStore(opts.store ?? opts.dir ?? DEFAULT_USER_STORE);
    // Read-only: the party check needs the pool's views and events, no account.
    const client = opts.auth ? (await connectFromOptions(opts, false)).client : undefined;
    try {
      const srv = await serveReceipts(store, {
        port: opts.port,
        host: opts.host,
        ...(client ? { authorize: receiptAuthorizer(client) } : {}),
        ...(opts.quiet ? {} : { onRequest: (m: string, p: string, s: number) => console.log(`${new Date().toISOString()} ${m} ${p} ${s}`) }),
      });
      const count = (await store.list()).length;
      console.log(
        `serving ${count} receipt(s) from ${store.dir} at ${srv.url}/receipts/<root>${client ? `?job=<id> to the parties of each job of pool ${client.address}` : " to ANYONE (--no-auth: local demos only)"} (Ctrl-C to stop)`
      );
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off("SIGINT", stop);
          process.off("SIGTERM", stop);
          srv.close().then(resolve, resolve);
        };
        process.on("SIGINT", stop);
        process.on("SIGTERM", stop);
      });
    } finally {
      if (client) closeClient(client);
    }
  });

  cmd
    .command("inspect")
    .description("decode and validate a receipt file; print its header, root and sizes")
    .argument("<file>", "receipt file (.pocr)")
    .option("--json", "print JSON")
    .action(async (file: string, opts: { json?: boolean }) => {
      const info = describe(await readReceiptFile(file));
      if (opts.json) {
        console.log(JSON.stringify(info, null, 2));
        return;
      }
      const d = info.decoding;
      const s = info.sampler;
      const lines: [string, string | number][] = [
        ["root", info.root],
        ["version", info.version],
        ["model id", info.modelId],
        ["tokens", `${info.promptTokens} prompt + ${info.outputTokens} generated`],
        ["decoding", `seed ${d.seed}, temperature ${d.temperature}, top-k ${d.topK || "off"}, top-p ${d.topP === 1 ? "off" : d.topP}, max tokens ${d.maxTokens}${d.stopAtEos ? ", stop at EOS" : ""}`],
        ["sampler", `seed ${s.seed}, rate ${s.ratePpm} ppm (${(s.ratePpm / 1e6).toPrecision(4)}), ${s.layersPerToken}/${s.numLayers} layers per sampled token, scope ${s.scope}`],
        ["kv", `${info.kvDtype}, vector length ${info.vectorLength}`],
        ["samples", `${info.samples} at ${info.sampledPositions} positions`],
        ["checks", info.numChecks],
        ["bytes", `${info.bytes} (header ${info.headerBytes}, ${info.bytesPerSample} per sample)`],
        ["bytes/generated token", info.bytesPerGeneratedToken === null ? "n/a" : info.bytesPerGeneratedToken.toFixed(2)],
      ];
      const w = Math.max(...lines.map(([k]) => k.length));
      for (const [k, v] of lines) console.log(`${k.padEnd(w)}  ${v}`);
    });

  cmd
    .command("put")
    .description("validate a receipt file and add it to a store; prints its root")
    .argument("<file>", "receipt file")
    .requiredOption("--dir <dir>", "receipt store directory")
    .action(async (file: string, opts: { dir: string }) => {
      console.log(await new ReceiptStore(opts.dir).put(await readReceiptFile(file)));
    });

  addChainOptions(
    cmd
      .command("fetch")
      .description("fetch a receipt (http(s) URL, file URL, path or store directory) and check it against a root; --job signs the request as a party of that job")
      .argument("<uri>", "where to fetch it (a server's base URL works too)")
      .requiredOption("--root <root>", "expected receipt root (0x + 64 hex)")
      .option("--job <id>", "sign as a party of this job (its user or a drawn verifier; --account N or POC_PRIVATE_KEY) and ask for ?job=<id>", positiveInt)
      .option("--out <file>", "write the verified bytes here")
      .option("--dir <dir>", "add the verified receipt to this store")
      .option("--timeout <ms>", "timeout in milliseconds", positiveInt, 30_000)
      .option("--max-bytes <n>", "size limit", positiveInt, 256 * 1024 * 1024)
  ).action(async (uri: string, opts: ChainCliOptions & { root: string; job?: number; out?: string; dir?: string; timeout: number; maxBytes: number }) => {
    let client: PoolClient | undefined;
    try {
      let authorization: (() => Promise<string>) | undefined;
      let at = uri;
      if (opts.job !== undefined) {
        const c = (client = (await connectFromOptions(opts, true)).client);
        const scope = { chainId: c.chainId, pool: c.address, jobId: BigInt(opts.job) };
        authorization = () => signAccess(c.signer!, scope);
        if (/^https?:\/\//i.test(uri)) at = receiptUrl(uri, opts.root, opts.job);
      }
      const got = await fetchReceipt(at, opts.root, { timeoutMs: opts.timeout, maxBytes: opts.maxBytes, ...(authorization ? { authorization } : {}) });
      if (opts.out) {
        await writeFileAtomic(opts.out, got.bytes).catch((e: unknown) => {
          throw new ReceiptStoreError(`cannot write ${opts.out}`, { details: (e as Error).message, cause: e });
        });
      }
      if (opts.dir) await new ReceiptStore(opts.dir).put(got.bytes);
      console.log(`ok ${got.root} (${got.bytes.length} bytes, ${got.receipt.samples.length} samples)`);
    } finally {
      if (client) closeClient(client);
    }
  });

  return cmd;
}
