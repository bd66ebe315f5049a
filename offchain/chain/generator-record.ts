/**
 * A generator's record, read from the pool's events — the reputation a gateway weighs against price
 * (docs/NETWORK.md "Generators found on-chain") — and the ranked listings of a model.
 *
 * Record, per generator, over jobs opened from `fromBlock` on (one eth_getLogs pass over JobOpened,
 * JobFinalized, JobCancelled and JobSettled):
 *   jobs        JobOpened naming it
 *   finalized   JobFinalized: committed, not challenged
 *   upheld      JobSettled(GeneratorUpheld): challenged, a verifier agreed with it
 *   slashed     JobSettled(VerifierUpheld): challenged, verifiers agreed against it (it lost βCg)
 *   forfeited   JobSettled(GeneratorForfeited): did not answer a fingerprint seed (conceded)
 *   skipped     JobCancelled: never committed (the user was refunded)
 *   stalemate   JobSettled(Stalemate): verifiers never agreed
 *   unverified  JobSettled(Unverified): challenged, no verifier could be drawn (paid as unchallenged)
 * Jobs not settled yet count only in `jobs`. A settlement of a job opened before `fromBlock` is not
 * counted (its generator is not known from the scanned events).
 *
 * Ranking (`rankListings`): lowest price first; at equal price lowest failure rate
 * (slashed + forfeited + skipped) / jobs (0 without jobs); then the longer record (more jobs) first,
 * so that a listing without any record comes after a proven one at the same price and rate; then
 * address (ascending, lower-case) so that the order is total and the same for everyone.
 */
import { getAddress } from "ethers";
import { JobState, type PoolClient } from "./client.js";
import type { PoolEvent } from "./events.js";
import { endpointOrUndefined, type GeneratorRegistryClient } from "./registry.js";

/** What a generator's jobs came to (module comment). */
export interface GeneratorRecord {
  jobs: number;
  finalized: number;
  upheld: number;
  slashed: number;
  forfeited: number;
  skipped: number;
  stalemate: number;
  unverified: number;
}

/** A listing as a gateway uses it (docs/NETWORK.md `GeneratorListing`). */
export interface GeneratorListing {
  /** Checksummed. */
  address: string;
  /** Base URL of the generator's server (normalised: http(s), no trailing slash). */
  endpoint: string;
  /** 0x… model ids (lower-case). */
  models: string[];
  /** Stake-token base units per generated token. */
  pricePerToken: bigint;
  record: GeneratorRecord;
}

export const emptyRecord = (): GeneratorRecord => ({ jobs: 0, finalized: 0, upheld: 0, slashed: 0, forfeited: 0, skipped: 0, stalemate: 0, unverified: 0 });

/** The events `generatorRecords` reads. */
export const RECORD_EVENTS = ["JobOpened", "JobFinalized", "JobCancelled", "JobSettled"] as const;

/** Fold pool events (in chain order) into records by generator (checksummed address). */
export function recordsFromEvents(events: readonly PoolEvent[]): Map<string, GeneratorRecord> {
  const generatorOf = new Map<bigint, string>();
  const out = new Map<string, GeneratorRecord>();
  const rec = (g: string) => {
    let r = out.get(g);
    if (!r) out.set(g, (r = emptyRecord()));
    return r;
  };
  for (const e of events) {
    if (e.name === "JobOpened") {
      const g = getAddress(e.generator);
      generatorOf.set(e.jobId, g);
      rec(g).jobs++;
      continue;
    }
    if (e.name !== "JobFinalized" && e.name !== "JobCancelled" && e.name !== "JobSettled") continue;
    const g = generatorOf.get(e.jobId);
    if (!g) continue;
    const r = rec(g);
    if (e.name === "JobFinalized") r.finalized++;
    else if (e.name === "JobCancelled") r.skipped++;
    else if (e.outcome === JobState.GeneratorUpheld) r.upheld++;
    else if (e.outcome === JobState.VerifierUpheld) r.slashed++;
    else if (e.outcome === JobState.GeneratorForfeited) r.forfeited++;
    else if (e.outcome === JobState.Stalemate) r.stalemate++;
    else if (e.outcome === JobState.Unverified) r.unverified++;
  }
  return out;
}

/** Every generator's record over jobs opened in [fromBlock (default: the pool's deployment block), toBlock], in one log pass. */
export async function generatorRecords(pool: PoolClient, o: { fromBlock?: number; toBlock?: number } = {}): Promise<Map<string, GeneratorRecord>> {
  const events = await pool.getEvents({ events: RECORD_EVENTS, ...(o.fromBlock !== undefined ? { fromBlock: o.fromBlock } : {}), ...(o.toBlock !== undefined ? { toBlock: o.toBlock } : {}) });
  return recordsFromEvents(events);
}

/** (slashed + forfeited + skipped) / jobs; 0 without jobs. */
export function failureRate(r: GeneratorRecord): number {
  return r.jobs === 0 ? 0 : (r.slashed + r.forfeited + r.skipped) / r.jobs;
}

/**
 * The listings of `modelId` (every listing without it) with their records, unranked. Listings whose
 * endpoint is not a usable http(s) base URL are left out (reported to `onSkipped`).
 */
export async function listings(
  registry: GeneratorRegistryClient,
  pool: PoolClient,
  modelId?: string,
  o: { fromBlock?: number; onSkipped?: (address: string, reason: string) => void } = {},
): Promise<GeneratorListing[]> {
  const block = await pool.blockNumber();
  const [listed, records] = await Promise.all([
    registry.listGenerators(modelId, { blockTag: block }),
    generatorRecords(pool, { ...(o.fromBlock !== undefined ? { fromBlock: o.fromBlock } : {}), toBlock: block }),
  ]);
  const out: GeneratorListing[] = [];
  for (const g of listed) {
    const endpoint = endpointOrUndefined(g.endpoint);
    if (!endpoint) {
      o.onSkipped?.(g.address, `endpoint "${g.endpoint}" is not an http(s) base URL`);
      continue;
    }
    out.push({ address: g.address, endpoint, models: g.models, pricePerToken: g.pricePerToken, record: records.get(g.address) ?? emptyRecord() });
  }
  return out;
}

/** Compare two listings by the ranking rule (module comment). */
export function compareListings(a: GeneratorListing, b: GeneratorListing): number {
  if (a.pricePerToken !== b.pricePerToken) return a.pricePerToken < b.pricePerToken ? -1 : 1;
  const fa = failureRate(a.record);
  const fb = failureRate(b.record);
  if (fa !== fb) return fa - fb;
  if (a.record.jobs !== b.record.jobs) return b.record.jobs - a.record.jobs;
  const x = a.address.toLowerCase();
  const y = b.address.toLowerCase();
  return x < y ? -1 : x > y ? 1 : 0;
}

export interface RankOptions {
  /** Leave out listings with fewer jobs than this (default 0: fresh listings stay in, ranked last at their price). */
  minJobs?: number;
  /** Leave out listings whose failure rate is above this (default 1: none). */
  maxFailureRate?: number;
  /** Leave out listings asking more than this per token. */
  maxPricePerToken?: bigint;
}

/** The listings in the order a gateway tries them (module comment), a new array. */
export function rankListings(list: readonly GeneratorListing[], o: RankOptions = {}): GeneratorListing[] {
  return list
    .filter((l) => l.record.jobs >= (o.minJobs ?? 0) && failureRate(l.record) <= (o.maxFailureRate ?? 1) && (o.maxPricePerToken === undefined || l.pricePerToken <= o.maxPricePerToken))
    .sort(compareListings);
}
