/**
 * `poc gateway`: the user's OpenAI-compatible HTTP API (offchain/gateway/README.md).
 *
 *   poc gateway --model DIR [--model DIR …] [--registry ADDRESS | --generator ADDRESS=URL[,PRICE] …
 *               --price-per-token AMOUNT] [--cv AMOUNT | --cv-fraction F] [--port 8000] [policies]
 *
 * Generators come from the on-chain GeneratorRegistry (the deployment record's, or --registry) unless
 * --generator flags name them.
 *
 * Every completion opens a private job with the account's key (chain options: --account N or
 * POC_PRIVATE_KEY, --rpc, --pool). Amounts are whole stake tokens (decimals allowed).
 */
import { Command, Option } from "commander";
import { z } from "zod";
import { PocError } from "../errors.js";
import { ReceiptStore } from "../receipt/index.js";
import { parseRatePpm } from "../sampling/index.js";
import { createLogger, type LogFormat } from "../worker/log.js";
import { startGateway } from "../gateway/gateway.js";
import { openGatewayModel } from "../gateway/models.js";
import { RegistryDirectory, StaticDirectory, parseGeneratorFlag, type GeneratorDirectory } from "../gateway/directory.js";
import { registryFor } from "../chain/index.js";
import { RecordedDirectory } from "../gateway/records.js";
import { addChainOptions, closeClient, connectFromOptions, parseTokenAmount, type ChainCliOptions } from "./chain-options.js";
import { sampleRateSchema } from "./options.js";

export class GatewayCliError extends PocError {
  override name = "GatewayCliError";
}

const amount = (name: string) => z.string().regex(/^\d+(\.\d+)?$/, `${name} must be an amount of tokens, e.g. 0.01`);
const fraction = (name: string, lo: "open" | "closed") =>
  z
    .string()
    .transform(Number)
    .refine((n) => Number.isFinite(n) && (lo === "open" ? n > 0 : n >= 0) && n <= 1, `${name} must be a number in ${lo === "open" ? "(0, 1]" : "[0, 1]"}`);
const posInt = (name: string) =>
  z
    .string()
    .regex(/^\d+$/, `${name} must be a positive integer`)
    .transform(Number)
    .refine((n) => Number.isSafeInteger(n) && n >= 1, `${name} must be a positive integer`);

const schema = z.object({
  model: z.array(z.string().min(1)).default([]),
  generator: z.array(z.string()).default([]),
  pricePerToken: amount("--price-per-token").optional(),
  registry: z.string().regex(/^0x[0-9a-fA-F]{40}$/, "--registry must be an address (0x + 40 hex digits)").optional(),
  maxPricePerToken: amount("--max-price-per-token").optional(),
  cv: amount("--cv").optional(),
  cvFraction: fraction("--cv-fraction", "open").refine((n) => n < 1, "--cv-fraction must be below 1").optional(),
  host: z.string().min(1),
  port: z
    .string()
    .regex(/^\d+$/, "--port must be a port number")
    .transform(Number)
    .refine((n) => n <= 65535, "--port must be a port number"),
  maxTokens: posInt("--max-tokens"),
  sampleRate: sampleRateSchema,
  layersPerToken: posInt("--layers-per-token"),
  scope: z.enum(["all", "generated"]),
  commitTimeout: posInt("--commit-timeout"),
  verify: z.boolean().default(false),
  challengeOnMismatch: z.boolean().default(false),
  challengeFraction: fraction("--challenge-fraction", "closed"),
  settle: z.boolean().default(false),
  settleInterval: posInt("--settle-interval"),
  store: z.string().min(1).optional(),
  noStore: z.boolean().optional(),
  mint: z.boolean().default(false),
  allowOrigin: z.array(z.string()).default([]),
  threads: posInt("--threads").optional(),
  log: z.enum(["plain", "json"]),
});

type Raw = ChainCliOptions & Record<string, unknown>;

async function runGateway(raw: Raw): Promise<void> {
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new GatewayCliError(parsed.error.issues.map((i) => i.message).join("; "));
  const o = parsed.data;
  if (o.model.length === 0) throw new GatewayCliError("give at least one --model DIR: the gateway tokenizes prompts with the model's tokenizer");
  const logger = createLogger({ format: o.log as LogFormat, name: "gateway" });
  const log = (event: string, message: string, fields: Record<string, unknown> = {}) => logger.info(event, message, fields);
  const { client, deployment } = await connectFromOptions(raw, true);
  try {
    const decimals = await client.tokenDecimals();
    const tokens = (s: string, name: string) => {
      try {
        return parseTokenAmount(s, decimals);
      } catch (e) {
        throw new GatewayCliError(`${name}: ${(e as Error).message.split("\n")[0]}`);
      }
    };
    let directory: GeneratorDirectory;
    if (o.generator.length > 0) {
      if (o.registry) throw new GatewayCliError("--registry and --generator both name where generators come from: pass one");
      const price = o.pricePerToken !== undefined ? tokens(o.pricePerToken, "--price-per-token") : undefined;
      const listings = o.generator.map((g) =>
        parseGeneratorFlag(g, {
          defaultPrice: price ?? -1n,
          parsePrice: (s) => tokens(s, "--generator price"),
        })
      );
      if (listings.some((l) => l.pricePerToken < 0n)) throw new GatewayCliError("a --generator without a price needs --price-per-token (tokens per generated token)");
      directory = new RecordedDirectory(new StaticDirectory(listings), client);
    } else {
      const registry = await registryFor(client, { ...(o.registry ? { address: o.registry } : {}), ...(deployment ? { deployment } : {}) });
      directory = new RegistryDirectory(registry, client);
      log("registry", `generators from the GeneratorRegistry ${registry.address}`, { registry: registry.address });
    }
    const models = [];
    for (const dir of o.model) models.push(await openGatewayModel(dir, { load: o.verify ? { ...(o.threads ? { threads: o.threads } : {}) } : false }));
    const apiKey = process.env.POC_GATEWAY_API_KEY;
    const gw = await startGateway({
      client,
      models,
      directory,
      policies: { verifyLocally: o.verify, challengeOnMismatch: o.challengeOnMismatch, challengeFraction: o.challengeFraction, settle: o.settle },
      costs: {
        ...(o.cv !== undefined ? { cv: tokens(o.cv, "--cv") } : {}),
        ...(o.cvFraction !== undefined ? { cvFraction: o.cvFraction } : {}),
        ...(o.maxPricePerToken !== undefined ? { maxPricePerToken: tokens(o.maxPricePerToken, "--max-price-per-token") } : {}),
      },
      sampler: { ratePpm: parseRatePpm(o.sampleRate), layersPerToken: o.layersPerToken, scope: o.scope },
      commitTimeoutMs: o.commitTimeout * 1000,
      ...(o.noStore ? {} : { store: new ReceiptStore(o.store ?? ".poc/gateway/receipts") }),
      mint: o.mint,
      host: o.host,
      port: o.port,
      defaultMaxTokens: o.maxTokens,
      ...(apiKey ? { apiKey } : {}),
      allowOrigins: o.allowOrigin,
      settleEveryMs: o.settleInterval * 1000,
      log,
    });
    const me = await client.account();
    log("started", `gateway on ${gw.url}/v1 (user ${me}, pool ${client.address}, chain ${client.chainId}); models: ${models.map((m) => m.name).join(", ")}`, {
      url: gw.url,
      account: me,
    });
    console.log(`OpenAI-compatible API on ${gw.url}/v1`);
    console.log(
      `  try: curl -s ${gw.url}/v1/chat/completions -d '{"model":"${models[0]!.name}","messages":[{"role":"user","content":"Hi"}]}'`
    );
    await new Promise<void>((resolve) => {
      const stop = () => resolve();
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
    });
    log("stopping", "stopping: waiting for the settle loop");
    await gw.close();
  } finally {
    closeClient(client);
  }
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

export function gatewayCommand(): Command {
  return addChainOptions(
    new Command("gateway")
      .description("the user's OpenAI-compatible HTTP API on 127.0.0.1: each completion is a private job, returned with its proof_of_cache")
      .option("--model <dir>", "a model directory to offer (its name is the directory's; repeatable)", collect)
      .option("--registry <address>", "the GeneratorRegistry to find generators in (default: the deployment record's)")
      .option("--generator <address=url[,price]>", "a generator and its server instead of the registry (price in tokens per generated token; repeatable)", collect)
      .option("--price-per-token <amount>", "with --generator: tokens paid per generated token (Cg = price × max_tokens) for generators given without a price")
      .option("--max-price-per-token <amount>", "skip generators priced above this")
      .option("--cv <amount>", "a fixed verification cost unit Cv, in tokens")
      .option("--cv-fraction <f>", "Cv as a fraction of Cg (default 0.1, lowered to what the pool allows)")
      .option("--host <host>", "address to listen on (beyond loopback only with POC_GATEWAY_API_KEY set)", "127.0.0.1")
      .option("--port <n>", "port to listen on (0: any free port)", "8000")
      .option("--max-tokens <n>", "max_tokens when a request gives none (lowered to fit the model's context)", "256")
      .option("--sample-rate <r>", "fraction of positions whose K/V the generator must sample", "1/16")
      .option("--layers-per-token <n>", "layers sampled at each sampled position", "2")
      .addOption(new Option("--scope <scope>", "candidate positions: prompt and output, or output only").choices(["all", "generated"]).default("all"))
      .option("--commit-timeout <s>", "seconds from delivering the request to the commit before the next generator is tried", "120")
      .option("--verify", "replay each receipt with the local model (loads the --model graphs) and challenge when it disagrees", false)
      .option("--challenge-on-mismatch", "challenge when the receipt does not answer the job, is unavailable, or differs from the streamed tokens", false)
      .option("--challenge-fraction <f>", "challenge this random fraction of the other jobs (spot checks)", "0")
      .option("--settle", "finalize unchallenged jobs after the window, cancel uncommitted ones after the deadline, withdraw the credit", false)
      .option("--settle-interval <s>", "seconds between settle rounds", "15")
      .option("--store <dir>", "keep a copy of every receipt here (default .poc/gateway/receipts)")
      .option("--no-store", "keep no copy of the receipts")
      .option("--mint", "local TestToken only: mint the deposit's shortfall before opening a job", false)
      .option("--allow-origin <origin>", "accept browser requests from this Origin (repeatable; default: none)", collect)
      .option("--threads <n>", "onnxruntime threads for --verify")
      .addOption(new Option("--log <format>", "log format on stderr").choices(["plain", "json"]).default("plain"))
  ).action(async (o: Raw) => runGateway({ ...o, noStore: o.store === false, store: typeof o.store === "string" ? o.store : undefined }));
}
