/**
 * Where the gateway finds generators (docs/NETWORK.md "Generators found on-chain"): a
 * {@link GeneratorDirectory} lists the generators of a model; the gateway tries them in
 * {@link rankListings} order (price, then the share of bad outcomes in their record) and falls back
 * to the next when one does not accept the request or does not commit in time.
 *
 * {@link StaticDirectory} comes from CLI flags (`--generator ADDRESS=URL[,PRICE]`, PRICE in whole
 * stake tokens per generated token, default `--price-per-token`): such a listing serves every model
 * and has an empty record. {@link RegistryDirectory} reads the on-chain GeneratorRegistry.
 */
import { getAddress, isAddress } from "ethers";
import {
  emptyRecord,
  listings as chainListings,
  rankListings as rankByRecord,
  type GeneratorListing,
  type GeneratorRecord,
  type GeneratorRegistryClient,
  type PoolClient,
} from "../chain/index.js";
import { GatewayConfigError } from "./errors.js";

export type { GeneratorListing, GeneratorRecord };

export interface GeneratorDirectory {
  /** The generators that serve `modelId` (any order). */
  list(modelId: string): Promise<GeneratorListing[]>;
}

/** A record without jobs (what a static listing starts with). */
export const EMPTY_RECORD: GeneratorRecord = Object.freeze(emptyRecord());

/**
 * Listings of `modelId` priced at most `maxPrice`, in the order every gateway tries them: the chain
 * module's rule (offchain/chain/generator-record.ts `rankListings`: price, failure rate, longer record,
 * address). A static listing's `["*"]` serves every model.
 */
export function rankListings(listings: readonly GeneratorListing[], modelId: string, o: { maxPrice?: bigint } = {}): GeneratorListing[] {
  const id = modelId.toLowerCase();
  return rankByRecord(
    listings.filter((l) => l.models.includes("*") || l.models.some((m) => m.toLowerCase() === id)),
    o.maxPrice !== undefined ? { maxPricePerToken: o.maxPrice } : {}
  );
}

/** The generators listed in the on-chain GeneratorRegistry, with their records from the pool's events (re-read at most every `ttlMs`). */
export class RegistryDirectory implements GeneratorDirectory {
  readonly #registry: GeneratorRegistryClient;
  readonly #pool: PoolClient;
  readonly #ttlMs: number;
  readonly #cache = new Map<string, { at: number; listings: Promise<GeneratorListing[]> }>();

  constructor(registry: GeneratorRegistryClient, pool: PoolClient, o: { ttlMs?: number } = {}) {
    this.#registry = registry;
    this.#pool = pool;
    this.#ttlMs = o.ttlMs ?? 10_000;
  }

  async list(modelId: string): Promise<GeneratorListing[]> {
    const id = modelId.toLowerCase();
    const hit = this.#cache.get(id);
    if (hit && Date.now() - hit.at <= this.#ttlMs) return hit.listings;
    const listings = chainListings(this.#registry, this.#pool, id);
    this.#cache.set(id, { at: Date.now(), listings });
    listings.catch(() => this.#cache.delete(id));
    return listings;
  }
}

/** A fixed list of generators (module comment). */
export class StaticDirectory implements GeneratorDirectory {
  readonly listings: readonly GeneratorListing[];
  constructor(listings: readonly GeneratorListing[]) {
    this.listings = listings;
  }
  async list(modelId: string): Promise<GeneratorListing[]> {
    const id = modelId.toLowerCase();
    return this.listings.filter((l) => l.models.includes("*") || l.models.includes(id)).map((l) => ({ ...l, record: { ...l.record } }));
  }
}

/**
 * One `--generator ADDRESS=URL[,PRICE]` flag; `parsePrice` turns PRICE (whole tokens) into base
 * units, `defaultPrice` applies without one.
 */
export function parseGeneratorFlag(flag: string, o: { defaultPrice: bigint; parsePrice: (s: string) => bigint }): GeneratorListing {
  const m = /^\s*(0x[0-9a-fA-F]{40})=([^,\s]+)(?:,([^,\s]+))?\s*$/.exec(flag);
  if (!m || !isAddress(m[1]!)) throw new GatewayConfigError(`--generator ${flag}: expected ADDRESS=URL[,PRICE], e.g. 0x3C44…93BC=http://127.0.0.1:8547,0.01`);
  let url: URL;
  try {
    url = new URL(m[2]!);
  } catch {
    throw new GatewayConfigError(`--generator ${flag}: ${m[2]} is not a URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new GatewayConfigError(`--generator ${flag}: the endpoint must be http(s)`);
  let price = o.defaultPrice;
  if (m[3] !== undefined) {
    try {
      price = o.parsePrice(m[3]);
    } catch (e) {
      throw new GatewayConfigError(`--generator ${flag}: bad price ${m[3]} (${(e as Error).message.split("\n")[0]})`);
    }
  }
  return { address: getAddress(m[1]!), endpoint: url.href.replace(/\/+$/, ""), models: ["*"], pricePerToken: price, record: { ...EMPTY_RECORD } };
}
