/**
 * PyTorch crosscheck (issue 11), outside `npm test`: for each architecture the builder emits, build a
 * tiny fp32 model (llama and qwen2 in the split Optimum layout decoder_model.onnx +
 * decoder_with_past_model.onnx, the others as model.onnx), generate greedily with the project's
 * runtime (onnxruntime, KV cache), and compare with scripts/crosscheck/hf_reference.py — the forward
 * pass written the way the Hugging Face modeling code computes it, in float64 torch, from the same
 * weights: the relative L2 error of every K and V row (every layer and position) and of every logits
 * row, and the greedy continuation recomputed there. Fails (exit 1) above 1e-4 or on any token
 * difference.
 *
 *   npx tsx scripts/crosscheck/run.ts [--tokens N]      (needs Debian's python3-torch and python3-onnx: apt-get install python3-torch python3-onnx)
 */
import { execFileSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildModel, kvRow, loadModel, type Architecture, type BuildLayout, type BuildOptions } from "../../offchain/model/index.js";
import { generate } from "../../offchain/generate/index.js";

const PYTHON = process.env.POC_PYTHON ?? "/usr/bin/python3"; // Debian's own python3, where python3-torch lives
const here = dirname(fileURLToPath(import.meta.url));
const LIMIT = 1e-4;
const arg = process.argv.indexOf("--tokens");
const maxTokens = arg >= 0 ? Number(process.argv[arg + 1]) : 24;

const relL2 = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i]! - b[i]!) ** 2;
    den += b[i]! ** 2;
  }
  return Math.sqrt(num / Math.max(den, 1e-300));
};

const cases: [Architecture, BuildLayout, BuildOptions?][] = [
  ["llama", "split"],
  ["qwen2", "split"],
  ["qwen3", "model"],
  ["llama3", "model"],
  ["gemma2", "model", { slidingWindow: 16 }],
  // a window well under the 50-token sequence, so the mask bites
  ["mistral", "model", { slidingWindow: 12 }],
  ["phi3", "model", { slidingWindow: 20 }],
];

const root = await mkdtemp(join(tmpdir(), "poc-crosscheck-"));
let failed = false;
try {
  console.log(`arch    layout  tokens  max rel err K       V         logits    greedy tokens equal`);
  for (const [arch, layout, own] of cases) {
    const b = await buildModel(join(root, arch), { preset: "tiny", architecture: arch, layout, weightSeed: 5, ...own });
    const m = await loadModel(b.dir, { threads: 1 });
    const prompt = [256, ...Buffer.from("Proof of Cache crosscheck", "utf8")];
    const g = await generate(m, {
      promptTokens: prompt,
      decoding: { seed: 0, temperature: 0, topK: 0, topP: 1, maxTokens },
      sampler: { seed: `0x${"11".repeat(32)}`, ratePpm: 62_500, layersPerToken: 2 },
    });
    const tokens = [...prompt, ...g.receipt.outputTokens];
    // the project's runtime: KV rows from one prefill over the sequence, logits of that prefill
    const full = await m.forward({ tokens, past: null });
    const input = join(root, `${arch}.json`);
    await writeFile(input, JSON.stringify({ tokens, promptLen: prompt.length }));
    const ref = JSON.parse(
      execFileSync(PYTHON, [join(here, "hf_reference.py"), join(b.dir, m.onnxFile), join(b.dir, "config.json"), input], { maxBuffer: 1 << 28, encoding: "utf8" }),
    ) as { torch: string; logits: number[][]; kv: [number[][], number[][]][]; greedy: number[] };
    let kMax = 0;
    let vMax = 0;
    for (let l = 0; l < m.config.layers; l++)
      for (let p = 0; p < tokens.length; p++) {
        kMax = Math.max(kMax, relL2(kvRow(full.present, l, "key", p), ref.kv[l]![0][p]!));
        vMax = Math.max(vMax, relL2(kvRow(full.present, l, "value", p), ref.kv[l]![1][p]!));
      }
    let lMax = 0;
    const V = m.config.vocabSize;
    for (let p = 0; p < tokens.length; p++) lMax = Math.max(lMax, relL2(full.logits!.subarray(p * V, (p + 1) * V), ref.logits[p]!));
    const same = ref.greedy.length === g.receipt.outputTokens.length && ref.greedy.every((t, i) => t === g.receipt.outputTokens[i]);
    const ok = kMax <= LIMIT && vMax <= LIMIT && lMax <= LIMIT && same;
    failed ||= !ok;
    console.log(
      `${arch.padEnd(7)} ${layout.padEnd(7)} ${String(tokens.length).padEnd(7)} ${kMax.toExponential(2).padEnd(9)} ${vMax.toExponential(2).padEnd(9)} ${lMax.toExponential(2).padEnd(9)} ${same ? "yes" : "NO"} (${g.receipt.outputTokens.length})${ok ? "" : "  FAIL"}   [torch ${ref.torch}]`,
    );
    await m.release();
  }
} finally {
  await rm(root, { recursive: true, force: true });
}
console.log(failed ? `FAILED (limit ${LIMIT})` : `all within ${LIMIT}`);
process.exit(failed ? 1 : 0);
