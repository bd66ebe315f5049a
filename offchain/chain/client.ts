/**
 * A typed client of one StakePool (contracts/IStakePool.sol) over ethers v6.
 *
 * Works with any ethers `Signer` or `Provider`: inside Hardhat (`(await network.create()).ethers`
 * signers and provider) or standalone (`connectRpc` in connect.ts: a JSON-RPC URL with a private key
 * or one of the node's accounts), or in a browser (`new BrowserProvider(window.ethereum)`): this
 * module imports no Node built-ins. The ABIs are the generated `abis.ts` (from Hardhat's artifacts,
 * checked against them by test/package/abis.test.ts) unless `abi` gives others (abi.ts reads an
 * artifacts directory in Node).
 *
 * - Views return plain typed records (bigint amounts, number stages/deadlines, JobState enums).
 * - Writes estimate gas first, so a call that would revert fails before anything is sent, with the
 *   pool's custom error decoded (ContractRevertError: "finalize(job 3) reverted:
 *   StakePoolWrongState(job 3, Committed)"). Then they send with an explicit nonce, report the nonce
 *   and the hash through `onSending` / `onSent` (a caller that must survive a crash records them),
 *   wait for the receipt, and return the decoded pool events of the transaction.
 * - Every RPC call goes through `withRetry` (retry.ts): transient errors are retried with backoff,
 *   reverts never. A transaction is resent only with the same nonce, so at most one of the attempts
 *   can be mined; a resend that finds its nonce used is a TxUncertainError (the caller checks the
 *   chain), never a second transaction.
 * - Logs are read in bounded block ranges (`logRange`, halved when a node refuses a range).
 */
import {
  AbiCoder,
  BaseWallet,
  getAddress,
  getBytes,
  hexlify,
  keccak256,
  type Interface,
  type Provider,
  type Signer,
  type TransactionReceipt,
  type TransactionRequest,
  ZeroAddress,
} from "ethers";
import { JobState, StageStatus } from "./state.js";
import type { PocDeployment } from "./deployment.js";
import { defaultPoolInterface, defaultTokenInterface, toInterface, type AbiSource } from "./interfaces.js";
import { ChainConfigError, ChainError, ContractRevertError, TxUncertainError, describeError } from "./errors.js";
import { DRAW_PROBE } from "./commitment.js";
import { compareEvents, decodePoolLog, JOB_EVENTS, paramsRecord, paramsTuple, type PoolEvent, type PoolEventName, type PoolEventOf, type PoolParamsRecord } from "./events.js";
import { isTransientError, sleep, withRetry, type RetryOptions } from "./retry.js";
import { toRevertError } from "./revert.js";

export { JobState, StageStatus };

export interface JobView {
  jobId: bigint;
  user: string;
  generator: string;
  state: JobState;
  stage: number;
  /** Deadline of the current state (unix seconds; 0 in final states). */
  deadline: number;
  alphaCg: bigint;
  alphaCv: bigint;
  betaCg: bigint;
  betaCv: bigint;
  numChecks: number;
  paramsId: number;
  escrow: bigint;
}

export interface StageView {
  verifier: string;
  status: StageStatus;
  resultHash: string;
}

/** A stage's fingerprint round (IStakePool `stageRound`). */
export interface StageRound {
  /** The verifier's result commitment (zero hash before it commits). */
  commitment: string;
  fingerprintSeed: bigint;
  /** Bit i set: party i answered (0 = the generator, i = the verifier of stage i). */
  answered: number;
}

export interface CurrentStage {
  stage: number;
  /** Zero address when none is assigned. */
  verifier: string;
  deadline: number;
}

export interface BondView {
  /** Free tokens, lockable into jobs. */
  bond: bigint;
  /** Bonded during a draw epoch: added to `bond` at the next synchronisation. */
  pendingBond: bigint;
  /** Requested for unbonding and not yet withdrawn (all requests). */
  unbonding: bigint;
  /** The part of `unbonding` whose delay has passed. */
  unbondable: bigint;
  /** The model ids the verifier declared (lower-case hex). */
  models: string[];
  /** Whether a change waits for the next synchronisation (sync / syncPending). */
  needsSync: boolean;
}

/** The draw queue and the current draw epoch (IStakePool.DrawEpochView). */
export interface DrawEpochView {
  /** An epoch is in progress: randomness requested, draw weights frozen. */
  frozen: boolean;
  requestId: bigint;
  /** The next queue entry to draw. */
  head: bigint;
  /** The epoch covers entries head..epochEnd-1. */
  epochEnd: bigint;
  /** Entries ever queued: the queue is empty when head == tail. */
  tail: bigint;
}

/** One model's draw weights: the total and how many verifiers have a positive weight. */
export interface ModelStake {
  total: bigint;
  verifiers: number;
}

export interface TxInfo {
  /** What was called, e.g. "revealResult(job 3)". */
  action: string;
  from: string;
  nonce: number;
}

export interface TxOptions {
  /** Use this nonce (e.g. one recorded before a crash) instead of the account's pending count. */
  nonce?: number;
  /** Skip estimateGas and use this limit. */
  gasLimit?: bigint;
  /** Called once the nonce is fixed, before anything is sent (record it to survive a crash). */
  onSending?: (info: TxInfo) => void | Promise<void>;
  /** Called as soon as the hash is known (for a local key: before the broadcast). */
  onSent?: (info: TxInfo & { hash: string }) => void | Promise<void>;
  /** How long to wait for the receipt (default: the client's receiptTimeoutMs). */
  timeoutMs?: number;
}

export interface TxResult {
  hash: string;
  nonce: number;
  blockNumber: number;
  gasUsed: bigint;
  receipt: TransactionReceipt;
  /** The pool events the transaction emitted, in order. */
  events: PoolEvent[];
}

export interface PoolClientOptions {
  /** A Signer (needed for writes) or a Provider (read-only). */
  runner: Signer | Provider;
  /** StakePool address. */
  pool: string;
  /** Block the pool was created in: event scans start here (default 0). */
  deployBlock?: number;
  /** Stake token address (default: the pool's stakeToken()). */
  token?: string;
  /** Retry settings of every RPC call (retry.ts defaults). */
  retry?: RetryOptions;
  /** Largest block range of one eth_getLogs (default 2000). */
  logRange?: number;
  /** How long a write waits for its receipt (default 120 s). */
  receiptTimeoutMs?: number;
  /** Receipt polling interval (default 250 ms). */
  pollMs?: number;
  /**
   * Other ABIs (JSON ABI arrays or ethers Interfaces) instead of the generated ones (interfaces.ts),
   * e.g. `artifactAbis(dir)` of abi.ts for freshly compiled artifacts.
   */
  abi?: { pool?: AbiSource; token?: AbiSource };
}

export interface LogQuery {
  /** Event names (default: every pool event). */
  events?: readonly PoolEventName[];
  /** Default: the deployment block. */
  fromBlock?: number;
  /** Default: the latest block. */
  toBlock?: number;
  /** Topics after topic0 (indexed arguments, already encoded as 32-byte hex; null = any). */
  topics?: readonly (string | string[] | null)[];
}

const RANGE_ERROR_RE = /range|too many|limit|exceed|10000 results|block range|response size/i;

/** A 32-byte topic of an integer or address. */
export function topicOf(v: bigint | number | string): string {
  if (typeof v === "string" && /^0x[0-9a-fA-F]{40}$/.test(v)) return "0x" + v.slice(2).toLowerCase().padStart(64, "0");
  return "0x" + BigInt(v).toString(16).padStart(64, "0");
}

function isSigner(r: Signer | Provider): r is Signer {
  return typeof (r as Signer).getAddress === "function" && typeof (r as Signer).signMessage === "function";
}

function nonceUsed(e: unknown): boolean {
  const s = describeError(e) + " " + String((e as { message?: unknown })?.message ?? "");
  return (e as { code?: unknown })?.code === "NONCE_EXPIRED" || /nonce too low|nonce has already been used|already known|known transaction|replacement transaction underpriced/i.test(s);
}

/** `fn(arg, …)` for logs and errors (byte arrays as hex). */
function describeCall(fn: string, args: readonly unknown[]): string {
  return `${fn}(${args.map((a) => (a instanceof Uint8Array ? hexlify(a) : String(a))).join(", ")})`;
}

/** The reverts of a simulated commitResult that mean "not (yet) the pick" (drawPick). */
const DRAW_PICK_REFUSALS = new Set(["StakePoolNotAssignedVerifier", "StakePoolWrongState", "StakePoolRandomnessPending"]);

export class PoolClient {
  readonly provider: Provider;
  readonly signer: Signer | undefined;
  readonly address: string;
  readonly token: string;
  readonly deployBlock: number;
  readonly chainId: bigint;
  readonly poolInterface: Interface;
  readonly tokenInterface: Interface;
  readonly options: Readonly<PoolClientOptions>;
  #account: string | undefined;

  private constructor(o: PoolClientOptions, chainId: bigint, token: string) {
    this.options = o;
    this.signer = isSigner(o.runner) ? o.runner : undefined;
    const provider = this.signer ? this.signer.provider : (o.runner as Provider);
    if (!provider) throw new ChainConfigError("the signer has no provider: connect it to one");
    this.provider = provider;
    this.address = getAddress(o.pool);
    this.token = getAddress(token);
    this.deployBlock = o.deployBlock ?? 0;
    this.chainId = chainId;
    this.poolInterface = o.abi?.pool ? toInterface(o.abi.pool) : defaultPoolInterface();
    this.tokenInterface = o.abi?.token ? toInterface(o.abi.token) : defaultTokenInterface();
  }

  /** Connect to the pool at `options.pool` (checks that it has code; reads the token and chain id). */
  static async create(options: PoolClientOptions): Promise<PoolClient> {
    let pool: string;
    try {
      pool = getAddress(options.pool);
    } catch (cause) {
      throw new ChainConfigError(`not an address: ${options.pool}`, { cause });
    }
    const runner = options.runner;
    const provider = isSigner(runner) ? runner.provider : runner;
    if (!provider) throw new ChainConfigError("the signer has no provider: connect it to one");
    const retry = options.retry ?? {};
    const network = await withRetry("eth_chainId", () => provider.getNetwork(), retry);
    const code = await withRetry("eth_getCode", () => provider.getCode(pool), retry);
    if (code === "0x") {
      throw new ChainConfigError(`no contract at ${pool} on chain ${network.chainId}`, {
        details: "wrong --pool or deployment record, or the node was restarted: deploy again (npx hardhat run scripts/deploy.ts --network localhost)",
      });
    }
    let token = options.token;
    if (!token) {
      const iface = options.abi?.pool ? toInterface(options.abi.pool) : defaultPoolInterface();
      try {
        const raw = await withRetry("stakeToken()", () => provider.call({ to: pool, data: iface.encodeFunctionData("stakeToken") }), retry);
        token = iface.decodeFunctionResult("stakeToken", raw)[0] as string;
      } catch (cause) {
        if (isTransientError(cause)) throw cause;
        throw new ChainConfigError(`the contract at ${pool} on chain ${network.chainId} is not a StakePool (stakeToken() failed): check --pool or the deployment record`, { cause });
      }
    }
    return new PoolClient({ ...options, pool }, network.chainId, token);
  }

  /**
   * Connect through a deployment record (`deployment.ts`: `deploymentFromRecord(json)`, the package's
   * `addresses[chainId]`, or in Node `loadDeployment` of scripts/lib/deployment.ts, which reads the
   * file scripts/deploy.ts wrote; connect.ts `connectPool` does that for you).
   */
  static async fromDeployment(
    runner: Signer | Provider,
    options: Omit<PoolClientOptions, "runner" | "pool" | "deployBlock" | "token"> & { deployment: Pick<PocDeployment, "stakePool" | "deployBlock"> & { token?: string } },
  ): Promise<PoolClient> {
    const { deployment: d, ...rest } = options;
    const tokenKnown = d.token && d.token !== ZeroAddress;
    return PoolClient.create({ ...rest, runner, pool: d.stakePool, deployBlock: d.deployBlock, ...(tokenKnown ? { token: d.token } : {}) });
  }

  /** The same pool through another signer (e.g. another actor in a demo). */
  connect(runner: Signer | Provider): PoolClient {
    const c = new PoolClient({ ...this.options, runner, pool: this.address, deployBlock: this.deployBlock, token: this.token }, this.chainId, this.token);
    return c;
  }

  /** The signer's address (ChainConfigError for a read-only client). */
  async account(): Promise<string> {
    if (this.#account) return this.#account;
    if (!this.signer) throw new ChainConfigError("this client has no signer: writes need an account (--account N or POC_PRIVATE_KEY)");
    this.#account = getAddress(await this.signer.getAddress());
    return this.#account;
  }

  /** Run an RPC operation with the client's retry settings. */
  retry<T>(what: string, fn: () => Promise<T>, extra: RetryOptions = {}): Promise<T> {
    return withRetry(what, fn, { ...this.options.retry, ...extra });
  }

  // ------------------------------------------------------------------------------------------------
  // Low-level calls
  // ------------------------------------------------------------------------------------------------

  /** eth_call of a pool (or token) view, or a simulated write from `from`, decoded; reverts become ContractRevertError. */
  async #view(fn: string, args: readonly unknown[] = [], on: "pool" | "token" = "pool", blockTag?: number | "latest", from?: string) {
    const iface = on === "pool" ? this.poolInterface : this.tokenInterface;
    const to = on === "pool" ? this.address : this.token;
    const data = iface.encodeFunctionData(fn, args);
    const action = `${fn}(${args.map(String).join(", ")})${from ? ` simulated from ${from}` : ""}`;
    try {
      const raw = await this.retry(action, () => this.provider.call({ to, data, ...(blockTag !== undefined ? { blockTag } : {}), ...(from ? { from } : {}) }));
      return iface.decodeFunctionResult(fn, raw);
    } catch (e) {
      throw toRevertError(action, e, [this.poolInterface, this.tokenInterface]) ?? e;
    }
  }

  /**
   * Send a write to the pool or the token (module comment): estimate (revert → ContractRevertError),
   * fix the nonce, send (transient errors: resend with the same nonce), wait for the receipt.
   */
  async sendTx(
    fn: string,
    args: readonly unknown[],
    options: TxOptions & { on?: "pool" | "token"; label?: string; target?: { address: string; iface: Interface } } = {},
  ): Promise<TxResult> {
    const on = options.on ?? "pool";
    // `target`: another contract of this deployment (e.g. the GeneratorRegistry), same nonce and retry rules
    const iface = options.target?.iface ?? (on === "pool" ? this.poolInterface : this.tokenInterface);
    const to = options.target?.address ?? (on === "pool" ? this.address : this.token);
    const action = options.label ?? describeCall(fn, args);
    const signer = this.signer;
    if (!signer) throw new ChainConfigError(`${action}: this client has no signer`);
    const from = await this.account();
    const data = iface.encodeFunctionData(fn, args);
    const ifaces = [...(options.target ? [options.target.iface] : []), this.poolInterface, this.tokenInterface];
    const revert = (e: unknown) => toRevertError(action, e, ifaces) ?? e;
    let gasLimit = options.gasLimit;
    if (gasLimit === undefined) gasLimit = ((await this.#estimate(action, from, to, data, revert)) * 13n) / 10n + 10_000n;
    const nonce = options.nonce ?? (await this.retry("eth_getTransactionCount", () => this.provider.getTransactionCount(from, "pending")));
    const info: TxInfo = { action, from, nonce };
    await options.onSending?.(info);
    const tx: TransactionRequest = { from, to, data, nonce, gasLimit, chainId: this.chainId };
    let hash: string | undefined;
    if (signer instanceof BaseWallet) {
      // A local key: sign first, so the hash is known (and recorded) before the broadcast.
      const populated = await this.retry(`populate ${action}`, () => signer.populateTransaction(tx));
      const raw = await signer.signTransaction(populated);
      hash = keccak256(raw);
      await options.onSent?.({ ...info, hash });
      let attempt = 0;
      await this.retry(`broadcast ${action}`, async () => {
        attempt++;
        try {
          await this.provider.broadcastTransaction(raw);
        } catch (e) {
          if (attempt > 1 && nonceUsed(e)) return; // an earlier attempt got through: same bytes, same hash
          throw e;
        }
      }).catch((e: unknown) => {
        throw revert(e);
      });
    } else {
      let attempt = 0;
      const unchecked = (signer as { sendUncheckedTransaction?: (t: TransactionRequest) => Promise<string> }).sendUncheckedTransaction;
      try {
        hash = await this.retry(`send ${action}`, async () => {
          attempt++;
          try {
            if (typeof unchecked === "function") return await unchecked.call(signer, tx);
            return (await signer.sendTransaction(tx)).hash;
          } catch (e) {
            if (attempt > 1 && nonceUsed(e)) {
              throw new TxUncertainError(`${action}: a resend found nonce ${nonce} used: the first attempt may have been sent`, { nonce, cause: e });
            }
            throw e;
          }
        });
      } catch (e) {
        throw revert(e);
      }
      await options.onSent?.({ ...info, hash });
    }
    const receipt = await this.waitForReceipt(hash, { timeoutMs: options.timeoutMs, nonce, action });
    if (receipt.status !== 1) {
      // Mined but reverted (state changed between estimate and inclusion): replay it for the reason.
      let reason: unknown = new ChainError(`${action} reverted in block ${receipt.blockNumber}`);
      try {
        await this.provider.call({ from, to, data, blockTag: receipt.blockNumber });
      } catch (e) {
        reason = e;
      }
      const err = toRevertError(action, reason, ifaces);
      throw err ?? new ContractRevertError(action, `reverted in block ${receipt.blockNumber} (tx ${hash})`, {});
    }
    return {
      hash,
      nonce,
      blockNumber: receipt.blockNumber,
      gasUsed: receipt.gasUsed,
      receipt,
      events: this.decodeReceiptEvents(receipt),
    };
  }

  /** Poll for a transaction's receipt; TxUncertainError after the timeout. */
  async waitForReceipt(hash: string, o: { timeoutMs?: number | undefined; nonce?: number; action?: string; signal?: AbortSignal } = {}): Promise<TransactionReceipt> {
    const timeoutMs = o.timeoutMs ?? this.options.receiptTimeoutMs ?? 120_000;
    const pollMs = this.options.pollMs ?? 250;
    const start = Date.now();
    for (;;) {
      const r = await this.retry("eth_getTransactionReceipt", () => this.provider.getTransactionReceipt(hash), { signal: o.signal });
      if (r) return r;
      if (Date.now() - start > timeoutMs) {
        throw new TxUncertainError(`${o.action ?? "transaction"} ${hash} has no receipt after ${Math.round(timeoutMs / 1000)} s`, {
          hash,
          ...(o.nonce !== undefined ? { nonce: o.nonce } : {}),
        });
      }
      await sleep(pollMs, o.signal);
    }
  }

  /** The pool events in a receipt. */
  decodeReceiptEvents(receipt: TransactionReceipt): PoolEvent[] {
    const out: PoolEvent[] = [];
    for (const log of receipt.logs) {
      if (getAddress(log.address) !== this.address) continue;
      const ev = decodePoolLog(this.poolInterface, log);
      if (ev) out.push(ev);
    }
    return out;
  }

  // ------------------------------------------------------------------------------------------------
  // Views
  // ------------------------------------------------------------------------------------------------

  async stakeToken(): Promise<string> {
    return getAddress((await this.#view("stakeToken"))[0] as string);
  }
  async randomnessSource(): Promise<string> {
    return getAddress((await this.#view("randomnessSource"))[0] as string);
  }
  async owner(): Promise<string> {
    return getAddress((await this.#view("owner"))[0] as string);
  }
  /** The parameters in force for new jobs and their id. */
  async params(): Promise<{ params: PoolParamsRecord; paramsId: number }> {
    const r = await this.#view("params");
    return { params: paramsRecord(r[0] as Record<string, unknown>), paramsId: Number(r[1]) };
  }
  async paramsAt(paramsId: number): Promise<PoolParamsRecord> {
    return paramsRecord((await this.#view("paramsAt", [paramsId]))[0] as Record<string, unknown>);
  }
  async nextJobId(): Promise<bigint> {
    return BigInt((await this.#view("nextJobId"))[0] as bigint);
  }
  async getJob(jobId: bigint | number, blockTag?: number): Promise<JobView> {
    const j = (await this.#view("getJob", [jobId], "pool", blockTag))[0] as Record<string, unknown>;
    return {
      jobId: BigInt(jobId),
      user: getAddress(j.user as string),
      generator: getAddress(j.generator as string),
      state: Number(j.state) as JobState,
      stage: Number(j.stage),
      deadline: Number(j.deadline),
      alphaCg: BigInt(j.alphaCg as bigint),
      alphaCv: BigInt(j.alphaCv as bigint),
      betaCg: BigInt(j.betaCg as bigint),
      betaCv: BigInt(j.betaCv as bigint),
      numChecks: Number(j.numChecks),
      paramsId: Number(j.paramsId),
      escrow: BigInt(j.escrow as bigint),
    };
  }
  async escrowOf(jobId: bigint | number): Promise<bigint> {
    return BigInt((await this.#view("escrowOf", [jobId]))[0] as bigint);
  }
  async currentStage(jobId: bigint | number): Promise<CurrentStage> {
    const r = await this.#view("currentStage", [jobId]);
    return { stage: Number(r[0]), verifier: getAddress(r[1] as string), deadline: Number(r[2]) };
  }
  async getStage(jobId: bigint | number, stage: number): Promise<StageView> {
    const r = await this.#view("getStage", [jobId, stage]);
    return { verifier: getAddress(r[0] as string), status: Number(r[1]) as StageStatus, resultHash: String(r[2]).toLowerCase() };
  }
  /** The fingerprint round of a stage's current or last verifier. */
  async stageRound(jobId: bigint | number, stage: number): Promise<StageRound> {
    const r = await this.#view("stageRound", [jobId, stage]);
    return { commitment: String(r[0]).toLowerCase(), fingerprintSeed: BigInt(r[1] as bigint), answered: Number(r[2]) };
  }
  /** Party `index`'s answer to a stage's seed (0 = the generator, i = the verifier of stage i). */
  async answerOf(jobId: bigint | number, stage: number, index: number): Promise<string> {
    return String((await this.#view("answerOf", [jobId, stage, index]))[0]).toLowerCase();
  }
  async claimHash(numChecks: number): Promise<string> {
    return String((await this.#view("claimHash", [numChecks]))[0]).toLowerCase();
  }
  async creditOf(account: string): Promise<bigint> {
    return BigInt((await this.#view("creditOf", [account]))[0] as bigint);
  }
  async bondOf(verifier: string): Promise<BondView> {
    const b = (await this.#view("bondOf", [verifier]))[0] as Record<string, unknown>;
    return {
      bond: BigInt(b.bond as bigint),
      pendingBond: BigInt(b.pendingBond as bigint),
      unbonding: BigInt(b.unbonding as bigint),
      unbondable: BigInt(b.unbondable as bigint),
      models: (b.models as string[]).map((m) => String(m).toLowerCase()),
      needsSync: Boolean(b.needsSync),
    };
  }
  /** Draw weights of model `modelId`. */
  async modelStake(modelId: string): Promise<ModelStake> {
    const r = await this.#view("modelStake", [modelId]);
    return { total: BigInt(r[0] as bigint), verifiers: Number(r[1]) };
  }
  /** `verifier`'s draw weight for model `modelId` (0 when it does not serve it or its bond is below minBond). */
  async weightOf(modelId: string, verifier: string): Promise<bigint> {
    return BigInt((await this.#view("weightOf", [modelId, verifier]))[0] as bigint);
  }
  /** Whether `verifier` declared model `modelId`. */
  async serves(verifier: string, modelId: string): Promise<boolean> {
    return Boolean((await this.#view("serves", [verifier, modelId]))[0]);
  }
  /** The model id job `jobId` was opened for (lower-case; zero hash if none). */
  async modelOf(jobId: bigint | number): Promise<string> {
    return String((await this.#view("modelOf", [jobId]))[0]).toLowerCase();
  }
  /** The verifier the draw value `r` picks from model `modelId`'s tree (before eligibility checks). */
  async drawAt(modelId: string, r: bigint): Promise<string> {
    return getAddress((await this.#view("drawAt", [modelId, r]))[0] as string);
  }
  /** The draw queue and the current epoch. */
  async drawEpoch(): Promise<DrawEpochView> {
    const e = (await this.#view("drawEpoch"))[0] as Record<string, unknown>;
    return {
      frozen: Boolean(e.frozen),
      requestId: BigInt(e.requestId as bigint),
      head: BigInt(e.head as bigint),
      epochEnd: BigInt(e.epochEnd as bigint),
      tail: BigInt(e.tail as bigint),
    };
  }
  /** Where forfeits, decline fees and stalemate deposits are credited. */
  async treasury(): Promise<string> {
    return getAddress((await this.#view("treasury"))[0] as string);
  }
  /** How many verifiers wait for synchronisation (syncPending). */
  async pendingSyncs(): Promise<number> {
    return Number((await this.#view("pendingSyncs"))[0]);
  }
  /**
   * A draw word that makes the pool's first pick for stage `stage` of job `jobId` land on `verifier`
   * (`drawAt(model, keccak256(abi.encode(word, jobId, stage, 0)))`, searched from `start` upwards), for
   * tests and demos with a settable randomness source (MockRandomness). Searches while the tree stays
   * as it is: call it inside the draw epoch, when the weights are frozen. ChainError after `maxTries`.
   */
  async drawWordFor(modelId: string, jobId: bigint | number, stage: number, verifier: string, o: { start?: bigint; maxTries?: number } = {}): Promise<bigint> {
    const want = getAddress(verifier);
    const coder = AbiCoder.defaultAbiCoder();
    let w = o.start ?? 1n;
    const maxTries = o.maxTries ?? 2000;
    for (let i = 0; i < maxTries; i++, w++) {
      const r = BigInt(keccak256(coder.encode(["uint256", "uint256", "uint256", "uint256"], [w, jobId, stage, 0])));
      if ((await this.drawAt(modelId, r)) === want) return w;
    }
    throw new ChainError(`no draw word in ${maxTries} tries picks ${want} for job ${jobId} stage ${stage} (is it in model ${modelId}'s tree?)`);
  }

  /** The latest block's number, hash and timestamp. */
  async latestBlock(): Promise<{ number: number; hash: string; timestamp: number }> {
    const b = await this.retry("eth_getBlockByNumber", () => this.provider.getBlock("latest"));
    if (!b || !b.hash) throw new ChainError("the node returned no latest block");
    return { number: b.number, hash: b.hash, timestamp: b.timestamp };
  }
  /** A block's hash (undefined when the chain has no such block). */
  async blockHash(n: number): Promise<string | undefined> {
    const b = await this.retry("eth_getBlockByNumber", () => this.provider.getBlock(n));
    return b?.hash ?? undefined;
  }
  async blockNumber(): Promise<number> {
    return this.retry("eth_blockNumber", () => this.provider.getBlockNumber());
  }
  /**
   * Local development chains only (chain id 31337: Hardhat, Anvil): mine one empty block (`evm_mine`),
   * so that a future-block randomness word exists on a node that mines only on transactions.
   * ChainConfigError elsewhere.
   */
  async devMine(): Promise<void> {
    if (this.chainId !== 31337n) throw new ChainConfigError(`devMine: chain ${this.chainId} is not a local development chain (31337)`);
    const send = (this.provider as unknown as { send?: (m: string, p: unknown[]) => Promise<unknown> }).send;
    if (typeof send !== "function") throw new ChainConfigError("devMine: the provider cannot send raw JSON-RPC");
    await this.retry("evm_mine", () => send.call(this.provider, "evm_mine", []));
  }

  // ------------------------------------------------------------------------------------------------
  // Token
  // ------------------------------------------------------------------------------------------------

  async tokenBalance(account?: string): Promise<bigint> {
    return BigInt((await this.#view("balanceOf", [account ?? (await this.account())], "token"))[0] as bigint);
  }
  async allowance(owner?: string): Promise<bigint> {
    return BigInt((await this.#view("allowance", [owner ?? (await this.account()), this.address], "token"))[0] as bigint);
  }
  async tokenDecimals(): Promise<number> {
    try {
      return Number((await this.#view("decimals", [], "token"))[0]);
    } catch {
      return 18;
    }
  }
  /** Approve the pool for `amount` if the allowance is below it; null when nothing was needed. */
  async approveIfNeeded(amount: bigint, options: TxOptions = {}): Promise<TxResult | null> {
    if ((await this.allowance()) >= amount) return null;
    return this.sendTx("approve", [this.address, amount], { ...options, on: "token", label: `approve(pool, ${amount})` });
  }
  /** Mint test tokens (only the local TestToken has `mint`). */
  async mintTestTokens(to: string, amount: bigint, options: TxOptions = {}): Promise<TxResult> {
    if (!this.tokenInterface.getFunction("mint")) throw new ChainError("the stake token ABI has no mint(): not a TestToken");
    return this.sendTx("mint", [to, amount], { ...options, on: "token" });
  }

  // ------------------------------------------------------------------------------------------------
  // Job life cycle
  // ------------------------------------------------------------------------------------------------

  /** The deposit `openJob(cg, cv)` takes under the current parameters: alphaCg + alphaCv. */
  async openDeposit(cg: bigint, cv: bigint): Promise<bigint> {
    const { params } = await this.params();
    const a = BigInt(params.alphaBps);
    return (cg * a) / 10_000n + (cv * a) / 10_000n;
  }

  /** Open a job (see IStakePool.openJob); `approve` first approves the deposit if needed. Returns the new job id. */
  async openJob(
    o: { generator: string; modelId: string; cg: bigint; cv: bigint; requestHash: string; requestUri: string; approve?: boolean },
    tx: TxOptions = {},
  ): Promise<TxResult & { jobId: bigint; opened: PoolEventOf<"JobOpened"> }> {
    if (o.approve) await this.approveIfNeeded(await this.openDeposit(o.cg, o.cv));
    const r = await this.sendTx("openJob", [o.generator, o.modelId, o.cg, o.cv, o.requestHash, o.requestUri], {
      ...tx,
      label: `openJob(generator ${o.generator}, cg ${o.cg}, cv ${o.cv})`,
    });
    const opened = r.events.find((e): e is PoolEventOf<"JobOpened"> => e.name === "JobOpened");
    if (!opened) throw new ChainError(`openJob: no JobOpened event in tx ${r.hash}`);
    return { ...r, jobId: opened.jobId, opened };
  }

  /** The generator commits (staking betaCg; `approve` approves it first if needed). */
  async commit(jobId: bigint | number, o: { receiptRoot: string; numChecks: number; receiptUri: string; approve?: boolean }, tx: TxOptions = {}): Promise<TxResult> {
    if (o.approve) await this.approveIfNeeded((await this.getJob(jobId)).betaCg);
    return this.sendTx("commit", [jobId, o.receiptRoot, o.numChecks, o.receiptUri], { ...tx, label: `commit(job ${jobId})` });
  }
  cancel(jobId: bigint | number, tx: TxOptions = {}): Promise<TxResult> {
    return this.sendTx("cancel", [jobId], { ...tx, label: `cancel(job ${jobId})` });
  }
  finalize(jobId: bigint | number, tx: TxOptions = {}): Promise<TxResult> {
    return this.sendTx("finalize", [jobId], { ...tx, label: `finalize(job ${jobId})` });
  }
  challenge(jobId: bigint | number, tx: TxOptions = {}): Promise<TxResult> {
    return this.sendTx("challenge", [jobId], { ...tx, label: `challenge(job ${jobId})` });
  }
  /** The assigned verifier commits to its result (see commitment.ts `resultCommitment`). */
  commitResult(jobId: bigint | number, commitment: string, tx: TxOptions = {}): Promise<TxResult> {
    return this.sendTx("commitResult", [jobId, commitment], { ...tx, label: `commitResult(job ${jobId})` });
  }
  /** The generator or an earlier verifier answers the current stage's fingerprint seed. */
  answerFingerprint(jobId: bigint | number, fingerprint: string, tx: TxOptions = {}): Promise<TxResult> {
    return this.sendTx("answerFingerprint", [jobId, fingerprint], { ...tx, label: `answerFingerprint(job ${jobId})` });
  }
  /** The assigned verifier reveals the result it committed. */
  revealResult(jobId: bigint | number, matchBitmap: Uint8Array | string, fingerprint: string, salt: string, tx: TxOptions = {}): Promise<TxResult> {
    const hex = typeof matchBitmap === "string" ? matchBitmap : hexlify(matchBitmap);
    return this.sendTx("revealResult", [jobId, hex, fingerprint, salt], {
      ...tx,
      label: `revealResult(job ${jobId}, ${hex.length > 22 ? hex.slice(0, 20) + "…" : hex})`,
    });
  }
  /**
   * The current stage in one transaction (the pick of a ready draw, or the drawn verifier): its result
   * with the generator's answer `answer` signed for the commitment it hashes to (see commitment.ts
   * `answerStatement`).
   */
  submitResult(
    jobId: bigint | number,
    matchBitmap: Uint8Array | string,
    fingerprint: string,
    salt: string,
    answer: string,
    signature: string,
    tx: TxOptions = {}
  ): Promise<TxResult> {
    const hex = typeof matchBitmap === "string" ? matchBitmap : hexlify(matchBitmap);
    return this.sendTx("submitResult", [jobId, hex, fingerprint, salt, answer, signature], {
      ...tx,
      label: `submitResult(job ${jobId}, ${hex.length > 22 ? hex.slice(0, 20) + "…" : hex})`,
    });
  }
  /**
   * The gas the pool call `fn(args)` would use now, sent from this client's account (the estimate
   * `sendTx` starts from, without its margin); reverts as ContractRevertError.
   */
  async estimateTx(fn: string, args: readonly unknown[]): Promise<bigint> {
    const action = describeCall(fn, args);
    const data = this.poolInterface.encodeFunctionData(fn, args);
    return this.#estimate(action, await this.account(), this.address, data, (e) => toRevertError(action, e, [this.poolInterface, this.tokenInterface]) ?? e);
  }
  async #estimate(action: string, from: string, to: string, data: string, revert: (e: unknown) => unknown): Promise<bigint> {
    try {
      return await this.retry(`estimateGas ${action}`, () => this.provider.estimateGas({ from, to, data }));
    } catch (e) {
      throw revert(e);
    }
  }
  /** Report the current verifier's signed statement of another commitment than the one it made. */
  reportEquivocation(jobId: bigint | number, commitment: string, signature: string, tx: TxOptions = {}): Promise<TxResult> {
    return this.sendTx("reportEquivocation", [jobId, commitment, signature], { ...tx, label: `reportEquivocation(job ${jobId})` });
  }
  /** This client's EIP-191 signature of the 32 bytes `digest` (a statement of commitment.ts). */
  async signStatement(digest: string): Promise<string> {
    if (!this.signer) throw new ChainConfigError("signing a statement: this client has no signer");
    return this.signer.signMessage(getBytes(digest));
  }
  timeoutVerifier(jobId: bigint | number, tx: TxOptions = {}): Promise<TxResult> {
    return this.sendTx("timeoutVerifier", [jobId], { ...tx, label: `timeoutVerifier(job ${jobId})` });
  }
  /** The assigned verifier gives its stage back (early in its window, paying the decline fee). */
  declineAssignment(jobId: bigint | number, tx: TxOptions = {}): Promise<TxResult> {
    return this.sendTx("declineAssignment", [jobId], { ...tx, label: `declineAssignment(job ${jobId})` });
  }
  /**
   * Advance the draw queue (anyone): starts an epoch outside one, or draws up to `maxDraws` queued
   * stages once the epoch's randomness exists. Reverts (before sending) with StakePoolRandomnessPending
   * or StakePoolNothingToDraw; `tryDrawVerifiers` turns those into a result.
   */
  drawVerifiers(maxDraws = 16, tx: TxOptions = {}): Promise<TxResult> {
    return this.sendTx("drawVerifiers", [maxDraws], { ...tx, label: `drawVerifiers(${maxDraws})` });
  }
  /**
   * drawVerifiers, with the two normal refusals as results: `pending` (the epoch's randomness does not
   * exist yet: a later block) and `empty` (nothing queued). Other reverts are thrown.
   */
  async tryDrawVerifiers(maxDraws = 16, tx: TxOptions = {}): Promise<{ kind: "sent"; tx: TxResult } | { kind: "pending"; requestId: bigint } | { kind: "empty" }> {
    try {
      return { kind: "sent", tx: await this.drawVerifiers(maxDraws, tx) };
    } catch (e) {
      if (e instanceof ContractRevertError && e.errorName === "StakePoolRandomnessPending") return { kind: "pending", requestId: BigInt(e.errorArgs.requestId as bigint) };
      if (e instanceof ContractRevertError && e.errorName === "StakePoolNothingToDraw") return { kind: "empty" };
      throw e;
    }
  }
  /**
   * Whether `who` (default: this client's account) is the verifier the job's pending draw picks:
   * a simulated `commitResult` from `who` (IStakePool: in AwaitingVerifier it draws the queue up to
   * the job's entry, in Verifying it checks the assignment). The stage's fingerprint seed for the
   * pick; null for anyone else, or while there is no ready draw for the job (randomness pending, the
   * entry in a later epoch, the job no longer waiting).
   */
  async drawPick(jobId: bigint | number, who?: string): Promise<{ seed: bigint } | null> {
    const from = who ?? (await this.account());
    try {
      return { seed: BigInt((await this.#view("commitResult", [jobId, DRAW_PROBE], "pool", undefined, from))[0] as bigint) };
    } catch (e) {
      if (e instanceof ContractRevertError && DRAW_PICK_REFUSALS.has(e.errorName ?? "")) return null;
      throw e;
    }
  }
  /**
   * Whether the running draw epoch's randomness exists (a simulated `drawVerifiers(0)`): false outside
   * an epoch or while the word is pending. An expired word counts as ready (drawVerifiers asks again).
   */
  async drawReady(): Promise<boolean> {
    if (!(await this.drawEpoch()).frozen) return false;
    try {
      await this.#view("drawVerifiers", [0]);
      return true;
    } catch (e) {
      if (e instanceof ContractRevertError && e.errorName === "StakePoolRandomnessPending") return false;
      // The epoch was drawn to its end between the two reads (e.g. by a pick's own submitResult).
      if (e instanceof ContractRevertError && e.errorName === "StakePoolNothingToDraw") return false;
      throw e;
    }
  }
  timeoutDraw(jobId: bigint | number, tx: TxOptions = {}): Promise<TxResult> {
    return this.sendTx("timeoutDraw", [jobId], { ...tx, label: `timeoutDraw(job ${jobId})` });
  }
  /** Withdraw the whole credit; `amount` is what was paid (0n when there was nothing, without a transaction). */
  async withdraw(tx: TxOptions = {}): Promise<{ amount: bigint; tx: TxResult | null }> {
    if ((await this.creditOf(await this.account())) === 0n) return { amount: 0n, tx: null };
    const r = await this.sendTx("withdraw", [], { ...tx, label: "withdraw()" });
    const ev = r.events.find((e): e is PoolEventOf<"Withdrawn"> => e.name === "Withdrawn");
    return { amount: ev?.amount ?? 0n, tx: r };
  }

  // ------------------------------------------------------------------------------------------------
  // Verifier bonds and governance
  // ------------------------------------------------------------------------------------------------

  /** Bond `amount` more (`approve` approves it first if needed). */
  async bond(amount: bigint, o: { approve?: boolean } & TxOptions = {}): Promise<TxResult> {
    if (o.approve) await this.approveIfNeeded(amount);
    return this.sendTx("bond", [amount], { ...o, label: `bond(${amount})` });
  }
  /** Bond `amount` of the account's credit (payouts of jobs) without a token transfer. */
  bondFromCredit(amount: bigint, tx: TxOptions = {}): Promise<TxResult> {
    return this.sendTx("bondFromCredit", [amount], { ...tx, label: `bondFromCredit(${amount})` });
  }
  /** Declare the model ids the account replays (at most 8, distinct, non-zero; replaces the list). */
  setModels(models: readonly string[], tx: TxOptions = {}): Promise<TxResult> {
    return this.sendTx("setModels", [[...models]], { ...tx, label: `setModels(${models.length} model(s))` });
  }
  /** Apply `verifier`'s pending changes and refresh its weights (anyone, outside a draw epoch). */
  sync(verifier: string, tx: TxOptions = {}): Promise<TxResult> {
    return this.sendTx("sync", [verifier], { ...tx, label: `sync(${verifier})` });
  }
  /** Synchronise up to `max` marked verifiers (anyone, outside a draw epoch). */
  syncPending(max: number, tx: TxOptions = {}): Promise<TxResult> {
    return this.sendTx("syncPending", [max], { ...tx, label: `syncPending(${max})` });
  }
  requestUnbond(amount: bigint, tx: TxOptions = {}): Promise<TxResult> {
    return this.sendTx("requestUnbond", [amount], { ...tx, label: `requestUnbond(${amount})` });
  }
  withdrawUnbonded(tx: TxOptions = {}): Promise<TxResult> {
    return this.sendTx("withdrawUnbonded", [], { ...tx, label: "withdrawUnbonded()" });
  }
  setParams(p: PoolParamsRecord, tx: TxOptions = {}): Promise<TxResult> {
    return this.sendTx("setParams", [paramsTuple(p)], { ...tx, label: "setParams(…)" });
  }
  setTreasury(treasury: string, tx: TxOptions = {}): Promise<TxResult> {
    return this.sendTx("setTreasury", [treasury], tx);
  }
  setRandomnessSource(source: string, tx: TxOptions = {}): Promise<TxResult> {
    return this.sendTx("setRandomnessSource", [source], tx);
  }

  // ------------------------------------------------------------------------------------------------
  // Events
  // ------------------------------------------------------------------------------------------------

  /**
   * Pool events in [fromBlock, toBlock], decoded and ordered, read in ranges of at most `logRange`
   * blocks (halved, down to one block, when the node refuses a range as too large).
   */
  async getEvents(q: LogQuery = {}): Promise<PoolEvent[]> {
    const from = q.fromBlock ?? this.deployBlock;
    const to = q.toBlock ?? (await this.blockNumber());
    if (to < from) return [];
    const names = q.events ?? undefined;
    const topic0 = names ? names.map((n) => this.poolInterface.getEvent(n)!.topicHash) : null;
    const topics: (string | string[] | null)[] = [topic0, ...(q.topics ?? [])];
    while (topics.length > 1 && topics[topics.length - 1] === null) topics.pop();
    const out: PoolEvent[] = [];
    let range = Math.max(1, this.options.logRange ?? 2000);
    let start = from;
    while (start <= to) {
      const end = Math.min(to, start + range - 1);
      let logs;
      try {
        logs = await this.retry(`eth_getLogs ${start}..${end}`, () =>
          this.provider.getLogs({ address: this.address, fromBlock: start, toBlock: end, topics }),
        );
      } catch (e) {
        const msg = describeError(e) + " " + describeError((e as { cause?: unknown }).cause);
        if (range > 1 && !isTransientError(e) && RANGE_ERROR_RE.test(msg)) {
          range = Math.max(1, Math.floor(range / 2));
          continue;
        }
        throw e;
      }
      for (const log of logs) {
        const ev = decodePoolLog(this.poolInterface, log);
        if (ev && (!names || names.includes(ev.name))) out.push(ev);
      }
      start = end + 1;
    }
    return out.sort(compareEvents);
  }

  /** Every event of job `jobId` (all job events carry the id as their first indexed topic). */
  jobEvents(jobId: bigint | number, q: Omit<LogQuery, "topics" | "events"> = {}): Promise<PoolEvent[]> {
    return this.getEvents({ ...q, events: JOB_EVENTS, topics: [topicOf(jobId)] });
  }

  /** VerifierAssigned events naming `verifier` (its third indexed topic). */
  async assignmentsOf(verifier: string, q: Omit<LogQuery, "topics" | "events"> = {}): Promise<PoolEventOf<"VerifierAssigned">[]> {
    return (await this.getEvents({ ...q, events: ["VerifierAssigned"], topics: [null, null, topicOf(getAddress(verifier))] })) as PoolEventOf<"VerifierAssigned">[];
  }

  /** JobOpened events naming `generator` (its third indexed topic). */
  async jobsForGenerator(generator: string, q: Omit<LogQuery, "topics" | "events"> = {}): Promise<PoolEventOf<"JobOpened">[]> {
    return (await this.getEvents({ ...q, events: ["JobOpened"], topics: [null, null, topicOf(getAddress(generator))] })) as PoolEventOf<"JobOpened">[];
  }

  /** The JobOpened and JobCommitted events of a job (what a worker needs to act on it). */
  async jobRecord(jobId: bigint | number, q: Omit<LogQuery, "topics" | "events"> = {}): Promise<{ opened?: PoolEventOf<"JobOpened">; committed?: PoolEventOf<"JobCommitted"> }> {
    const evs = await this.getEvents({ ...q, events: ["JobOpened", "JobCommitted"], topics: [topicOf(jobId)] });
    return {
      opened: evs.find((e): e is PoolEventOf<"JobOpened"> => e.name === "JobOpened"),
      committed: evs.find((e): e is PoolEventOf<"JobCommitted"> => e.name === "JobCommitted"),
    };
  }
}
