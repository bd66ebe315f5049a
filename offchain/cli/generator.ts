/**
 * `poc generator register|list|unregister`: a generator's listing in the GeneratorRegistry
 * (contracts/IGeneratorRegistry.sol, docs/NETWORK.md "Generators found on-chain"): the models it
 * serves, its price per generated token and the base URL of its server.
 *
 *   npx poc generator register --account 2 --models .poc/models --price 0.001 --endpoint http://127.0.0.1:8547
 *   npx poc generator register --account 2 --model-id 0xabc… 0xdef… --price 0.002 --endpoint https://gen.example
 *   npx poc generator list [--model 0xabc…] [--json]      ranked: price, then record (jobs slashed / forfeited / skipped)
 *   npx poc generator unregister --account 2              leave (the deposit comes back)
 *
 * `register` lists the account or replaces its listing (models, price and endpoint together); the
 * first listing holds the registry's deposit (approved when needed; `--mint` mints a local
 * TestToken shortfall). The price is in whole stake tokens per generated token (`0.001`), the
 * endpoint an http(s) base URL; both are checked before anything is sent. The registry is the one the
 * deployment record names (`generatorRegistry`), or `--registry ADDRESS` / POC_GENERATOR_REGISTRY.
 */
import { Command, InvalidArgumentError } from "commander";
import {
  GeneratorRegistryClient,
  MAX_LISTED_MODELS,
  MAX_PRICE_PER_TOKEN,
  checkListedModels,
  listings,
  parseEndpoint,
  rankListings,
  registryFor,
  failureRate,
  type GeneratorListing,
  type PoolClient,
} from "../chain/index.js";
import { PocError } from "../errors.js";
import { addChainOptions, closeClient, connectFromOptions, formatTokens, parseTokenAmount, type ChainCliOptions } from "./chain-options.js";
import { hex32 } from "./options.js";
import { ModelDirectory } from "../worker/models.js";

export class GeneratorCliError extends PocError {
  override name = "GeneratorCliError";
}

interface RegistryCliOptions extends ChainCliOptions {
  registry?: string;
}

function registryAddress(v: string): string {
  if (!/^0x[0-9a-fA-F]{40}$/.test(v)) throw new InvalidArgumentError("an address (0x + 40 hex digits)");
  return v;
}

function addRegistryOption(cmd: Command): Command {
  return addChainOptions(cmd).option("--registry <address>", "GeneratorRegistry address (default: POC_GENERATOR_REGISTRY, else the deployment record)", registryAddress);
}

/** Connect, find the registry, run `fn`, close the provider. */
async function withRegistry<T>(o: RegistryCliOptions, needSigner: boolean, fn: (r: GeneratorRegistryClient, pool: PoolClient) => Promise<T>): Promise<T> {
  const conn = await connectFromOptions(o, needSigner);
  try {
    const r = await registryFor(conn.client, { ...(o.registry ? { address: o.registry } : {}), ...(conn.deployment ? { deployment: conn.deployment } : {}) });
    return await fn(r, conn.client);
  } finally {
    closeClient(conn.client);
  }
}

/** Whole tokens per generated token → base units, checked (positive, fits 128 bits). */
export function parsePrice(v: string, decimals: number): bigint {
  let p: bigint;
  try {
    p = parseTokenAmount(v, decimals);
  } catch (e) {
    throw new GeneratorCliError(`--price ${v}: not a token amount (whole tokens per generated token, e.g. 0.001)`, { cause: e });
  }
  if (p === 0n) throw new GeneratorCliError(`--price ${v}: the price per token must be positive`);
  if (p > MAX_PRICE_PER_TOKEN) throw new GeneratorCliError(`--price ${v}: too large (at most 2^128 - 1 base units)`);
  return p;
}

/** The models to list: `--model-id` ids, or every model in `--models DIR` (at most 16). */
export async function modelsToList(o: { modelId?: string[]; models?: string }): Promise<string[]> {
  if (o.modelId && o.modelId.length > 0) {
    try {
      return checkListedModels(o.modelId);
    } catch (e) {
      throw new GeneratorCliError(`--model-id: ${(e as Error).message}`);
    }
  }
  if (!o.models) throw new GeneratorCliError("name the models served: --models DIR or --model-id ID...");
  const ids = [...(await new ModelDirectory(o.models).index()).keys()].sort();
  if (ids.length === 0) throw new GeneratorCliError(`no model directories found in ${o.models}`);
  if (ids.length > MAX_LISTED_MODELS) throw new GeneratorCliError(`${o.models} holds ${ids.length} models; a listing names at most ${MAX_LISTED_MODELS} (give the ids)`);
  return ids;
}

/** A JSON-ready listing (bigints as decimal strings) with its failure rate. */
export function listingJson(l: GeneratorListing): Record<string, unknown> {
  return { ...l, pricePerToken: l.pricePerToken.toString(), failureRate: failureRate(l.record) };
}

function listingLines(ranked: readonly GeneratorListing[], decimals: number): string[] {
  if (ranked.length === 0) return ["no generators listed"];
  return ranked.flatMap((l, i) => {
    const r = l.record;
    return [
      `${i + 1}. ${l.address}  ${formatTokens(l.pricePerToken, decimals)} per token  ${l.endpoint}`,
      `   record: ${r.jobs} job(s): ${r.finalized} finalized, ${r.upheld} upheld, ${r.slashed} slashed, ${r.forfeited} forfeited, ${r.skipped} skipped` +
        `${r.stalemate ? `, ${r.stalemate} stalemate` : ""}${r.unverified ? `, ${r.unverified} unverified` : ""}` +
        ` (failure rate ${(failureRate(r) * 100).toFixed(1)}%)`,
      `   models: ${l.models.join(", ")}`,
    ];
  });
}

/**
 * `poc worker generator --register`: list (or update) the worker's account with the models in
 * `modelsDir`, `price` (whole tokens per generated token) and `endpoint`; nothing is sent when the
 * listing is already exactly that. Returns what was done, for the worker's log.
 */
export async function registerOnStart(
  pool: PoolClient,
  o: { registry?: string; deployment?: { generatorRegistry?: string | undefined }; modelsDir: string; price: string; endpoint: string; mint?: boolean },
): Promise<{ action: "registered" | "updated" | "unchanged"; registry: string; models: string[]; pricePerToken: bigint; endpoint: string; tx?: string }> {
  const endpoint = parseEndpoint(o.endpoint);
  const models = await modelsToList({ models: o.modelsDir });
  const r = await registryFor(pool, { ...(o.registry ? { address: o.registry } : {}), ...(o.deployment ? { deployment: o.deployment } : {}) });
  const price = parsePrice(o.price, await pool.tokenDecimals());
  const me = await pool.account();
  const current = await r.listingOf(me);
  const base = { registry: r.address, models, pricePerToken: price, endpoint };
  if (current && current.pricePerToken === price && current.endpoint === endpoint && current.models.length === models.length && models.every((m) => current.models.includes(m)))
    return { action: "unchanged", ...base };
  if (!current && o.mint) {
    const [deposit, wallet] = await Promise.all([r.listingDeposit(), pool.tokenBalance(me)]);
    if (wallet < deposit) await pool.mintTestTokens(me, deposit - wallet);
  }
  const tx = await r.register({ models, pricePerToken: price, endpoint });
  return { action: current ? "updated" : "registered", ...base, tx: tx.hash };
}

export function generatorCommand(): Command {
  const group = new Command("generator").description("a generator's listing in the GeneratorRegistry: register, list, unregister");

  group.addCommand(
    addRegistryOption(
      new Command("register")
        .description("list this account (or replace its listing): models served, price per token, endpoint")
        .option("--models <dir>", "list every model found in this directory")
        .option("--model-id <hex32...>", "list these model ids")
        .requiredOption("--price <tokens>", "whole stake tokens per generated token (e.g. 0.001)")
        .requiredOption("--endpoint <url>", "http(s) base URL of the generator's server")
        .option("--mint", "local TestToken only: mint a deposit shortfall first", false),
    ).action(async (o: RegistryCliOptions & { models?: string; modelId?: string[]; price: string; endpoint: string; mint: boolean }) => {
      // Checked before any connection or transaction.
      const endpoint = parseEndpoint(o.endpoint);
      const models = await modelsToList(o);
      await withRegistry(o, true, async (r, pool) => {
        const dec = await pool.tokenDecimals();
        const price = parsePrice(o.price, dec);
        const me = await pool.account();
        const [deposit, current] = await Promise.all([r.listingDeposit(), r.listingOf(me)]);
        if (!current && deposit > 0n) {
          const wallet = await pool.tokenBalance(me);
          if (wallet < deposit) {
            if (!o.mint) throw new GeneratorCliError(`the listing deposit is ${formatTokens(deposit, dec)}, the wallet holds ${formatTokens(wallet, dec)} (on a local chain, --mint mints test tokens)`);
            await pool.mintTestTokens(me, deposit - wallet);
          }
        }
        const tx = await r.register({ models, pricePerToken: price, endpoint });
        const verb = current ? "updated the listing of" : "registered";
        console.log(`${verb} ${me} (tx ${tx.hash}, gas ${tx.gasUsed}): ${models.length} model(s), ${formatTokens(price, dec)} per token, ${endpoint}`);
        if (!current && deposit > 0n) console.log(`deposit ${formatTokens(deposit, dec)} held until \`poc generator unregister\``);
      });
    }),
  );

  group.addCommand(
    addRegistryOption(
      new Command("list")
        .description("the listed generators (of one model), ranked by price then record")
        .option("--model <hex32>", "only generators serving this model id", hex32)
        .option("--json", "print JSON (bigints as decimal strings)", false),
    ).action(async (o: RegistryCliOptions & { model?: string; json: boolean }) =>
      withRegistry(o, false, async (r, pool) => {
        const skipped: string[] = [];
        const ranked = rankListings(await listings(r, pool, o.model, { onSkipped: (a, why) => skipped.push(`${a}: ${why}`) }));
        if (o.json) {
          console.log(JSON.stringify({ registry: r.address, pool: pool.address, model: o.model ?? null, generators: ranked.map(listingJson), skipped }, null, 2));
          return;
        }
        const dec = await pool.tokenDecimals();
        for (const l of listingLines(ranked, dec)) console.log(l);
        for (const s of skipped) console.log(`skipped ${s}`);
      }),
    ),
  );

  group.addCommand(
    addRegistryOption(new Command("unregister").description("leave the registry (the deposit comes back)")).action(async (o: RegistryCliOptions) =>
      withRegistry(o, true, async (r, pool) => {
        const me = await pool.account();
        if (!(await r.listingOf(me))) throw new GeneratorCliError(`${me} is not listed in the GeneratorRegistry ${r.address}`);
        const tx = await r.unregister();
        const ev = tx.registryEvents.find((e) => e.name === "GeneratorUnregistered");
        const refund = ev && ev.name === "GeneratorUnregistered" ? ev.refund : 0n;
        console.log(`unregistered ${me} (tx ${tx.hash}, gas ${tx.gasUsed})${refund > 0n ? `; deposit ${formatTokens(refund, await pool.tokenDecimals())} returned` : ""}`);
      }),
    ),
  );

  return group;
}
