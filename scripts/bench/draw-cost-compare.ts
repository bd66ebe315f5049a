/**
 * Before/after of the decoding draw and token check in one run: the frozen previous implementation
 * (test/sampling/decode-reference.ts) against offchain/sampling, interleaved position by position, on
 * draw-cost.ts's N(0, 3²) logits (151,936), medians of 7 positions × 2.
 *
 *   npx tsx scripts/bench/draw-cost-compare.ts
 */
import * as cur from "../../offchain/sampling/index.js";
import * as ref from "../../test/sampling/decode-reference.js";
const V = 151936, P = 7;
function logitsOf(seed: number) { let a = seed >>> 0; const rand = () => { a = (a + 0x6d2b79f5) >>> 0; let t = a; t = Math.imul(t ^ (t >>> 15), t | 1); t ^= t + Math.imul(t ^ (t >>> 7), t | 61); return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };
  const out = new Float32Array(V); for (let i = 0; i < V; i++) out[i] = 3 * Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand()); return out; }
const med = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
const rows = Array.from({ length: P }, (_, p) => logitsOf(p + 1));
const configs: [string, object][] = [["greedy", { temperature: 0 }], ["T=0.01", { temperature: 0.01 }], ["T=1", { temperature: 1 }], ["T=1 top-k 40", { temperature: 1, topK: 40 }], ["T=1 top-p 0.9", { temperature: 1, topP: 0.9 }], ["T=0.8 top-p 0.95", { temperature: 0.8, topP: 0.95 }]];
for (const [name, over] of configs) {
  const c = cur.parseDecodingConfig({ seed: 1, temperature: 1, topK: 0, topP: 1, maxTokens: 1, ...over });
  const m: Record<string, number[]> = { refDraw: [], refCheck: [], newDraw: [], newCheck: [] };
  for (let rep = 0; rep < 2; rep++) for (let p = 0; p < P; p++) {
    for (const [tag, impl] of [["ref", ref], ["new", cur]] as const) {
      let t = performance.now(); const tok = impl.drawToken(rows[p]!, c, 100 + p); m[tag + "Draw"]!.push(performance.now() - t);
      t = performance.now(); const v = impl.checkToken(rows[p]!, c, 100 + p, tok); m[tag + "Check"]!.push(performance.now() - t);
      if (!v.ok) throw new Error("check failed");
    }
  }
  const r = Object.fromEntries(Object.entries(m).map(([k, v]) => [k, +med(v).toFixed(2)]));
  console.log(name.padEnd(18), JSON.stringify(r), "check ratio", (r.refCheck! / r.newCheck!).toFixed(1) + "×", "draw ratio", (r.refDraw! / r.newDraw!).toFixed(1) + "×");
}
