/**
 * A typed client of the GeneratorRegistry (contracts/IGeneratorRegistry.sol): where generators list
 * the models they serve, their price per token and their endpoint (docs/NETWORK.md "Generators found
 * on-chain"). It rides on a PoolClient — the registry is bound to one pool — so reads and writes share
 * its provider, signer, retry rules and nonce handling; reverts read like
 * `register(…) reverted: GeneratorRegistryTooManyModels(count 17, max 16)`.
 *
 * The registry address comes from the deployment record (`generatorRegistry`, written by
 * scripts/deploy.ts), POC_GENERATOR_REGISTRY, or the caller; `create` checks that it is a registry of
 * this very pool.
 */
import { getAddress, Interface, type Log, type Provider, type Signer } from "ethers";
import * as z from "zod"; // the namespace import lets bundlers drop what is unused (zod 4)
import { generatorRegistryAbi } from "./abis.js";
import { toInterface, type AbiSource } from "./interfaces.js";
import type { PoolClient, TxOptions, TxResult } from "./client.js";
import { ChainConfigError, ChainError } from "./errors.js";
import { toRevertError } from "./revert.js";
import { isTransientError } from "./retry.js";

let registryInterface: Interface | undefined;

/** The GeneratorRegistry's Interface: the generated ABI (abis.ts), or a given one. */
export function generatorRegistryInterface(abi?: AbiSource): Interface {
  return abi ? toInterface(abi) : (registryInterface ??= new Interface(generatorRegistryAbi));
}

/** The bounds the contract enforces (GeneratorRegistry.MAX_MODELS, MAX_ENDPOINT_BYTES). */
export const MAX_LISTED_MODELS = 16;
export const MAX_ENDPOINT_BYTES = 256;
/** A price must fit the contract's uint128. */
export const MAX_PRICE_PER_TOKEN = 2n ** 128n - 1n;

/** One generator's on-chain listing, as read from the registry. */
export interface RegisteredGenerator {
  /** Checksummed. */
  address: string;
  /** Model ids, lower-case 0x + 64 hex. */
  models: string[];
  /** Stake-token base units per generated token. */
  pricePerToken: bigint;
  /** The endpoint exactly as registered (check it with `parseEndpoint` before use). */
  endpoint: string;
  /** Unix seconds it was (last) listed at. */
  registeredAt: number;
}

/** A registry event (`events`), with where it was found. */
export type RegistryEvent =
  | { name: "GeneratorRegistered"; generator: string; models: string[]; pricePerToken: bigint; endpoint: string; deposit: bigint; blockNumber: number; transactionHash: string }
  | { name: "GeneratorUpdated"; generator: string; models: string[]; pricePerToken: bigint; endpoint: string; blockNumber: number; transactionHash: string }
  | { name: "GeneratorUnregistered"; generator: string; refund: bigint; blockNumber: number; transactionHash: string };

export class EndpointError extends ChainError {
  override name = "EndpointError";
}

const HEX32 = /^0x[0-9a-fA-F]{64}$/;

const endpointSchema = z
  .string()
  .min(1, "the endpoint is empty")
  .refine((s) => new TextEncoder().encode(s).length <= MAX_ENDPOINT_BYTES, `the endpoint is longer than ${MAX_ENDPOINT_BYTES} bytes`)
  .transform((s, ctx) => {
    let u: URL;
    try {
      u = new URL(s);
    } catch {
      ctx.addIssue({ code: "custom", message: `not a URL: "${s}"` });
      return z.NEVER;
    }
    if (u.protocol !== "http:" && u.protocol !== "https:") ctx.addIssue({ code: "custom", message: `only http(s) endpoints, not ${u.protocol}` });
    else if (u.username || u.password) ctx.addIssue({ code: "custom", message: "an endpoint must not carry credentials" });
    else if (u.search || u.hash) ctx.addIssue({ code: "custom", message: "an endpoint is a base URL: no query or fragment" });
    return `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, "")}`;
  });

/**
 * An endpoint checked and normalised (http(s), no credentials, query or fragment, no trailing slash,
 * at most MAX_ENDPOINT_BYTES): `http://127.0.0.1:8547/` → `http://127.0.0.1:8547`. EndpointError otherwise.
 */
export function parseEndpoint(s: string): string {
  const r = endpointSchema.safeParse(s);
  if (!r.success) throw new EndpointError(`bad generator endpoint: ${r.error.issues.map((i) => i.message).join("; ")}`);
  if (new TextEncoder().encode(r.data).length > MAX_ENDPOINT_BYTES) throw new EndpointError(`bad generator endpoint: longer than ${MAX_ENDPOINT_BYTES} bytes`);
  return r.data;
}

/** The endpoint normalised, or undefined when it is not a usable http(s) base URL. */
export function endpointOrUndefined(s: string): string | undefined {
  try {
    return parseEndpoint(s);
  } catch {
    return undefined;
  }
}

/** A model list as register() takes it: 1..16 distinct 0x + 64 hex ids (lower-cased). ChainError otherwise. */
export function checkListedModels(models: readonly string[]): string[] {
  if (models.length === 0) throw new ChainError("a listing needs at least one model id");
  if (models.length > MAX_LISTED_MODELS) throw new ChainError(`a listing names at most ${MAX_LISTED_MODELS} models, not ${models.length}`);
  const out: string[] = [];
  for (const m of models) {
    if (!HEX32.test(m)) throw new ChainError(`not a model id (0x + 64 hex digits): "${m}"`);
    const l = m.toLowerCase();
    if (/^0x0{64}$/.test(l)) throw new ChainError("the zero model id cannot be listed");
    if (out.includes(l)) throw new ChainError(`model ${l} is listed twice`);
    out.push(l);
  }
  return out;
}

interface ListingTuple {
  generator: string;
  models: string[];
  pricePerToken: bigint;
  endpoint: string;
  active: boolean;
  registeredAt: bigint;
}

function listing(t: ListingTuple): RegisteredGenerator {
  return {
    address: getAddress(t.generator),
    models: [...t.models].map((m) => String(m).toLowerCase()),
    pricePerToken: BigInt(t.pricePerToken),
    endpoint: String(t.endpoint),
    registeredAt: Number(t.registeredAt),
  };
}

export class GeneratorRegistryClient {
  readonly pool: PoolClient;
  readonly address: string;
  readonly iface: Interface;
  /** How many listings one view call reads. */
  readonly pageSize: number;

  private constructor(pool: PoolClient, address: string, iface: Interface, pageSize: number) {
    this.pool = pool;
    this.address = address;
    this.iface = iface;
    this.pageSize = pageSize;
  }

  /** Connect to the registry at `address` and check that it is bound to `pool`. */
  static async create(pool: PoolClient, address: string, o: { abi?: AbiSource; pageSize?: number } = {}): Promise<GeneratorRegistryClient> {
    let a: string;
    try {
      a = getAddress(address);
    } catch (cause) {
      throw new ChainConfigError(`not an address: ${address}`, { cause });
    }
    const iface = generatorRegistryInterface(o.abi);
    const code = await pool.retry("eth_getCode", () => pool.provider.getCode(a));
    if (code === "0x") throw new ChainConfigError(`no contract at ${a} on chain ${pool.chainId}: not a GeneratorRegistry (wrong --registry or deployment record?)`);
    const c = new GeneratorRegistryClient(pool, a, iface, o.pageSize ?? 50);
    let bound: string;
    try {
      bound = getAddress((await c.#view("pool"))[0] as string);
    } catch (cause) {
      if (isTransientError(cause)) throw cause;
      throw new ChainConfigError(`the contract at ${a} is not a GeneratorRegistry (pool() failed)`, { cause });
    }
    if (bound !== pool.address) throw new ChainConfigError(`the GeneratorRegistry at ${a} lists generators of pool ${bound}, not of ${pool.address}`);
    return c;
  }

  /** The same registry through another signer. */
  connect(runner: Signer | Provider): GeneratorRegistryClient {
    return new GeneratorRegistryClient(this.pool.connect(runner), this.address, this.iface, this.pageSize);
  }

  async #view(fn: string, args: readonly unknown[] = [], blockTag?: number) {
    const data = this.iface.encodeFunctionData(fn, args);
    const action = `${fn}(${args.map(String).join(", ")})`;
    try {
      const raw = await this.pool.retry(action, () => this.pool.provider.call({ to: this.address, data, ...(blockTag !== undefined ? { blockTag } : {}) }));
      return this.iface.decodeFunctionResult(fn, raw);
    } catch (e) {
      throw toRevertError(action, e, [this.iface]) ?? e;
    }
  }

  async listingDeposit(): Promise<bigint> {
    return BigInt((await this.#view("listingDeposit"))[0] as bigint);
  }

  async generatorCount(): Promise<number> {
    return Number((await this.#view("generatorCount"))[0] as bigint);
  }

  /** `generator`'s listing, or undefined when it is not listed. */
  async listingOf(generator: string): Promise<RegisteredGenerator | undefined> {
    const t = (await this.#view("listingOf", [getAddress(generator)]))[0] as ListingTuple;
    return t.active ? listing(t) : undefined;
  }

  /**
   * Every listed generator (of `modelId` when given), read page by page at one block so the picture
   * is consistent, ordered by address.
   */
  async listGenerators(modelId?: string, o: { blockTag?: number } = {}): Promise<RegisteredGenerator[]> {
    if (modelId !== undefined && !HEX32.test(modelId)) throw new ChainError(`not a model id (0x + 64 hex digits): "${modelId}"`);
    const block = o.blockTag ?? (await this.pool.blockNumber());
    const out: RegisteredGenerator[] = [];
    for (let offset = 0; ; offset += this.pageSize) {
      const r = modelId === undefined ? await this.#view("generators", [offset, this.pageSize], block) : await this.#view("generatorsOf", [modelId, offset, this.pageSize], block);
      const page = r[0] as ListingTuple[];
      const total = Number(r[1] as bigint);
      for (const t of page) out.push(listing(t));
      if (page.length === 0 || offset + page.length >= total) break;
    }
    return out.sort((a, b) => (a.address.toLowerCase() < b.address.toLowerCase() ? -1 : 1));
  }

  /**
   * List the signer (or replace its listing): checks the models, price and endpoint first (nothing is
   * sent on bad input); on a first listing with a deposit, approves the registry for it when needed.
   */
  async register(o: { models: readonly string[]; pricePerToken: bigint; endpoint: string; approve?: boolean }, tx: TxOptions = {}): Promise<TxResult & { registryEvents: RegistryEvent[] }> {
    const models = checkListedModels(o.models);
    if (o.pricePerToken <= 0n) throw new ChainError("the price per token must be positive");
    if (o.pricePerToken > MAX_PRICE_PER_TOKEN) throw new ChainError(`the price per token ${o.pricePerToken} does not fit 128 bits`);
    const endpoint = parseEndpoint(o.endpoint);
    const me = await this.pool.account();
    if (o.approve ?? true) {
      const [deposit, current] = await Promise.all([this.listingDeposit(), this.listingOf(me)]);
      if (deposit > 0n && !current) await this.#approve(me, deposit);
    }
    const r = await this.pool.sendTx("register", [models, o.pricePerToken, endpoint], {
      ...tx,
      target: { address: this.address, iface: this.iface },
      label: `register(${models.length} model(s), price ${o.pricePerToken}, ${endpoint})`,
    });
    return { ...r, registryEvents: this.decodeLogs(r.receipt.logs) };
  }

  /** Leave the registry (the deposit comes back). */
  async unregister(tx: TxOptions = {}): Promise<TxResult & { registryEvents: RegistryEvent[] }> {
    const r = await this.pool.sendTx("unregister", [], { ...tx, target: { address: this.address, iface: this.iface }, label: "unregister()" });
    return { ...r, registryEvents: this.decodeLogs(r.receipt.logs) };
  }

  async #approve(owner: string, amount: bigint): Promise<void> {
    const t = this.pool.tokenInterface;
    const raw = await this.pool.retry("allowance", () => this.pool.provider.call({ to: this.pool.token, data: t.encodeFunctionData("allowance", [owner, this.address]) }));
    if (BigInt(t.decodeFunctionResult("allowance", raw)[0] as bigint) >= amount) return;
    await this.pool.sendTx("approve", [this.address, amount], { on: "token", label: `approve(registry, ${amount})` });
  }

  /** Registry events in [fromBlock (default: the pool's deployment block), toBlock], in chain order. */
  async events(q: { fromBlock?: number; toBlock?: number } = {}): Promise<RegistryEvent[]> {
    const from = q.fromBlock ?? this.pool.deployBlock;
    const to = q.toBlock ?? (await this.pool.blockNumber());
    if (to < from) return [];
    const range = Math.max(1, this.pool.options.logRange ?? 2000);
    const out: RegistryEvent[] = [];
    for (let start = from; start <= to; start += range) {
      const end = Math.min(to, start + range - 1);
      const logs = await this.pool.retry(`eth_getLogs ${start}..${end}`, () => this.pool.provider.getLogs({ address: this.address, fromBlock: start, toBlock: end }));
      out.push(...this.decodeLogs(logs));
    }
    return out;
  }

  /** The registry events among `logs` (other contracts' logs are skipped). */
  decodeLogs(logs: readonly Log[]): RegistryEvent[] {
    const out: RegistryEvent[] = [];
    for (const log of logs) {
      if (getAddress(log.address) !== this.address) continue;
      const d = this.iface.parseLog({ topics: [...log.topics], data: log.data });
      if (!d) continue;
      const where = { blockNumber: log.blockNumber, transactionHash: log.transactionHash };
      const a = d.args as unknown as { generator: string; models?: string[]; pricePerToken?: bigint; endpoint?: string; deposit?: bigint; refund?: bigint };
      const models = () => [...(a.models ?? [])].map((m) => String(m).toLowerCase());
      if (d.name === "GeneratorRegistered")
        out.push({ name: d.name, generator: getAddress(a.generator), models: models(), pricePerToken: BigInt(a.pricePerToken!), endpoint: String(a.endpoint), deposit: BigInt(a.deposit!), ...where });
      else if (d.name === "GeneratorUpdated")
        out.push({ name: d.name, generator: getAddress(a.generator), models: models(), pricePerToken: BigInt(a.pricePerToken!), endpoint: String(a.endpoint), ...where });
      else if (d.name === "GeneratorUnregistered") out.push({ name: d.name, generator: getAddress(a.generator), refund: BigInt(a.refund!), ...where });
    }
    return out;
  }
}

/**
 * The registry of `pool`: `address` when given, else POC_GENERATOR_REGISTRY, else the deployment
 * record's `generatorRegistry`. ChainConfigError (with what to do) when none is known.
 */
export async function registryFor(
  pool: PoolClient,
  o: { address?: string; deployment?: { generatorRegistry?: string | undefined }; env?: NodeJS.ProcessEnv; abi?: AbiSource } = {},
): Promise<GeneratorRegistryClient> {
  const env = o.env ?? (typeof process !== "undefined" ? process.env : {});
  const address = o.address || env.POC_GENERATOR_REGISTRY || o.deployment?.generatorRegistry;
  if (!address) {
    throw new ChainConfigError("no GeneratorRegistry known for this pool", {
      details: "pass --registry ADDRESS or set POC_GENERATOR_REGISTRY, or redeploy (scripts/deploy.ts records it as generatorRegistry)",
    });
  }
  return GeneratorRegistryClient.create(pool, address, o.abi ? { abi: o.abi } : {});
}
