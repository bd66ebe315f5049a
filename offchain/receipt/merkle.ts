/**
 * The Merkle tree of the receipt root (root.ts): OpenZeppelin's `SimpleMerkleTree` with
 * `sortLeaves: false`, in ~40 lines so that the browser package does not carry
 * @openzeppelin/merkle-tree's dependencies (test/receipt/merkle.test.ts checks root and proofs against
 * the library). A complete binary tree in array layout: for n leaves, leaf i at index 2n − 2 − i, node
 * j = hashPair(node 2j+1, node 2j+2), hashPair(a, b) = keccak256(min(a, b) ‖ max(a, b)); the root is
 * node 0 (the leaf itself when n = 1). Proofs verify with OpenZeppelin's `MerkleProof.verify`.
 */
import { concat, keccak256 } from "ethers";
import type { Hex } from "../sampling/bytes.js";

/** keccak256 of the two 32-byte hashes in ascending order (commutative). */
export function hashPair(a: string, b: string): Hex {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  return keccak256(x < y ? concat([x, y]) : concat([y, x])) as Hex;
}

/** The whole tree in array layout (module comment); `leaves` are 32-byte hex hashes, at least one. */
export function merkleTree(leaves: readonly string[]): Hex[] {
  const n = leaves.length;
  if (n === 0) throw new RangeError("a Merkle tree needs at least one leaf");
  const tree = new Array<Hex>(2 * n - 1);
  for (let i = 0; i < n; i++) tree[2 * n - 2 - i] = leaves[i]!.toLowerCase() as Hex;
  for (let j = n - 2; j >= 0; j--) tree[j] = hashPair(tree[2 * j + 1]!, tree[2 * j + 2]!);
  return tree;
}

/** The root of `tree` (from `merkleTree`). */
export function merkleRoot(tree: readonly Hex[]): Hex {
  return tree[0]!;
}

/** The sibling hashes from leaf `leafIndex` (in `leaves` order) up to the root. */
export function merkleProof(tree: readonly Hex[], leafIndex: number): Hex[] {
  const n = (tree.length + 1) / 2;
  if (!Number.isInteger(leafIndex) || leafIndex < 0 || leafIndex >= n) throw new RangeError(`leaf index ${leafIndex} outside [0, ${n})`);
  const proof: Hex[] = [];
  for (let i = tree.length - 1 - leafIndex; i > 0; i = Math.floor((i - 1) / 2)) proof.push(tree[i % 2 === 1 ? i + 1 : i - 1]!);
  return proof;
}

/** Whether `leaf` with `proof` hashes up to `root` (as `MerkleProof.verify`). */
export function verifyMerkleProof(root: string, leaf: string, proof: readonly string[]): boolean {
  return proof.reduce<string>((acc, p) => hashPair(acc, p), leaf.toLowerCase()) === root.toLowerCase();
}
