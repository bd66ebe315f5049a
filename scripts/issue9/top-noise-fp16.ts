/**
 * Issue 9, open item "lm-head-bf16 on fp16": how far a bf16 LM head moves the logits of an fp16 model,
 * against the honest decode-vs-prefill noise of the same logits, on whole rows (no projection), with
 * statistics that could cancel common-mode or scale noise (centred, affine fit, float16 rounding forgiven).
 * `npx tsx scripts/issue9/top-noise-fp16.ts` (PRESET=small|tiny, N decoded tokens, default 96; builds
 * the models under $MODELS, default bench-out/issue9-models). Measured numbers: offchain/verify/README.md
 * "Top of the model".
 */
import { buildModel, loadModel, type LoadedModel, type KvCache } from "../../offchain/model/index.js";
import { existsSync } from "node:fs";
const base = process.env.MODELS ?? "bench-out/issue9-models";
const preset = (process.env.PRESET ?? "small") as "small" | "tiny";
const realDir = `${base}/${preset}-fp16`, atkDir = `${base}/${preset}-fp16-lmbf16`;
if (!existsSync(realDir)) await buildModel(realDir, { preset, dtype: "fp16" });
if (!existsSync(atkDir)) await buildModel(atkDir, { preset, dtype: "fp16", weightQuantization: "bf16", variantScope: "lm-head" });
const P = 32, N = Number(process.env.N ?? 96);
const prompt = Array.from({ length: P }, (_, i) => 32 + ((i * 37 + 11) % 95));
async function decode(m: LoadedModel, tokens: number[] | null) {
  // returns tokens and per-position logits rows (position p: logits after feeding token p)
  const V = m.config.vocabSize;
  let out = await m.forward({ tokens: prompt, past: null });
  const rows: Float32Array[] = [];
  for (let p = 0; p < P; p++) rows.push(out.logits!.slice(p * V, (p + 1) * V));
  const toks = prompt.slice();
  let past: KvCache = out.present;
  for (let i = 0; i < N; i++) {
    const last = rows[rows.length - 1]!;
    let t: number;
    if (tokens) t = tokens[P + i]!; else { let b = 0; for (let j = 1; j < V; j++) if (last[j]! > last[b]!) b = j; t = b; if (i % 3 === 0) t = (t + 7 * i) % 256; }
    toks.push(t);
    const o = await m.forward({ tokens: [t], past });
    past = o.present; rows.push(o.logits!.slice(0, V));
  }
  return { toks, rows };
}
async function prefill(m: LoadedModel, toks: number[]) {
  const V = m.config.vocabSize;
  const o = await m.forward({ tokens: toks, past: null });
  return toks.map((_, p) => o.logits!.slice(p * V, (p + 1) * V));
}
const real = await loadModel(realDir, { threads: 1 });
const real2 = await loadModel(realDir, { threads: 2 });
const realDis = await loadModel(realDir, { threads: 1, graphOptimizationLevel: "disabled" });
const atk = await loadModel(atkDir, { threads: 1 });
const gen = await decode(real, null);
const runs: Record<string, { gen: Float32Array[]; ver: Float32Array[] }> = {};
runs["honest-all"] = { gen: gen.rows, ver: await prefill(real, gen.toks) };
runs["honest-2thr"] = { gen: (await decode(real2, gen.toks)).rows, ver: await prefill(real, gen.toks) };
const gd = await decode(realDis, gen.toks);
runs["honest-disabled"] = { gen: gd.rows, ver: await prefill(realDis, gen.toks) };
runs["attack-bf16"] = { gen: (await decode(atk, gen.toks)).rows, ver: await prefill(real, gen.toks) };
const stats: Record<string, (a: Float32Array, b: Float32Array) => number> = {
  relL2: (a, b) => { let n = 0, d = 0; for (let j = 0; j < a.length; j++) { n += (a[j]! - b[j]!) ** 2; d += b[j]! ** 2; } return Math.sqrt(n / d); },
  centered: (a, b) => { const V = a.length; let ma = 0, mb = 0; for (let j = 0; j < V; j++) { ma += a[j]!; mb += b[j]!; } ma /= V; mb /= V; let n = 0, d = 0; for (let j = 0; j < V; j++) { n += (a[j]! - ma - b[j]! + mb) ** 2; d += (b[j]! - mb) ** 2; } return Math.sqrt(n / d); },
  affine: (a, b) => { const V = a.length; let ma = 0, mb = 0; for (let j = 0; j < V; j++) { ma += a[j]!; mb += b[j]!; } ma /= V; mb /= V; let sab = 0, sbb = 0; for (let j = 0; j < V; j++) { sab += (a[j]! - ma) * (b[j]! - mb); sbb += (b[j]! - mb) ** 2; } const al = sab / sbb; let n = 0; for (let j = 0; j < V; j++) n += (a[j]! - ma - al * (b[j]! - mb)) ** 2; return Math.sqrt(n / sbb); },
  ulpForgiven: (a, b) => { let n = 0, d = 0; for (let j = 0; j < a.length; j++) { const x = Math.abs(a[j]!); const h = x < 6.1e-5 ? 2 ** -25 : 2 ** (Math.floor(Math.log2(x)) - 11); n += Math.max(0, Math.abs(a[j]! - b[j]!) - h) ** 2; d += b[j]! ** 2; } return Math.sqrt(n / d); },
  maxAbsOverRms: (a, b) => { let m = 0, d = 0; for (let j = 0; j < a.length; j++) { m = Math.max(m, Math.abs(a[j]! - b[j]!)); d += b[j]! ** 2; } return m / Math.sqrt(d / a.length); },
};
for (const [name, r] of Object.entries(runs)) {
  const line: string[] = [];
  for (const [sn, f] of Object.entries(stats)) {
    const v = r.gen.slice(P - 1, P + N - 1).map((g, i) => f(g, r.ver[P - 1 + i]!)).sort((x, y) => x - y);
    line.push(`${sn} min ${v[0]!.toExponential(2)} med ${v[v.length >> 1]!.toExponential(2)} max ${v[v.length - 1]!.toExponential(2)}`);
  }
  console.log(name, "\n  " + line.join("\n  "));
}
// logits scale
const r0 = runs["honest-all"]!.ver[P]!; let mx = 0, s = 0; for (const x of r0) { mx = Math.max(mx, Math.abs(x)); s += x * x; } console.log("logit max", mx, "rms", Math.sqrt(s / r0.length));
for (const m of [real, real2, realDis, atk]) await m.release();
