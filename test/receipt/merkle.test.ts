/** offchain/receipt/merkle.ts is OpenZeppelin's SimpleMerkleTree (sortLeaves: false): same roots, same proofs. */
import { expect } from "chai";
import { SimpleMerkleTree } from "@openzeppelin/merkle-tree";
import { keccak256, toUtf8Bytes } from "ethers";
import { hashPair, merkleProof, merkleRoot, merkleTree, verifyMerkleProof } from "../../offchain/receipt/merkle.js";

const leaf = (i: number) => keccak256(toUtf8Bytes(`leaf ${i}`));

describe("receipt Merkle tree", () => {
  it("gives OpenZeppelin's root and proofs for 1 to 40 leaves, and its proofs verify", () => {
    for (let n = 1; n <= 40; n++) {
      const leaves = Array.from({ length: n }, (_, i) => leaf(i * 7 + n));
      const oz = SimpleMerkleTree.of(leaves, { sortLeaves: false });
      const tree = merkleTree(leaves);
      expect(merkleRoot(tree), `root of ${n}`).to.equal(oz.root);
      for (let i = 0; i < n; i++) {
        const proof = merkleProof(tree, i);
        expect(proof, `proof ${i} of ${n}`).to.deep.equal(oz.getProof(i));
        expect(verifyMerkleProof(oz.root, leaves[i]!, proof)).to.equal(true);
      }
    }
  });

  it("refuses a wrong leaf or proof, and hashes pairs commutatively", () => {
    const leaves = [leaf(1), leaf(2), leaf(3)];
    const tree = merkleTree(leaves);
    const root = merkleRoot(tree);
    expect(verifyMerkleProof(root, leaf(4), merkleProof(tree, 0))).to.equal(false);
    expect(verifyMerkleProof(root, leaves[0]!, merkleProof(tree, 1))).to.equal(false);
    expect(hashPair(leaf(1), leaf(2))).to.equal(hashPair(leaf(2), leaf(1)));
    expect(() => merkleTree([])).to.throw(RangeError);
    expect(() => merkleProof(tree, 3)).to.throw(RangeError);
  });
});
