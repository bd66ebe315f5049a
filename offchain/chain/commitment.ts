/**
 * The result commitment of the pool's commit–reveal step (IStakePool `commitResult` / `revealResult`,
 * docs/PROTOCOL.md "Replay fingerprints"):
 *     commitment = keccak256(abi.encode(uint256 jobId, uint8 stage, address verifier,
 *                                       bytes32 keccak256(matchBitmap), bytes32 fingerprint, bytes32 salt))
 * The salt is 32 secret random bytes: without it a commitment to a bitmap and fingerprint could be
 * guessed by hashing candidate results.
 */
import { AbiCoder, getAddress, hexlify, isHexString, keccak256, randomBytes } from "ethers";
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
