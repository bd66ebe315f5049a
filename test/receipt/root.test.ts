import { expect } from "chai";
import { concat, keccak256 } from "ethers";
import {
  ReceiptFormatError,
  encodeReceipt,
  headerByteLength,
  headerProof,
  parseReceipt,
  receiptLeaves,
  receiptParts,
  receiptRoot,
  sampleByteLength,
  sampleProof,
  verifyHeaderProof,
  verifySampleProof,
} from "../../offchain/receipt/index.js";
import { makeReceipt } from "./helpers.js";

/** Independent implementation of the documented tree (array layout, commutative keccak pairs). */
function referenceRoot(leaves: string[]): string {
  const n = leaves.length;
  const tree: string[] = new Array(2 * n - 1);
  leaves.forEach((l, i) => (tree[tree.length - 1 - i] = l));
  for (let i = tree.length - 1 - n; i >= 0; i--) {
    const [a, b] = [tree[2 * i + 1]!, tree[2 * i + 2]!].sort();
    tree[i] = keccak256(concat([a!, b!]));
  }
  return tree[0]!;
}

describe("receipt/root: Merkle root over header + samples", function () {
  this.timeout(60_000);
  const r = makeReceipt();
  const bytes = encodeReceipt(r);
  const root = receiptRoot(r);

  it("is deterministic and the same for the object and its bytes", () => {
    expect(root).to.match(/^0x[0-9a-f]{64}$/);
    expect(receiptRoot(bytes)).to.equal(root);
    expect(receiptRoot(makeReceipt())).to.equal(root);
    expect(receiptRoot(makeReceipt({ seed: 2 }))).to.not.equal(root);
  });

  it("follows the documented construction", () => {
    const parts = receiptParts(bytes);
    const leaves = [keccak256(parts.header), ...parts.samples.map((s) => keccak256(s))];
    expect(receiptLeaves(bytes)).to.deep.equal(leaves);
    expect(parts.header.length).to.equal(headerByteLength(12, 20));
    expect(parts.samples.every((s) => s.length === sampleByteLength(16, "float32"))).to.equal(true);
    expect(root).to.equal(referenceRoot(leaves));
    for (const n of [1, 2, 3, 5, 8]) {
      const sub = parseReceipt({ ...r, samples: r.samples.slice(0, n - 1) });
      expect(receiptRoot(sub)).to.equal(referenceRoot(receiptLeaves(sub)));
    }
    const none = parseReceipt({ ...r, samples: [] });
    expect(receiptRoot(none)).to.equal(keccak256(receiptParts(encodeReceipt(none)).header));
  });

  it("proves every sample and the header", () => {
    for (let i = 0; i < r.samples.length; i++) {
      const p = sampleProof(r, i);
      expect(p.leaf).to.equal(keccak256(p.bytes));
      expect(verifySampleProof(root, p.bytes, p.proof)).to.equal(true);
      expect(verifySampleProof(root.toUpperCase().replace("0X", "0x"), p.bytes, p.proof)).to.equal(true);
    }
    const h = headerProof(bytes);
    expect(verifyHeaderProof(root, h.bytes, h.proof)).to.equal(true);
    expect(verifySampleProof(root, h.bytes, h.proof)).to.equal(false); // a header is not a sample
    expect(() => sampleProof(r, r.samples.length)).to.throw(ReceiptFormatError);
    expect(() => sampleProof(r, -1)).to.throw(ReceiptFormatError);
  });

  it("detects tampering: a flipped sample byte changes the root and fails the proof", () => {
    const H = headerByteLength(12, 20);
    const B = sampleByteLength(16, "float32");
    const i = 2;
    const p = sampleProof(bytes, i);
    const tampered = bytes.slice();
    tampered[H + i * B + 20]! ^= 0x01; // a mantissa bit of key[3]: still a valid receipt
    expect(receiptRoot(tampered)).to.not.equal(root);
    const t = tampered.subarray(H + i * B, H + (i + 1) * B);
    expect(verifySampleProof(root, t, p.proof)).to.equal(false);
    const other = sampleProof(bytes, i + 1);
    expect(verifySampleProof(root, p.bytes, other.proof)).to.equal(false);
    expect(verifySampleProof(receiptRoot(makeReceipt({ seed: 3 })), p.bytes, p.proof)).to.equal(false);
    expect(verifySampleProof("0x1234", p.bytes, p.proof)).to.equal(false);
    // tampered header: another output token
    const th = bytes.slice();
    th[H - 1]! ^= 0x01;
    expect(receiptRoot(th)).to.not.equal(root);
  });

  it("refuses to root malformed bytes", () => {
    expect(() => receiptRoot(bytes.subarray(0, bytes.length - 1))).to.throw(ReceiptFormatError, /truncated/);
  });
});
