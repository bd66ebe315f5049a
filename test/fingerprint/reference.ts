/**
 * An independent implementation of the fingerprint spec v1 for the tests: ethers' solidityPacked /
 * keccak256 for every hash (not offchain/sampling/bytes.ts), the projection sign matrix rebuilt from
 * its documented construction (not projectionSigns), and the exact binomial tail with bigints.
 */
import { getBytes, keccak256, solidityPacked } from "ethers";

type Rows = (layer: number, kind: "key" | "value", position: number) => ArrayLike<number>;

const be = (b: Uint8Array) => BigInt("0x" + Buffer.from(b).toString("hex"));

function signs(signSeed: string, layer: number, stream: string, n: number): number[] {
  const key = keccak256(solidityPacked(["string", "bytes32", "uint32", "string"], ["poc.projection.v1", signSeed, layer, stream]));
  const out: number[] = [];
  for (let t = 0; t < 8 * n; t++) {
    const block = getBytes(keccak256(solidityPacked(["bytes32", "uint32"], [key, Math.floor(t / 256)])));
    const bit = (block[Math.floor((t % 256) / 8)]! >> (7 - (t % 8))) & 1;
    out.push(bit ? -1 : 1);
  }
  return out;
}

export function independentFingerprint(rows: Rows, seed: bigint, positions: number, layers: number): string {
  const signSeed = keccak256(solidityPacked(["string", "uint64"], ["poc.fingerprint.v1", seed]));
  let hex = "0x";
  for (let i = 0; i < 16; i++) {
    const h = getBytes(keccak256(solidityPacked(["string", "uint64", "uint32"], ["poc.fingerprint.v1", seed, i])));
    const position = Number(be(h.subarray(0, 8)) % BigInt(positions));
    const layer = Number(be(h.subarray(8, 12)) % BigInt(layers));
    for (const kind of ["key", "value"] as const) {
      const row = rows(layer, kind, position);
      const s = signs(signSeed, layer, `fp-${kind}-${i}`, row.length);
      let byte = 0;
      for (let b = 0; b < 8; b++) {
        let acc = 0;
        for (let j = 0; j < row.length; j++) acc += s[b * row.length + j]! * row[j]!;
        if (acc < 0) byte |= 0x80 >> b;
      }
      hex += byte.toString(16).padStart(2, "0");
    }
  }
  return hex;
}

/** P(Bin(n, 1/2) ≤ k), exactly (bigint sum of binomial coefficients) then as a double. */
export function binomialTailAtMost(n: number, k: number): number {
  let c = 1n;
  let sum = 0n;
  for (let i = 0; i <= k; i++) {
    sum += c;
    c = (c * BigInt(n - i)) / BigInt(i + 1);
  }
  // sum / 2^n as a double without overflow: scale by 2^-n via exponent arithmetic
  const digits = sum.toString(2).length;
  const top = Number(sum >> BigInt(Math.max(0, digits - 53)));
  return top * 2 ** (Math.max(0, digits - 53) - n);
}
