/** Small seeded PRNG for tests (mulberry32) and helpers. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal via Box–Muller. */
export function gaussian(rand: () => number): number {
  const u = 1 - rand();
  const v = rand();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

export function randomLogits(rand: () => number, V: number, scale: number): Float32Array {
  return Float32Array.from({ length: V }, () => gaussian(rand) * scale);
}

export function softmax(logits: ArrayLike<number>, T: number): number[] {
  const m = Math.max(...Array.from(logits));
  const w = Array.from(logits, (l) => Math.exp((l - m) / T));
  const z = w.reduce((a, b) => a + b, 0);
  return w.map((x) => x / z);
}
