/**
 * `poc worker generator`: run a generator (offchain/worker/generator.ts) — watch for jobs naming this
 * account, generate exactly the bound request, store the receipt and serve it over HTTP, stake βCg and
 * commit before the deadline. Crash-safe: progress is in `<state>/generator-<chain>-<pool>-<account>.json`.
 *
 *   npx poc worker generator --account 2 --models ./models --store ./receipts --serve-port 8547
 *
 * The receipt server listens on --serve-host (default 127.0.0.1) and --serve-port (default: any free
 * port); the receipt URI committed on-chain is `<public URL>/receipts/<root>?job=<id>`, where the
 * public URL is --public-url or, by default, the server's own http://host:port. Verifiers on other
 * machines need a public URL they can reach (e.g. --serve-host 0.0.0.0 --public-url http://gen.example:8547).
 *
 * The server hands a receipt only to a party of the job named by `?job=` — its user or a verifier
 * drawn for it, signing `Authorization: PoC …` (docs/NETWORK.md) — and only when the root is the one
 * that job committed. `--no-receipt-auth` serves every receipt to anyone: local demos only (a
 * receipt holds the prompt and the answer).
 *
 * `--register --price TOKENS [--endpoint URL] [--registry ADDRESS]` lists (or updates) the account in
 * the GeneratorRegistry on start: the models in --models, the price per generated token, and the
 * endpoint (default: the public URL); see `poc generator register` (./generator.ts).
 *
 * The same server takes private jobs' requests (`POST /v1/jobs/{id}/request`) and streams each job's
 * tokens to its user (`GET /v1/jobs/{id}/stream`): docs/NETWORK.md, offchain/transport/generator-routes.ts.
 */
import { Command, Option } from "commander";
import { z } from "zod";
import { EXECUTION_PROVIDERS, GRAPH_OPTIMIZATION_LEVELS, type ExecutionProvider, type GraphOptimizationLevel } from "../model/index.js";
import { addGraphOptOption } from "./model-options.js";
import { ReceiptStore, serveReceipts } from "../receipt/index.js";
import { GeneratorWorkerError, startGeneratorWorker } from "../worker/generator.js";
import { createLogger, type LogFormat, type LogLevel } from "../worker/log.js";
import { addChainOptions, closeClient, connectFromOptions, type ChainCliOptions } from "./chain-options.js";
import { nonNegativeInt, port, positiveInt } from "./options.js";
import { requireDirectory } from "./worker.js";
import { keeperHook, runUntilSignal, waitForRedeploy } from "./supervise.js";
import { readChainIdentity } from "../worker/chain-identity.js";
import { receiptAuthorizer } from "../transport/receipt-access.js";
import { registerOnStart } from "./generator.js";
import { parseEndpoint } from "../chain/index.js";
import { RequestIntake } from "../transport/intake.js";
import { JobEventLog } from "../transport/job-events.js";
import { GeneratorRoutes, routeContextFor } from "../transport/generator-routes.js";

const optionsSchema = z.object({
  models: z.string().min(1, "--models must name a directory"),
  store: z.string().min(1, "--store must name a directory"),
  state: z.string().min(1),
  servePort: z.number().int().min(0).max(65535, "--serve-port must be 0..65535").optional(),
  serveHost: z.string().min(1),
  publicUrl: z.url({ protocol: /^https?$/, error: "--public-url must be an http(s) URL" }).optional(),
  poll: z.number().int().min(1),
  fromBlock: z.number().int().min(0).optional(),
  provider: z.enum(EXECUTION_PROVIDERS as unknown as [ExecutionProvider, ...ExecutionProvider[]]),
  threads: z.number().int().min(1).optional(),
  graphOpt: z.enum(GRAPH_OPTIMIZATION_LEVELS as unknown as [GraphOptimizationLevel, ...GraphOptimizationLevel[]]),
  log: z.enum(["plain", "json"]),
  logLevel: z.enum(["debug", "info", "warn", "error"]),
  once: z.boolean(),
  mint: z.boolean(),
  keeper: z.boolean(),
  receiptAuth: z.boolean(),
  register: z.boolean(),
  price: z.string().optional(),
  endpoint: z.string().optional(),
  registry: z.string().regex(/^0x[0-9a-fA-F]{40}$/, "--registry must be an address (0x + 40 hex digits)").optional(),
});

export function generatorWorkerCommand(): Command {
  const cmd = new Command("generator")
    .description("run a generator: watch for jobs naming this account, generate, store and serve the receipt, stake and commit (crash-safe)")
    .requiredOption("--models <dir>", "directory of model directories (each subdirectory one model, found by its model id)")
    .requiredOption("--store <dir>", "receipt store directory (served over HTTP)")
    .option("--serve-port <port>", "port of the receipt server (default: any free port)", port)
    .option("--serve-host <host>", "address the receipt server listens on", "127.0.0.1")
    .option("--public-url <url>", "base URL verifiers fetch receipts from (default: the server's own URL)")
    .option("--no-receipt-auth", "LOCAL DEMOS ONLY: serve receipts to anyone, not just the job's user and drawn verifiers")
    .option("--state <dir>", "directory for the progress file", ".poc/generator-state")
    .option("--poll <ms>", "poll interval for new jobs", positiveInt, 2000)
    .option("--from-block <n>", "first block to scan on a fresh state (default: the pool's deployment block)", nonNegativeInt)
    .addOption(new Option("--provider <name>", "onnxruntime execution provider").choices([...EXECUTION_PROVIDERS]).default("cpu"))
    .option("--threads <n>", "CPU threads (default: onnxruntime's choice)", positiveInt)
    .addOption(new Option("--log <format>", "log format on stderr").choices(["plain", "json"]).default("plain"))
    .addOption(new Option("--log-level <level>", "least level logged").choices(["debug", "info", "warn", "error"]).default("info"))
    .option("--mint", "local TestToken only: mint the stake's shortfall to the wallet before each commit", false)
    .option("--keeper", "also advance every due job of the pool after each poll (cancel, finalize, timeoutVerifier, drawVerifiers, timeoutDraw)", false)
    .option("--once", "handle every job opened up to the current block, then exit", false)
    .option("--register", "list (or update) this generator in the GeneratorRegistry on start: the models in --models, --price, --endpoint", false)
    .option("--price <tokens>", "with --register: whole stake tokens per generated token (e.g. 0.001)")
    .option("--endpoint <url>", "with --register: the http(s) base URL to list (default: the public URL)")
    .option("--registry <address>", "with --register: GeneratorRegistry address (default: POC_GENERATOR_REGISTRY, else the deployment record)");
  addGraphOptOption(cmd);
  addChainOptions(cmd);
  return cmd.action(async (raw: ChainCliOptions & Record<string, unknown>) => {
    const r = optionsSchema.safeParse(raw);
    if (!r.success) throw new GeneratorWorkerError(r.error.issues.map((i) => i.message).join("; "));
    const o = r.data;
    if (o.register && !o.price) throw new GeneratorWorkerError("--register needs --price TOKENS (whole stake tokens per generated token)");
    if (!o.register && (o.price || o.endpoint || o.registry)) throw new GeneratorWorkerError("--price, --endpoint and --registry go with --register");
    if (o.endpoint) parseEndpoint(o.endpoint);
    await requireDirectory(o.models, "--models");
    const conn = await connectFromOptions(raw);
    let client = conn.client;
    const me = await client.account();
    const logger = createLogger({ format: o.log as LogFormat, minLevel: o.logLevel as LogLevel, name: `generator ${me.slice(0, 10)}` });
    const store = new ReceiptStore(o.store);
    const routes = new GeneratorRoutes({ intake: new RequestIntake(), events: new JobEventLog() });
    const server = await serveReceipts(store, {
      host: o.serveHost,
      ...(o.servePort !== undefined ? { port: o.servePort } : {}),
      // The client is replaced after a redeploy: the check reads the current one.
      ...(o.receiptAuth ? { authorize: receiptAuthorizer(() => client) } : {}),
      extraRoutes: routes.handle,
    });
    const base = o.publicUrl ?? server.url;
    logger.info(
      "serving",
      `receipts served at ${server.url}/receipts/<root> (committed as ${base}/receipts/<root>?job=<id>)${o.receiptAuth ? " to the job's parties only" : " to ANYONE (--no-receipt-auth: local demos only)"}; private requests at ${base}/v1/jobs/<id>/request, token streams at ${base}/v1/jobs/<id>/stream`,
      { url: server.url, publicUrl: base, auth: o.receiptAuth }
    );
    if (o.register) {
      try {
        const reg = await registerOnStart(client, { ...(o.registry ? { registry: o.registry } : {}), ...(conn.deployment ? { deployment: conn.deployment } : {}), modelsDir: o.models, price: o.price!, endpoint: o.endpoint ?? base, mint: o.mint });
        logger.info("registry", `${reg.action} in the GeneratorRegistry ${reg.registry}: ${reg.models.length} model(s), ${o.price} per token, ${reg.endpoint}`, {
          action: reg.action,
          registry: reg.registry,
          pricePerToken: reg.pricePerToken.toString(),
          endpoint: reg.endpoint,
          ...(reg.tx ? { tx: reg.tx } : {}),
        });
      } catch (e) {
        await server.close();
        closeClient(client);
        throw e;
      }
    }
    try {
      // Runs again with a fresh state after the chain or the pool changed under it (node restarted, pool redeployed).
      for (;;) {
      const identity = await readChainIdentity(client);
      routes.context = await routeContextFor(client);
      const w = await startGeneratorWorker({
        intake: routes.intake,
        events: routes.events,
        client,
        models: o.models,
        loadOptions: { provider: o.provider, graphOptimizationLevel: o.graphOpt, ...(o.threads ? { threads: o.threads } : {}) },
        store,
        receiptBaseUrl: base,
        stateDir: o.state,
        pollMs: o.poll,
        ...(o.fromBlock !== undefined ? { fromBlock: o.fromBlock } : {}),
        mintTestTokens: o.mint,
        log: logger,
        ...(o.keeper ? { afterPoll: keeperHook(client, logger) } : {}),
      });
      // One-transaction stages: verifiers ask this server for our signed fingerprint answers.
      routes.answerer = w.answerStage;
      let stoppedBy: string | undefined;
      if (o.once) {
        await w.idle();
        await w.stop();
      } else stoppedBy = await runUntilSignal(w, logger);
      const jobs = Object.values(w.state().jobs);
      const count = (s: string) => jobs.filter((j) => j.status === s).length;
      logger.info("summary", `jobs seen ${jobs.length}: committed ${count("committed")}, skipped ${count("skipped")}, failed ${count("failed")}`);
      if (!w.chainChange() || stoppedBy || o.once) {
        if (w.chainChange()) process.exitCode = 3;
        break;
      }
      const next = await waitForRedeploy(raw, identity, logger);
      if (!next) break;
      closeClient(client);
      client = next.client;
      }
    } finally {
      await server.close();
      closeClient(client);
    }
  });
}
