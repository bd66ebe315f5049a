/**
 * Cost of the decoding draw and the token check on a 151,936-token vocabulary (Qwen-sized), random
 * N(0, 3²) logits: median over positions, per configuration. Used by the "token-detection" bench section.
 */
import { type DecodingConfigInput, checkToken, drawToken, parseDecodingConfig } from "../../offchain/sampling/index.js";

export interface DrawCost {
  config: string;
  drawMs: number;
  checkMs: number;
}

function logitsOf(V: number, seed: number): Float32Array {
  let a = seed >>> 0;
  const rand = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = new Float32Array(V);
  for (let i = 0; i < V; i++) out[i] = 3 * Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  return out;
}

const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;

export function measureDrawCost(V = 151_936, positions = 15): DrawCost[] {
  const configs: [string, Partial<DecodingConfigInput>][] = [
    ["greedy", { temperature: 0 }],
    ["T=0.01", { temperature: 0.01 }],
    ["T=1", { temperature: 1 }],
    ["T=1 top-k 40", { temperature: 1, topK: 40 }],
    ["T=1 top-p 0.9", { temperature: 1, topP: 0.9 }],
  ];
  const rows = Array.from({ length: positions }, (_, p) => logitsOf(V, p + 1));
  return configs.map(([name, over]) => {
    const c = parseDecodingConfig({ seed: 1, temperature: 1, topK: 0, topP: 1, maxTokens: 1, ...over });
    const d: number[] = [];
    const k: number[] = [];
    for (let p = 0; p < positions; p++) {
      let t = performance.now();
      const tok = drawToken(rows[p]!, c, 100 + p);
      d.push(performance.now() - t);
      t = performance.now();
      checkToken(rows[p]!, c, 100 + p, tok);
      k.push(performance.now() - t);
    }
    return { config: name, drawMs: Number(median(d).toFixed(2)), checkMs: Number(median(k).toFixed(2)) };
  });
}
