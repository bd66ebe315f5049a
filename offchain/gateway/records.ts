/**
 * Generators' records from the pool's events (docs/NETWORK.md "Generators found on-chain"), read in
 * one log pass: `jobs` (JobOpened naming it), `finalized` (JobFinalized), `upheld` (JobSettled
 * GeneratorUpheld), `slashed` (JobSettled VerifierUpheld), `forfeited` (JobSettled
 * GeneratorForfeited), `skipped` (JobCancelled: it never committed). {@link RecordedDirectory} fills
 * the record of every listing of another directory (e.g. the static one from `--generator` flags) so
 * that ranking sees the generators' history; it re-reads at most every `ttlMs`.
 */
import { getAddress } from "ethers";
import { JobState, type PoolClient } from "../chain/index.js";
import { EMPTY_RECORD, type GeneratorDirectory, type GeneratorListing, type GeneratorRecord } from "./directory.js";

/** Every generator's record (checksummed address → record) from the pool's events up to now. */
export async function generatorRecords(client: Pick<PoolClient, "getEvents">): Promise<Map<string, GeneratorRecord>> {
  const events = await client.getEvents({ events: ["JobOpened", "JobFinalized", "JobSettled", "JobCancelled"] });
  const generatorOf = new Map<bigint, string>();
  const records = new Map<string, GeneratorRecord>();
  const rec = (jobId: bigint) => {
    const g = generatorOf.get(jobId);
    return g ? records.get(g) : undefined;
  };
  for (const e of events) {
    if (e.name === "JobOpened") {
      const g = getAddress(e.generator);
      generatorOf.set(e.jobId, g);
      if (!records.has(g)) records.set(g, { ...EMPTY_RECORD });
      records.get(g)!.jobs++;
    } else if (e.name === "JobFinalized") {
      const r = rec(e.jobId);
      if (r) r.finalized++;
    } else if (e.name === "JobCancelled") {
      const r = rec(e.jobId);
      if (r) r.skipped++;
    } else if (e.name === "JobSettled") {
      const r = rec(e.jobId);
      if (!r) continue;
      if (e.outcome === JobState.GeneratorUpheld) r.upheld++;
      else if (e.outcome === JobState.VerifierUpheld) r.slashed++;
      else if (e.outcome === JobState.GeneratorForfeited) r.forfeited++;
    }
  }
  return records;
}

export class RecordedDirectory implements GeneratorDirectory {
  readonly #inner: GeneratorDirectory;
  readonly #client: Pick<PoolClient, "getEvents">;
  readonly #ttlMs: number;
  #cache: { at: number; records: Promise<Map<string, GeneratorRecord>> } | undefined;

  constructor(inner: GeneratorDirectory, client: Pick<PoolClient, "getEvents">, o: { ttlMs?: number } = {}) {
    this.#inner = inner;
    this.#client = client;
    this.#ttlMs = o.ttlMs ?? 30_000;
  }

  async list(modelId: string): Promise<GeneratorListing[]> {
    const listings = await this.#inner.list(modelId);
    if (!this.#cache || Date.now() - this.#cache.at > this.#ttlMs) {
      const records = generatorRecords(this.#client);
      this.#cache = { at: Date.now(), records };
      records.catch(() => (this.#cache = undefined));
    }
    const records = await this.#cache.records;
    return listings.map((l) => ({ ...l, record: { ...(records.get(getAddress(l.address)) ?? EMPTY_RECORD) } }));
  }
}
