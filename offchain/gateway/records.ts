/**
 * Generators' records from the pool's events (docs/NETWORK.md "Generators found on-chain";
 * `generatorRecords` of offchain/chain/generator-record.ts, one log pass). {@link RecordedDirectory} fills
 * the record of every listing of another directory (e.g. the static one from `--generator` flags) so
 * that ranking sees the generators' history; it re-reads at most every `ttlMs`.
 */
import { getAddress } from "ethers";
import { generatorRecords, type PoolClient } from "../chain/index.js";
import { EMPTY_RECORD, type GeneratorDirectory, type GeneratorListing, type GeneratorRecord } from "./directory.js";

export { generatorRecords };

export class RecordedDirectory implements GeneratorDirectory {
  readonly #inner: GeneratorDirectory;
  readonly #client: PoolClient;
  readonly #ttlMs: number;
  #cache: { at: number; records: Promise<Map<string, GeneratorRecord>> } | undefined;

  constructor(inner: GeneratorDirectory, client: PoolClient, o: { ttlMs?: number } = {}) {
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
