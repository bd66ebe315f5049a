/**
 * Issue 9: does a verifier that runs a real decode step at a checked position (its own prefill cache
 * before it) see less honest noise in the logits than its prefill? Run after top-noise-fp16.ts (same
 * models): `npx tsx scripts/issue9/top-noise-fp16-decode-step.ts`. Result: no (README "Top of the model").
 */
import { loadModel, type LoadedModel, type KvCache } from "../../offchain/model/index.js";
const base = process.env.MODELS ?? "bench-out/issue9-models";
const preset = (process.env.PRESET ?? "small");
const realDir = `${base}/${preset}-fp16`, atkDir = `${base}/${preset}-fp16-lmbf16`;
const P = 32, N = Number(process.env.N ?? 96);
const prompt = Array.from({ length: P }, (_, i) => 32 + ((i * 37 + 11) % 95));
async function decode(m: LoadedModel, tokens: number[] | null) {
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
async function stepAt(m: LoadedModel, toks: number[], p: number) {
  const V = m.config.vocabSize;
  const o = await m.forward({ tokens: toks.slice(0, p), past: null });
  const s = await m.forward({ tokens: [toks[p]!], past: o.present });
  return s.logits!.slice(0, V);
}
const relL2 = (a: Float32Array, b: Float32Array) => { let n = 0, d = 0; for (let j = 0; j < a.length; j++) { n += (a[j]! - b[j]!) ** 2; d += b[j]! ** 2; } return Math.sqrt(n / d); };
const real = await loadModel(realDir, { threads: 1 });
const realDis = await loadModel(realDir, { threads: 1, graphOptimizationLevel: "disabled" });
const atk = await loadModel(atkDir, { threads: 1 });
const gen = await decode(real, null);
const genD = await decode(realDis, gen.toks);
const genA = await decode(atk, gen.toks);
const positions = [P + 3, P + 10, P + 20, P + 40, P + 60, P + 80, P + 95].filter((p) => p < P + N);
for (const p of positions) {
  const v = await stepAt(real, gen.toks, p);
  const vd = await stepAt(realDis, gen.toks, p);
  console.log(`p=${p} honest-all ${relL2(gen.rows[p]!, v).toExponential(2)} honest-disabled ${relL2(genD.rows[p]!, vd).toExponential(2)} attack ${relL2(genA.rows[p]!, v).toExponential(2)}`);
}
for (const m of [real, realDis, atk]) await m.release();
