/**
 * The result commitment of the pool's commit–reveal step (IStakePool `commitResult` / `revealResult`,
 * docs/PROTOCOL.md "Replay fingerprints"):
 *     commitment = keccak256(abi.encode(uint256 jobId, uint8 stage, address verifier,
 *                                       bytes32 keccak256(matchBitmap), bytes32 fingerprint, bytes32 salt))
 * The salt is 32 secret random bytes: without it a commitment to a bitmap and fingerprint could be
 * guessed by hashing candidate results.
 */
import { AbiCoder, getAddress, getBytes, hexlify, isHexString, keccak256, randomBytes, toUtf8Bytes, verifyMessage } from "ethers";
import { ChainError } from "./errors.js";

export interface ResultCommitmentInput {
  jobId: bigint | number;
  stage: number;
  verifier: string;
  matchBitmap: Uint8Array | string;
  fingerprint: string;
  salt: string;
}

function bytes32(name: string, value: string): string {
  if (!isHexString(value, 32)) throw new ChainError(`${name} must be 32 bytes of 0x-hex (got ${value})`);
  return value;
}

/** The commitment the verifier sends with `commitResult` and the pool recomputes at `revealResult`. */
export function resultCommitment(c: ResultCommitmentInput): string {
  if (!Number.isInteger(c.stage) || c.stage < 1 || c.stage > 255) throw new ChainError(`stage must be 1..255 (got ${c.stage})`);
  const bitmap = typeof c.matchBitmap === "string" ? c.matchBitmap : hexlify(c.matchBitmap);
  return keccak256(
    AbiCoder.defaultAbiCoder().encode(
      ["uint256", "uint8", "address", "bytes32", "bytes32", "bytes32"],
      [BigInt(c.jobId), c.stage, getAddress(c.verifier), keccak256(bitmap), bytes32("fingerprint", c.fingerprint), bytes32("salt", c.salt)],
    ),
  );
}

/**
 * Any non-zero commitment: a `commitResult` simulated with it from an address succeeds, returning the
 * stage's fingerprint seed, only for the verifier the job's pending draw picks (PoolClient `drawPick`).
 */
export const DRAW_PROBE = "0x" + "00".repeat(31) + "01";

/** 32 fresh random bytes for a commitment's salt. */
export function newSalt(): string {
  return hexlify(randomBytes(32));
}

/**
 * The two signed statements of a one-transaction stage (IStakePool `submitResult` /
 * `reportEquivocation`, docs/PROTOCOL.md "One-transaction stages"). Each party signs, with EIP-191
 * (`signMessage` of the 32 raw bytes),
 *     keccak256(abi.encode(bytes32 tag, uint256 chainId, address pool, uint256 jobId, uint256 stage,
 *                          bytes32 commitment, bytes32 answer))
 * with `tag = keccak256("poc.commitment.v1")` and `answer` zero for the verifier's statement of its
 * commitment, `tag = keccak256("poc.answer.v1")` for the generator's answer to it.
 */
const ZERO32 = "0x" + "00".repeat(32);
export const COMMITMENT_TAG = keccak256(toUtf8Bytes("poc.commitment.v1"));
export const ANSWER_TAG = keccak256(toUtf8Bytes("poc.answer.v1"));

export interface StatementInput {
  chainId: bigint | number;
  pool: string;
  jobId: bigint | number;
  stage: number;
  commitment: string;
}

function statement(tag: string, s: StatementInput, answer: string): string {
  return keccak256(
    AbiCoder.defaultAbiCoder().encode(
      ["bytes32", "uint256", "address", "uint256", "uint256", "bytes32", "bytes32"],
      [tag, BigInt(s.chainId), getAddress(s.pool), BigInt(s.jobId), s.stage, bytes32("commitment", s.commitment), bytes32("answer", answer)],
    ),
  );
}

/** The 32 bytes the verifier signs (EIP-191) to send its commitment to the generator. */
export function commitmentStatement(s: StatementInput): string {
  return statement(COMMITMENT_TAG, s, ZERO32);
}

/** The 32 bytes the generator signs (EIP-191) to answer a commitment with its fingerprint. */
export function answerStatement(s: StatementInput & { answer: string }): string {
  return statement(ANSWER_TAG, s, s.answer);
}

/** The address that signed `digest` (EIP-191 over its 32 raw bytes); ChainError for a malformed signature. */
export function statementSigner(digest: string, signature: string): string {
  try {
    return verifyMessage(getBytes(digest), signature);
  } catch (e) {
    throw new ChainError(`not a valid signature (${signature.slice(0, 20)}…)`, { cause: e });
  }
}

