/**
 * Gathers the dashboard's chain facts block by block and turns them into snapshots (./snapshot.ts).
 *
 * `refresh()` reads the head; when it moved, it reads the pool's events of the new blocks only (one
 * log pass over `[last + 1, head]`), their block times, and the views those events can have changed:
 * `getJob` of every job they name, `bondOf` and the tree weights of every verifier they name, the
 * model totals, and the parameters and treasury when they were updated. Everything else is kept from
 * earlier blocks. Reorganisations are not followed (a local or finalized chain is assumed): restart
 * the dashboard after a node restart.
 */
import type { PoolClient } from "../chain/client.js";
import type { BondView, JobView, ModelStake } from "../chain/client.js";
import type { PoolEvent } from "../chain/events.js";
import { buildSnapshot, type ChainFacts, type DashboardSnapshot, type GeneratorListing, type JobAnswer } from "./snapshot.js";

/** Where a job's answer comes from (./answers.ts reads a user's receipt store). */
export interface AnswerSource {
  /** The answer of a committed job as this dashboard may show it ("private" when it is not its user's). */
  answer(job: { jobId: bigint; user: string; modelId: string; receiptRoot: string }): Promise<JobAnswer>;
}

export interface IndexerOptions {
  client: PoolClient;
  answers?: AnswerSource;
  /** Generator listings (an on-chain registry, docs/NETWORK.md); read at every new block. */
  listings?: () => Promise<readonly GeneratorListing[]>;
}

type Bond = BondView & { weights: ReadonlyMap<string, bigint> };

async function tokenSymbol(client: PoolClient): Promise<string | undefined> {
  if (!client.tokenInterface.getFunction("symbol")) return undefined;
  try {
    const raw = await client.retry("symbol()", () => client.provider.call({ to: client.token, data: client.tokenInterface.encodeFunctionData("symbol") }));
    return String(client.tokenInterface.decodeFunctionResult("symbol", raw)[0]);
  } catch {
    return undefined;
  }
}

/** Addresses of verifiers an event names. */
function verifiersOf(e: PoolEvent): string[] {
  switch (e.name) {
    case "VerifierAssigned":
    case "ResultCommitted":
    case "ResultSubmitted":
    case "VerifierTimedOut":
    case "VerifierEquivocated":
    case "VerifierDeclined":
    case "Bonded":
    case "UnbondRequested":
    case "UnbondWithdrawn":
    case "ModelsSet":
    case "VerifierSynced":
      return [e.verifier];
    case "JobSettled":
      return e.verifiers;
    default:
      return [];
  }
}

export class DashboardIndexer {
  readonly client: PoolClient;
  readonly #o: IndexerOptions;
  #scanned: number;
  #events: PoolEvent[] = [];
  readonly #times = new Map<number, number>();
  readonly #jobs = new Map<string, JobView>();
  readonly #bonds = new Map<string, Bond>();
  readonly #stakes = new Map<string, ModelStake>();
  readonly #answers = new Map<string, JobAnswer>();
  #static?: Pick<ChainFacts, "chainId" | "pool" | "token">;
  #params?: ChainFacts["params"];
  #treasury = "";
  #snapshot?: DashboardSnapshot;
  #running: Promise<unknown> = Promise.resolve();

  constructor(o: IndexerOptions) {
    this.client = o.client;
    this.#o = o;
    this.#scanned = o.client.deployBlock - 1;
  }

  /** The latest snapshot (undefined before the first refresh). */
  get snapshot(): DashboardSnapshot | undefined {
    return this.#snapshot;
  }

  /**
   * Catch up with the head. Returns the new snapshot when the head moved (or on the first call),
   * null when nothing changed. Calls are serialised.
   */
  refresh(): Promise<DashboardSnapshot | null> {
    const run = this.#running.then(() => this.#refresh());
    this.#running = run.catch(() => undefined);
    return run;
  }

  async #refresh(): Promise<DashboardSnapshot | null> {
    const c = this.client;
    const head = await c.latestBlock();
    if (this.#snapshot && head.number <= this.#scanned) return null;
    if (!this.#static) {
      const [decimals, symbol] = await Promise.all([c.tokenDecimals(), tokenSymbol(c)]);
      this.#static = { chainId: c.chainId, pool: c.address, token: { address: c.token, decimals, ...(symbol !== undefined ? { symbol } : {}) } };
    }
    const fresh = head.number > this.#scanned ? await c.getEvents({ fromBlock: this.#scanned + 1, toBlock: head.number }) : [];
    const jobIds = new Set<bigint>();
    const verifiers = new Set<string>();
    let paramsChanged = !this.#params;
    let treasuryChanged = !this.#treasury;
    for (const e of fresh) {
      if ("jobId" in e) jobIds.add(e.jobId);
      for (const v of verifiersOf(e)) verifiers.add(v);
      if (e.name === "ParamsUpdated") paramsChanged = true;
      if (e.name === "TreasuryUpdated") treasuryChanged = true;
    }
    const blocks = [...new Set(fresh.map((e) => e.blockNumber))].filter((b) => !this.#times.has(b));
    await Promise.all([
      ...blocks.map(async (b) => {
        const blk = await c.retry("eth_getBlockByNumber", () => c.provider.getBlock(b));
        if (blk) this.#times.set(b, blk.timestamp);
      }),
      ...[...jobIds].map(async (id) => this.#jobs.set(id.toString(), await c.getJob(id, head.number))),
      ...[...verifiers].map(async (v) => {
        const b = await c.bondOf(v);
        const weights = new Map<string, bigint>();
        await Promise.all(b.models.map(async (m) => weights.set(m, await c.weightOf(m, v))));
        this.#bonds.set(v, { ...b, weights });
      }),
      paramsChanged
        ? c.params().then(({ params, paramsId }) => {
            this.#params = { id: paramsId, record: params };
          })
        : undefined,
      treasuryChanged ? c.treasury().then((t) => (this.#treasury = t)) : undefined,
    ]);
    if (verifiers.size > 0 || this.#stakes.size === 0) {
      const models = new Set<string>();
      for (const b of this.#bonds.values()) for (const m of b.models) models.add(m);
      await Promise.all([...models].map(async (m) => this.#stakes.set(m, await c.modelStake(m))));
    }
    this.#events = this.#events.concat(fresh);
    this.#scanned = head.number;
    await this.#readAnswers();
    const listings = this.#o.listings ? await this.#o.listings() : undefined;
    this.#snapshot = buildSnapshot(
      {
        ...this.#static,
        treasury: this.#treasury,
        head: { number: head.number, timestamp: head.timestamp },
        params: this.#params!,
        events: this.#events,
        blockTimes: this.#times,
        jobs: this.#jobs,
        bonds: this.#bonds,
        modelStakes: this.#stakes,
      },
      { answers: this.#answers, ...(listings ? { listings } : {}) },
    );
    return this.#snapshot;
  }

  /** Ask the answer source about committed jobs whose answer is not shown yet. */
  async #readAnswers(): Promise<void> {
    const src = this.#o.answers;
    if (!src) return;
    const opened = new Map<string, { user: string; modelId: string }>();
    for (const e of this.#events) if (e.name === "JobOpened") opened.set(e.jobId.toString(), { user: e.user, modelId: e.modelId });
    for (const e of this.#events) {
      if (e.name !== "JobCommitted") continue;
      const k = e.jobId.toString();
      const o = opened.get(k);
      if (!o || this.#answers.get(k)?.visibility === "shown") continue;
      try {
        this.#answers.set(k, await src.answer({ jobId: e.jobId, user: o.user, modelId: o.modelId, receiptRoot: e.receiptRoot }));
      } catch {
        this.#answers.set(k, { visibility: "private" });
      }
    }
  }
}
