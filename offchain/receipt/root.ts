/**
 * The receipt root: a Merkle tree over the canonical encoding (docs/RECEIPT.md).
 *
 *   leaf 0     = keccak256(header bytes)
 *   leaf i ≥ 1 = keccak256(bytes of sample i − 1)
 *   root       = OpenZeppelin SimpleMerkleTree.of(leaves, { sortLeaves: false }).root (merkle.ts)
 *
 * i.e. a complete binary tree in array layout (leaf i at tree index 2n − 2 − i for n leaves, node j =
 * hashPair(node 2j+1, node 2j+2)) with commutative pair hashing `keccak256(min(a,b) ‖ max(a,b))`; with
 * one leaf the root is that leaf. A proof verifies on-chain with OpenZeppelin's
 * `MerkleProof.verify(proof, root, keccak256(sampleBytes))`.
 *
 * Leaf preimages can never be mistaken for inner nodes (64-byte preimages): a header has
 * 132 + 4·(P+O) bytes with P ≥ 1 and a sample 6 + 2·V·b bytes (≡ 2 mod 4), neither is 64, and header and
 * sample lengths differ mod 4. Commutative hashing means a proof shows that a sample is *in* the
 * receipt, not at which index; a sample names its own (position, layer), which are unique.
 */
import { keccak256 } from "ethers";
import { HEX32_RE, type Hex } from "../sampling/bytes.js";
import { decodeWithLayout, encodeReceipt, SAMPLE_PREFIX_BYTES, HEADER_FIXED_BYTES } from "./encoding.js";
import { ReceiptFormatError } from "./errors.js";
import { merkleProof, merkleRoot, merkleTree, verifyMerkleProof } from "./merkle.js";
import type { Receipt } from "./schema.js";

/** Header and sample byte ranges (views) of receipt bytes, after full validation. */
export interface ReceiptParts {
  header: Uint8Array;
  samples: Uint8Array[];
}

/** Split receipt bytes into the header and the samples (validates the bytes with `decodeReceipt`). */
export function receiptParts(bytes: Uint8Array): ReceiptParts {
  const { layout } = decodeWithLayout(bytes);
  const header = bytes.subarray(0, layout.headerLength);
  const samples: Uint8Array[] = new Array(layout.sampleCount);
  for (let i = 0, o = layout.headerLength; i < layout.sampleCount; i++, o += layout.sampleLength) {
    samples[i] = bytes.subarray(o, o + layout.sampleLength);
  }
  return { header, samples };
}

/** A receipt object or its canonical bytes. */
export type ReceiptOrBytes = Receipt | Uint8Array;

function toBytes(r: ReceiptOrBytes): Uint8Array {
  return r instanceof Uint8Array ? r : encodeReceipt(r);
}

/** The Merkle leaves: keccak256 of the header, then of each sample. */
export function receiptLeaves(receipt: ReceiptOrBytes): Hex[] {
  const parts = receiptParts(toBytes(receipt));
  return [keccak256(parts.header) as Hex, ...parts.samples.map((s) => keccak256(s) as Hex)];
}

const tree = (leaves: Hex[]) => merkleTree(leaves);

/** The root committed on-chain. Equal receipts (or their bytes) give equal roots. */
export function receiptRoot(receipt: ReceiptOrBytes): Hex {
  return merkleRoot(tree(receiptLeaves(receipt)));
}

export interface LeafProof {
  /** The leaf's preimage: header bytes (leaf 0) or one sample's bytes. */
  bytes: Uint8Array;
  /** keccak256(bytes). */
  leaf: Hex;
  /** Sibling hashes from the leaf up to the root. */
  proof: Hex[];
}

function leafProof(receipt: ReceiptOrBytes, leafIndex: number): LeafProof {
  const parts = receiptParts(toBytes(receipt));
  const n = parts.samples.length + 1;
  if (!Number.isInteger(leafIndex) || leafIndex < 0 || leafIndex >= n) {
    throw new ReceiptFormatError(`leaf index ${leafIndex} outside [0, ${n})`);
  }
  const leaves = [keccak256(parts.header) as Hex, ...parts.samples.map((s) => keccak256(s) as Hex)];
  const bytes = leafIndex === 0 ? parts.header : parts.samples[leafIndex - 1]!;
  return { bytes, leaf: leaves[leafIndex]!, proof: merkleProof(tree(leaves), leafIndex) };
}

/** Proof that sample `i` (0-based, in receipt order) belongs to the receipt's root. */
export function sampleProof(receipt: ReceiptOrBytes, i: number): LeafProof {
  const bytes = toBytes(receipt);
  const n = receiptParts(bytes).samples.length;
  if (!Number.isInteger(i) || i < 0 || i >= n) throw new ReceiptFormatError(`sample index ${i} outside [0, ${n})`);
  return leafProof(bytes, i + 1);
}

/** Proof that the header (model id, tokens, configs) belongs to the receipt's root. */
export function headerProof(receipt: ReceiptOrBytes): LeafProof {
  return leafProof(receipt, 0);
}

function verifyLeaf(root: string, bytes: Uint8Array, proof: readonly string[]): boolean {
  if (!HEX32_RE.test(root) || !proof.every((p) => HEX32_RE.test(p))) return false;
  return verifyMerkleProof(root, keccak256(bytes), proof);
}

/** Whether `sampleBytes` (one encoded sample) is in the receipt with root `root`. */
export function verifySampleProof(root: string, sampleBytes: Uint8Array, proof: readonly string[]): boolean {
  if (sampleBytes.length < SAMPLE_PREFIX_BYTES + 4 || sampleBytes.length % 4 !== 2) return false;
  return verifyLeaf(root, sampleBytes, proof);
}

/** Whether `headerBytes` is the header of the receipt with root `root`. */
export function verifyHeaderProof(root: string, headerBytes: Uint8Array, proof: readonly string[]): boolean {
  if (headerBytes.length < HEADER_FIXED_BYTES + 4 || headerBytes.length % 4 !== 0) return false;
  return verifyLeaf(root, headerBytes, proof);
}
