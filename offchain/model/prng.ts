import { createHash } from "node:crypto";

/**
 * Deterministic weight generator.
 *
 * Each tensor gets its own stream: xoshiro128** seeded with the first 16 bytes of
 * sha256("poc-weights-v1:" + seed + ":" + tensorName). So a tensor's values depend only on the
 * seed and its name (adding layers leaves the existing ones unchanged), and no platform-specific
 * math is involved: a "normal" draw is Irwin–Hall(4) — the sum of four uniform 32-bit draws,
 * centred and scaled to unit variance (bounded at ±2√3) — computed with exact float64 arithmetic,
 * so the same seed gives bit-identical weights (and the same model id) on every machine.
 */
export class WeightRng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: bigint | number | string, stream: string) {
    const h = createHash("sha256").update(`poc-weights-v1:${BigInt(seed).toString()}:${stream}`).digest();
    this.s0 = h.readUInt32LE(0);
    this.s1 = h.readUInt32LE(4);
    this.s2 = h.readUInt32LE(8);
    this.s3 = h.readUInt32LE(12);
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** Next uniform uint32 (xoshiro128**). */
  nextU32(): number {
    const s1 = this.s1;
    const r = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return r;
  }

  /** Fill `out` with approximately normal(0, std) values (Irwin–Hall(4), unit variance scaled). */
  fillNormal(out: Float32Array, std: number): Float32Array {
    // sum of four (u + 0.5) / 2^32 is exact in float64; centre at 2, scale by sqrt(3) for unit variance
    const k = (std * Math.sqrt(3)) / 4294967296;
    for (let i = 0; i < out.length; i++) {
      const s = this.nextU32() + this.nextU32() + this.nextU32() + this.nextU32() + 2 - 2 * 4294967296;
      out[i] = s * k;
    }
    return out;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
