/**
 * `poc generate`: decode with the KV cache, sample K/V rows, write the receipt (atomically) and print
 * its root. Same inputs on the same machine give a byte-identical receipt.
 *
 * The prompt: `--prompt TEXT` (tokenized, special tokens added), `--prompt-tokens LIST`, or `--chat JSON`
 * (messages rendered with the model's chat template, offchain/model/chat.ts).
 *
 * Defaults: greedy (temperature 0), seed 0, sample rate 1/16, 2 layers per sampled position, scope
 * "all", K/V stored in the model's dtype, sampler seed = defaultSamplerSeed(prompt, decoding)
 * (keccak256 of the prompt tokens and the decoding configuration, see offchain/generate/generate.ts —
 * reproducible, not secret: in the protocol the job should fix it).
 */
import { Command, InvalidArgumentError, Option } from "commander";
import { access, stat } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import cliProgress from "cli-progress";
import { EXECUTION_PROVIDERS, loadModel, type ExecutionProvider, type LoadedModel } from "../model/index.js";
import { parseRatePpm, toSeed64, type Hex } from "../sampling/index.js";
import { ReceiptStore, numChecks, writeFileAtomic, type KvDtype } from "../receipt/index.js";
import { defaultSamplerSeed, generate, GenerateError, PromptError } from "../generate/index.js";
import { type ChatError, type ChatMessage, chatPromptTokens, openChatModel, parseChatJson } from "../model/chat.js";
import { hex32, nonNegativeInt, positiveInt, REQUEST_DEFAULTS } from "./options.js";
import { addModelOptions, hashProgressBar, loadOptionsFrom, printLoadNotes, type ModelCliOptions } from "./model-options.js";

function seed(v: string): string {
  try {
    return toSeed64(v.trim()).toString();
  } catch {
    throw new InvalidArgumentError("a decimal integer in [0, 2^64)");
  }
}
function temperature(v: string): number {
  const n = Number(v);
  if (v.trim() === "" || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError("a number >= 0 (0 = greedy)");
  return n;
}
function topP(v: string): number {
  const n = Number(v);
  if (v.trim() === "" || !(n > 0 && n <= 1)) throw new InvalidArgumentError("a number in (0, 1] (1 = off)");
  return n;
}
function rate(v: string): number {
  try {
    return parseRatePpm(v);
  } catch {
    throw new InvalidArgumentError("a fraction of positions in (0, 1]: 0.0625, 1/16 or 6.25%");
  }
}
function chatMessages(v: string): ChatMessage[] {
  try {
    return parseChatJson(v);
  } catch (e) {
    const err = e as ChatError;
    throw new InvalidArgumentError(err.details ? `${err.shortMessage}: ${err.details}` : err.shortMessage);
  }
}
function tokenList(v: string): number[] {
  const parts = v.split(/[\s,]+/).filter((s) => s !== "");
  const out = parts.map(Number);
  if (parts.some((s) => !/^\d+$/.test(s)) || out.some((n) => !Number.isSafeInteger(n)))
    throw new InvalidArgumentError("comma-separated non-negative token ids, e.g. 256,72,105");
  return out;
}

/** Control characters (other than newline and tab) escaped, so random-model output cannot upset a terminal. */
function printable(text: string): string {
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

interface GenerateOptions extends ModelCliOptions {
  model: string;
  prompt?: string;
  promptTokens?: number[];
  chat?: ChatMessage[];
  specialTokens: boolean;
  maxTokens: number;
  seed: string;
  temperature: number;
  topK: number;
  topP: number;
  stopAtEos: boolean;
  sampleRate: number;
  layersPerToken: number;
  samplerSeed?: Hex;
  scope: "all" | "generated";
  kvDtype?: KvDtype;
  threads?: number;
  provider: ExecutionProvider;
  prefillChunk?: number;
  store?: string;
  out: string;
  json: boolean;
}

async function checkOutPath(out: string): Promise<string> {
  const path = resolve(out);
  const dir = dirname(path);
  try {
    if (!(await stat(dir)).isDirectory()) throw new Error("not a directory");
    await access(dir);
  } catch (e) {
    throw new GenerateError(`cannot write the receipt to ${path}`, { details: `directory ${dir}: ${(e as Error).message}` });
  }
  try {
    if ((await stat(path)).isDirectory()) throw new GenerateError(`--out ${path} is a directory`, { details: "give a file name" });
  } catch (e) {
    if (e instanceof GenerateError) throw e;
  }
  return path;
}

async function runGenerate(o: GenerateOptions): Promise<void> {
  if ([o.prompt, o.promptTokens, o.chat].filter((x) => x !== undefined).length !== 1)
    throw new PromptError("give exactly one of --prompt TEXT, --prompt-tokens LIST and --chat JSON");
  const out = await checkOutPath(o.out);
  const hashBar = hashProgressBar(process.stderr.isTTY === true && !o.json);
  let model: LoadedModel;
  try {
    model = await loadModel(o.model, { provider: o.provider, ...(o.threads ? { threads: o.threads } : {}), ...loadOptionsFrom(o, hashBar.onProgress) });
  } finally {
    hashBar.stop();
  }
  printLoadNotes(model.notes);
  let bar: cliProgress.SingleBar | null = null;
  try {
    // --chat: rendered with the model's chat template by the code the generator worker and the verifiers use (offchain/model/chat.ts)
    const promptTokens = o.chat
      ? chatPromptTokens(await openChatModel(model.dir, model.tokenizer), o.chat)
      : (o.promptTokens ?? model.tokenizer.encode(o.prompt!, { addSpecialTokens: o.specialTokens }));
    const decoding = {
      seed: o.seed,
      temperature: o.temperature,
      topK: o.topK,
      topP: o.topP,
      maxTokens: o.maxTokens,
      stopAtEos: o.stopAtEos,
    };
    const samplerSeed = o.samplerSeed ?? (promptTokens.length > 0 && promptTokens.every((t) => Number.isInteger(t) && t >= 0 && t <= 0xffffffff)
      ? defaultSamplerSeed(promptTokens, decoding)
      : (`0x${"0".repeat(64)}` as Hex)); // generate() rejects such a prompt anyway
    if (process.stderr.isTTY && !o.json) {
      bar = new cliProgress.SingleBar(
        { stream: process.stderr, format: "generate [{bar}] {value}/{total} tokens | {eta_formatted} left", hideCursor: true, clearOnComplete: true },
        cliProgress.Presets.shades_classic,
      );
    }
    let started = false;
    const res = await generate(model, {
      promptTokens,
      decoding,
      sampler: { seed: samplerSeed, ratePpm: o.sampleRate, layersPerToken: o.layersPerToken, scope: o.scope },
      ...(o.kvDtype ? { kvDtype: o.kvDtype } : {}),
      ...(o.prefillChunk ? { prefillChunkSize: o.prefillChunk } : {}),
      onProgress: bar
        ? (done, total) => {
            if (!started) {
              bar!.start(total, 0);
              started = true;
            }
            bar!.update(done);
          }
        : undefined,
    });
    bar?.stop();
    bar = null;
    await writeFileAtomic(out, res.bytes).catch((e: unknown) => {
      throw new GenerateError(`cannot write the receipt to ${out}`, { details: (e as Error).message, cause: e });
    });
    let storePath: string | null = null;
    if (o.store) {
      const store = new ReceiptStore(o.store);
      await store.put(res.bytes);
      storePath = store.pathFor(res.root);
    }
    const r = res.receipt;
    const n = r.outputTokens.length;
    const checks = numChecks(r);
    const stopped = n < r.decoding.maxTokens ? "eos" : "maxTokens";
    if (o.json) {
      console.log(
        JSON.stringify(
          {
            root: res.root,
            modelId: r.modelId,
            text: res.text,
            promptTokens: r.promptTokens,
            outputTokens: r.outputTokens,
            stopped,
            numChecks: checks,
            samples: r.samples.length,
            bytes: res.bytes.length,
            bytesPerOutputToken: res.bytes.length / n,
            kvDtype: r.kvDtype,
            decoding: { ...r.decoding, seed: r.decoding.seed.toString() },
            sampler: r.sampler,
            timings: res.timings,
            out,
            storePath,
          },
          null,
          2,
        ),
      );
      return;
    }
    console.log(`text       ${printable(res.text)}`);
    console.log(`root       ${res.root}`);
    console.log(`model id   ${r.modelId}`);
    console.log(`tokens     prompt ${r.promptTokens.length}, output ${n} (stopped at ${stopped === "eos" ? "end of sequence" : "max tokens"})`);
    console.log(`numChecks  ${checks} (${r.samples.length} KV samples + ${n} token checks)`);
    console.log(`bytes      ${res.bytes.length} (${(res.bytes.length / n).toFixed(1)} bytes/output token, K/V as ${r.kvDtype})`);
    console.log(
      `speed      ${res.timings.tokensPerSecond.toFixed(1)} tokens/s (prefill ${res.timings.prefillMs.toFixed(0)} ms, decode ${res.timings.decodeMs.toFixed(0)} ms, total ${res.timings.totalMs.toFixed(0)} ms)`,
    );
    console.log(`sampler    seed ${r.sampler.seed}, rate ${r.sampler.ratePpm} ppm, ${r.sampler.layersPerToken}/${r.sampler.numLayers} layers, scope ${r.sampler.scope}`);
    console.log(`receipt    ${out}`);
    if (storePath) console.log(`store      ${storePath}`);
  } finally {
    bar?.stop();
    await model.release();
  }
}

export function generateCommand(): Command {
  const cmd = new Command("generate")
    .description("generate with KV-cache sampling and write the receipt; prints the text and the receipt root")
    .requiredOption("--model <dir>", "model directory (Optimum ONNX layout)")
    .option("--prompt <text>", "prompt text (tokenized with the model's tokenizer)")
    .option("--prompt-tokens <ids>", "prompt as comma-separated token ids (instead of --prompt)", tokenList)
    .option("--chat <json>", 'chat messages, e.g. \'[{"role":"user","content":"Hi"}]\', rendered with the model\'s chat template (instead of --prompt)', chatMessages)
    .option("--no-special-tokens", "do not let the tokenizer add special tokens (e.g. <bos>) to --prompt")
    .requiredOption("--max-tokens <n>", "tokens to generate at most", positiveInt)
    .requiredOption("--out <file>", "receipt file to write (atomically)")
    .option("--seed <n>", "decoding seed, an unsigned 64-bit integer", seed, REQUEST_DEFAULTS.seed)
    .option("--temperature <t>", "0 = greedy", temperature, REQUEST_DEFAULTS.temperature)
    .option("--top-k <k>", "keep the k most likely tokens (0 = off)", nonNegativeInt, REQUEST_DEFAULTS.topK)
    .option("--top-p <p>", "nucleus mass in (0, 1] (1 = off)", topP, REQUEST_DEFAULTS.topP)
    .option("--stop-at-eos", "stop after the model's end-of-sequence token", false)
    .option("--sample-rate <r>", "fraction of positions whose K/V is sampled: 0.0625, 1/16 or 6.25%", rate, parseRatePpm(REQUEST_DEFAULTS.sampleRate))
    .option("--layers-per-token <n>", "layers sampled at each sampled position", positiveInt, REQUEST_DEFAULTS.layersPerToken)
    .option("--sampler-seed <hex32>", "sampler seed (default: keccak256 of the prompt tokens and decoding configuration)", hex32)
    .addOption(new Option("--scope <scope>", "candidate positions: prompt and output, or output only").choices(["all", "generated"]).default(REQUEST_DEFAULTS.scope))
    .addOption(new Option("--kv-dtype <dtype>", "how K/V numbers are stored (default: the model's dtype)").choices(["float32", "float16"]))
    .option("--threads <n>", "CPU threads (default: onnxruntime's choice)", positiveInt)
    .addOption(new Option("--provider <name>", "execution provider").choices([...EXECUTION_PROVIDERS]).default("cpu"))
    .option("--prefill-chunk <n>", "prompt tokens per forward pass (default 256)", positiveInt)
    .option("--store <dir>", "also put the receipt into this receipt store directory")
    .option("--json", "print one JSON object instead of text", false);
  return addModelOptions(cmd).action(async (o: GenerateOptions) => runGenerate(o));
}
