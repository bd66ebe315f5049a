/**
 * Where the gateway finds generators (docs/NETWORK.md "Generators found on-chain"): a
 * {@link GeneratorDirectory} lists the generators of a model; the gateway tries them in
 * {@link rankListings} order (price, then the share of bad outcomes in their record) and falls back
 * to the next when one does not accept the request or does not commit in time.
 *
 * {@link StaticDirectory} comes from CLI flags (`--generator ADDRESS=URL[,PRICE]`, PRICE in whole
 * stake tokens per generated token, default `--price-per-token`): such a listing serves every model
 * and has an empty record. The on-chain registry plugs in through the same interface.
 */
import { getAddress, isAddress } from "ethers";
import { GatewayConfigError } from "./errors.js";

export interface GeneratorRecord {
  jobs: number;
  finalized: number;
  upheld: number;
  slashed: number;
  forfeited: number;
  skipped: number;
}

export interface GeneratorListing {
  /** Checksummed. */
  address: string;
  /** Base URL of the generator's server. */
  endpoint: string;
  /** 0x model ids (lower case); a static listing has `["*"]`: any model. */
  models: string[];
  /** Stake-token base units per generated token. */
  pricePerToken: bigint;
  record: GeneratorRecord;
}

export interface GeneratorDirectory {
  /** The generators that serve `modelId` (any order). */
  list(modelId: string): Promise<GeneratorListing[]>;
}

export const EMPTY_RECORD: GeneratorRecord = Object.freeze({ jobs: 0, finalized: 0, upheld: 0, slashed: 0, forfeited: 0, skipped: 0 });

/** (slashed + forfeited + skipped) / jobs; 0 without jobs. */
export function badShare(r: GeneratorRecord): number {
  return r.jobs === 0 ? 0 : (r.slashed + r.forfeited + r.skipped) / r.jobs;
}

/** Listings of `modelId` priced at most `maxPrice`, cheapest first, then the best record, then by address. */
export function rankListings(listings: readonly GeneratorListing[], modelId: string, o: { maxPrice?: bigint } = {}): GeneratorListing[] {
  const id = modelId.toLowerCase();
  return listings
    .filter((l) => l.models.includes("*") || l.models.some((m) => m.toLowerCase() === id))
    .filter((l) => o.maxPrice === undefined || l.pricePerToken <= o.maxPrice)
    .sort((a, b) => (a.pricePerToken < b.pricePerToken ? -1 : a.pricePerToken > b.pricePerToken ? 1 : badShare(a.record) - badShare(b.record) || a.address.localeCompare(b.address)));
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
