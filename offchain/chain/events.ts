/**
 * The pool's events as typed records: a discriminated union on `name`, amounts as bigint, stages and
 * deadlines as numbers, addresses checksummed, hashes lower-case, plus where the log was found.
 */
import { getAddress, type Interface, type Log, type LogDescription } from "ethers";
import { JobState } from "./state.js";
import { ChainError } from "./errors.js";

/** Where a log was found. */
export interface LogMeta {
  blockNumber: number;
  blockHash: string;
  transactionHash: string;
  /** Index of the log in its block. */
  logIndex: number;
}

/** The pool's `Params` struct (also `PoolParams` of offchain/chain/pool-params.ts). */
export interface PoolParamsRecord {
  /** α in basis points (10_000 = 1.0). */
  alphaBps: number;
  /** β in basis points; must be >= alphaBps. */
  betaBps: number;
  /** Seconds. */
  commitWindow: number;
  challengeWindow: number;
  verifyWindow: number;
  drawWindow: number;
  maxStages: number;
  unbondDelay: number;
  /** Token units: the least free bond that gives a verifier a draw weight. */
  minBond: bigint;
  /** Token units: the least total draw weight a model needs for openJob. */
  minModelStake: bigint;
  /** βCv may be at most minBond · maxStakeBps / 10⁴. */
  maxStakeBps: number;
  /** The share of βCv (basis points) a verifier pays to the treasury to decline an assignment. */
  declineFeeBps: number;
}

export type PoolEventBody =
  | {
      name: "JobOpened";
      jobId: bigint;
      user: string;
      generator: string;
      modelId: string;
      alphaCg: bigint;
      alphaCv: bigint;
      betaCg: bigint;
      betaCv: bigint;
      commitDeadline: number;
      paramsId: number;
      requestHash: string;
      requestUri: string;
    }
  | {
      name: "JobCommitted";
      jobId: bigint;
      generator: string;
      receiptRoot: string;
      numChecks: number;
      receiptUri: string;
      betaCg: bigint;
      challengeDeadline: number;
    }
  | { name: "JobCancelled"; jobId: bigint; user: string; userRefund: bigint }
  | { name: "JobFinalized"; jobId: bigint; generator: string; user: string; generatorPayout: bigint; userPayout: bigint }
  | { name: "JobChallenged"; jobId: bigint; user: string }
  | { name: "VerifierAssigned"; jobId: bigint; stage: number; verifier: string; stake: bigint; deadline: number; fingerprintSeed: bigint }
  | { name: "ResultCommitted"; jobId: bigint; stage: number; verifier: string; commitment: string; answerDeadline: number; revealDeadline: number }
  | { name: "FingerprintAnswered"; jobId: bigint; stage: number; party: string; index: number; fingerprint: string }
  | { name: "VerifierUnavailable"; jobId: bigint; stage: number; drawDeadline: number }
  | { name: "DrawQueued"; jobId: bigint; stage: number; queueIndex: bigint; drawDeadline: number }
  | { name: "DrawEpochStarted"; requestId: bigint; head: bigint; epochEnd: bigint }
  | { name: "VerifierDeclined"; jobId: bigint; stage: number; verifier: string; fee: bigint; refund: bigint }
  | {
      name: "ResultSubmitted";
      jobId: bigint;
      stage: number;
      verifier: string;
      resultHash: string;
      matchBitmap: string;
      fingerprint: string;
      /** Bits between the revealed fingerprint and the generator's answer (65535: no answer). */
      generatorDistance: number;
    }
  | { name: "VerifierTimedOut"; jobId: bigint; stage: number; verifier: string; forfeited: bigint }
  | { name: "VerifierEquivocated"; jobId: bigint; stage: number; verifier: string; signedCommitment: string; reporter: string; forfeited: bigint; reward: bigint }
  | {
      name: "JobSettled";
      jobId: bigint;
      outcome: JobState;
      stage: number;
      userPayout: bigint;
      generatorPayout: bigint;
      verifiers: string[];
      verifierPayouts: bigint[];
      /** Credited to the treasury (a stalemate's deposits); 0 in Table 1's rows. */
      treasuryPayout: bigint;
    }
  | { name: "Withdrawn"; account: string; amount: bigint }
  | { name: "Bonded"; verifier: string; amount: bigint; bond: bigint; pendingBond: bigint; fromCredit: boolean }
  | { name: "UnbondRequested"; verifier: string; amount: bigint; bond: bigint; readyAt: number }
  | { name: "UnbondWithdrawn"; verifier: string; amount: bigint }
  | { name: "ModelsSet"; verifier: string; models: string[] }
  | { name: "VerifierSynced"; verifier: string; weight: bigint }
  | { name: "ParamsUpdated"; paramsId: number; params: PoolParamsRecord }
  | { name: "RandomnessSourceUpdated"; previous: string; current: string }
  | { name: "TreasuryUpdated"; previous: string; current: string };

export type PoolEventName = PoolEventBody["name"];
export type PoolEvent = PoolEventBody & LogMeta;
/** The record of one event name. */
export type PoolEventOf<N extends PoolEventName> = Extract<PoolEvent, { name: N }>;

/** Events that carry `jobId` as their first indexed topic. */
export const JOB_EVENTS = [
  "JobOpened",
  "JobCommitted",
  "JobCancelled",
  "JobFinalized",
  "JobChallenged",
  "VerifierAssigned",
  "DrawQueued",
  "VerifierUnavailable",
  "VerifierDeclined",
  "ResultCommitted",
  "FingerprintAnswered",
  "ResultSubmitted",
  "VerifierTimedOut",
  "VerifierEquivocated",
  "JobSettled",
] as const satisfies readonly PoolEventName[];

export const POOL_EVENTS = [
  ...JOB_EVENTS,
  "Withdrawn",
  "Bonded",
  "UnbondRequested",
  "UnbondWithdrawn",
  "ModelsSet",
  "VerifierSynced",
  "DrawEpochStarted",
  "ParamsUpdated",
  "RandomnessSourceUpdated",
  "TreasuryUpdated",
] as const satisfies readonly PoolEventName[];

const KNOWN = new Set<string>(POOL_EVENTS);

function field(d: LogDescription, name: string): unknown {
  const i = d.fragment.inputs.findIndex((p) => p.name === name);
  if (i < 0) {
    throw new ChainError(`event ${d.name} has no field "${name}" in the compiled ABI`, {
      details: "the artifacts do not match this client: run `npx hardhat build`",
    });
  }
  return d.args[i];
}

const big = (d: LogDescription, n: string) => BigInt(field(d, n) as bigint);
const num = (d: LogDescription, n: string) => Number(field(d, n) as bigint);
const addr = (d: LogDescription, n: string) => getAddress(field(d, n) as string);
const hex = (d: LogDescription, n: string) => String(field(d, n)).toLowerCase();
const str = (d: LogDescription, n: string) => String(field(d, n));

/** The typed body of a parsed pool log; undefined for an event this client does not know. */
export function eventBody(d: LogDescription): PoolEventBody | undefined {
  switch (d.name) {
    case "JobOpened":
      return {
        name: "JobOpened",
        jobId: big(d, "jobId"),
        user: addr(d, "user"),
        generator: addr(d, "generator"),
        modelId: hex(d, "modelId"),
        alphaCg: big(d, "alphaCg"),
        alphaCv: big(d, "alphaCv"),
        betaCg: big(d, "betaCg"),
        betaCv: big(d, "betaCv"),
        commitDeadline: num(d, "commitDeadline"),
        paramsId: num(d, "paramsId"),
        requestHash: hex(d, "requestHash"),
        requestUri: str(d, "requestUri"),
      };
    case "JobCommitted":
      return {
        name: "JobCommitted",
        jobId: big(d, "jobId"),
        generator: addr(d, "generator"),
        receiptRoot: hex(d, "receiptRoot"),
        numChecks: num(d, "numChecks"),
        receiptUri: str(d, "receiptUri"),
        betaCg: big(d, "betaCg"),
        challengeDeadline: num(d, "challengeDeadline"),
      };
    case "JobCancelled":
      return { name: "JobCancelled", jobId: big(d, "jobId"), user: addr(d, "user"), userRefund: big(d, "userRefund") };
    case "JobFinalized":
      return {
        name: "JobFinalized",
        jobId: big(d, "jobId"),
        generator: addr(d, "generator"),
        user: addr(d, "user"),
        generatorPayout: big(d, "generatorPayout"),
        userPayout: big(d, "userPayout"),
      };
    case "JobChallenged":
      return { name: "JobChallenged", jobId: big(d, "jobId"), user: addr(d, "user") };
    case "VerifierAssigned":
      return {
        name: "VerifierAssigned",
        jobId: big(d, "jobId"),
        stage: num(d, "stage"),
        verifier: addr(d, "verifier"),
        stake: big(d, "stake"),
        deadline: num(d, "deadline"),
        fingerprintSeed: big(d, "fingerprintSeed"),
      };
    case "ResultCommitted":
      return {
        name: "ResultCommitted",
        jobId: big(d, "jobId"),
        stage: num(d, "stage"),
        verifier: addr(d, "verifier"),
        commitment: hex(d, "commitment"),
        answerDeadline: num(d, "answerDeadline"),
        revealDeadline: num(d, "revealDeadline"),
      };
    case "FingerprintAnswered":
      return {
        name: "FingerprintAnswered",
        jobId: big(d, "jobId"),
        stage: num(d, "stage"),
        party: addr(d, "party"),
        index: num(d, "index"),
        fingerprint: hex(d, "fingerprint"),
      };
    case "VerifierUnavailable":
      return { name: "VerifierUnavailable", jobId: big(d, "jobId"), stage: num(d, "stage"), drawDeadline: num(d, "drawDeadline") };
    case "DrawQueued":
      return { name: "DrawQueued", jobId: big(d, "jobId"), stage: num(d, "stage"), queueIndex: big(d, "queueIndex"), drawDeadline: num(d, "drawDeadline") };
    case "DrawEpochStarted":
      return { name: "DrawEpochStarted", requestId: big(d, "requestId"), head: big(d, "head"), epochEnd: big(d, "epochEnd") };
    case "VerifierDeclined":
      return { name: "VerifierDeclined", jobId: big(d, "jobId"), stage: num(d, "stage"), verifier: addr(d, "verifier"), fee: big(d, "fee"), refund: big(d, "refund") };
    case "ResultSubmitted":
      return {
        name: "ResultSubmitted",
        jobId: big(d, "jobId"),
        stage: num(d, "stage"),
        verifier: addr(d, "verifier"),
        resultHash: hex(d, "resultHash"),
        matchBitmap: hex(d, "matchBitmap"),
        fingerprint: hex(d, "fingerprint"),
        generatorDistance: num(d, "generatorDistance"),
      };
    case "VerifierTimedOut":
      return { name: "VerifierTimedOut", jobId: big(d, "jobId"), stage: num(d, "stage"), verifier: addr(d, "verifier"), forfeited: big(d, "forfeited") };
    case "VerifierEquivocated":
      return {
        name: "VerifierEquivocated",
        jobId: big(d, "jobId"),
        stage: num(d, "stage"),
        verifier: addr(d, "verifier"),
        signedCommitment: hex(d, "signedCommitment"),
        reporter: addr(d, "reporter"),
        forfeited: big(d, "forfeited"),
        reward: big(d, "reward"),
      };
    case "JobSettled":
      return {
        name: "JobSettled",
        jobId: big(d, "jobId"),
        outcome: num(d, "outcome") as JobState,
        stage: num(d, "stage"),
        userPayout: big(d, "userPayout"),
        generatorPayout: big(d, "generatorPayout"),
        verifiers: (field(d, "verifiers") as string[]).map((a) => getAddress(a)),
        verifierPayouts: (field(d, "verifierPayouts") as bigint[]).map((v) => BigInt(v)),
        treasuryPayout: big(d, "treasuryPayout"),
      };
    case "Withdrawn":
      return { name: "Withdrawn", account: addr(d, "account"), amount: big(d, "amount") };
    case "Bonded":
      return {
        name: "Bonded",
        verifier: addr(d, "verifier"),
        amount: big(d, "amount"),
        bond: big(d, "bond"),
        pendingBond: big(d, "pendingBond"),
        fromCredit: Boolean(field(d, "fromCredit")),
      };
    case "UnbondRequested":
      return { name: "UnbondRequested", verifier: addr(d, "verifier"), amount: big(d, "amount"), bond: big(d, "bond"), readyAt: num(d, "readyAt") };
    case "UnbondWithdrawn":
      return { name: "UnbondWithdrawn", verifier: addr(d, "verifier"), amount: big(d, "amount") };
    case "ModelsSet":
      return { name: "ModelsSet", verifier: addr(d, "verifier"), models: (field(d, "models") as string[]).map((m) => String(m).toLowerCase()) };
    case "VerifierSynced":
      return { name: "VerifierSynced", verifier: addr(d, "verifier"), weight: big(d, "weight") };
    case "ParamsUpdated": {
      const p = field(d, "params") as Record<string, bigint>;
      return {
        name: "ParamsUpdated",
        paramsId: num(d, "paramsId"),
        params: paramsRecord(p),
      };
    }
    case "RandomnessSourceUpdated":
      return { name: "RandomnessSourceUpdated", previous: addr(d, "previous"), current: addr(d, "current") };
    case "TreasuryUpdated":
      return { name: "TreasuryUpdated", previous: addr(d, "previous"), current: addr(d, "current") };
    default:
      return undefined;
  }
}

/** A Params struct (ethers Result or object) as a record. */
export function paramsRecord(p: Record<string, unknown>): PoolParamsRecord {
  return {
    alphaBps: Number(p.alphaBps),
    betaBps: Number(p.betaBps),
    commitWindow: Number(p.commitWindow),
    challengeWindow: Number(p.challengeWindow),
    verifyWindow: Number(p.verifyWindow),
    drawWindow: Number(p.drawWindow),
    maxStages: Number(p.maxStages),
    unbondDelay: Number(p.unbondDelay),
    minBond: BigInt(p.minBond as bigint),
    minModelStake: BigInt(p.minModelStake as bigint),
    maxStakeBps: Number(p.maxStakeBps),
    declineFeeBps: Number(p.declineFeeBps),
  };
}

/** The tuple order of the Solidity `Params` struct (the inverse of `paramsRecord`). */
export function paramsTuple(p: PoolParamsRecord) {
  return [
    p.alphaBps,
    p.betaBps,
    p.commitWindow,
    p.challengeWindow,
    p.verifyWindow,
    p.drawWindow,
    p.maxStages,
    p.unbondDelay,
    p.minBond,
    p.minModelStake,
    p.maxStakeBps,
    p.declineFeeBps,
  ] as const;
}

/** Decode one log of the pool; undefined when it is not a pool event this client knows (e.g. OwnershipTransferred). */
export function decodePoolLog(iface: Interface, log: Log | { topics: readonly string[]; data: string; blockNumber: number; blockHash: string; transactionHash: string; index?: number; logIndex?: number }): PoolEvent | undefined {
  let d: LogDescription | null;
  try {
    d = iface.parseLog({ topics: [...log.topics], data: log.data });
  } catch {
    return undefined;
  }
  if (!d || !KNOWN.has(d.name)) return undefined;
  const body = eventBody(d);
  if (!body) return undefined;
  const l = log as { index?: number; logIndex?: number };
  return {
    ...body,
    blockNumber: log.blockNumber,
    blockHash: log.blockHash,
    transactionHash: log.transactionHash,
    logIndex: l.index ?? l.logIndex ?? 0,
  };
}

/** Order events as the chain did (block, then log index). */
export function compareEvents(a: LogMeta, b: LogMeta): number {
  return a.blockNumber - b.blockNumber || a.logIndex - b.logIndex;
}
