/**
 * `poc model …`: build a seeded Llama-style model, show a model directory's config and id,
 * time its forward pass.
 */
import { openChatModel } from "../model/chat.js";
import { Command, InvalidArgumentError, Option } from "commander";
import { join } from "node:path";
import {
  ARCHITECTURES,
  BUILD_LAYOUTS,
  addModelVariant,
  buildModel,
  computeModelId,
  describeVariant,
  EXECUTION_PROVIDERS,
  listVariants,
  loadModel,
  ModelFileError,
  ModelInputError,
  PRESETS,
  QUANTIZED_FORMATS,
  resolveVariantFiles,
  variantPrecision,
  type ExecutionProvider,
  type LoadedModel,
} from "../model/index.js";
import { allIds, parseHfConfig, readJsonFile } from "../model/config.js";
import { benchModel } from "../model/bench.js";
import { positiveInt } from "./options.js";
import { addModelOptions, hashProgressBar, loadOptionsFrom, printLoadNotes, type ModelCliOptions } from "./model-options.js";

function seed(v: string): string {
  if (!/^\d+$/.test(v) || BigInt(v) >= 1n << 64n) throw new InvalidArgumentError("an integer in [0, 2^64)");
  return v;
}

const mb = (b: number) => `${(b / 1e6).toFixed(1)} MB`;
const mparams = (p: number) => (p >= 1e6 ? `${(p / 1e6).toFixed(2)}M` : `${(p / 1e3).toFixed(1)}K`);

export function modelCommand(): Command {
  const cmd = new Command("model").description("build, inspect and time decoder models (Optimum ONNX layout)");

  cmd
    .command("build")
    .description("write a Llama-style decoder with seeded weights: model.onnx, config.json, tokenizer.json")
    .addOption(new Option("--preset <name>", "size preset").choices(Object.keys(PRESETS)).default("tiny"))
    .addOption(new Option("--arch <name>", "architecture traits and config.json model_type (see offchain/model/README.md)").choices([...ARCHITECTURES]).default("llama"))
    .requiredOption("--out <dir>", "output directory (must not exist or be empty, unless --force)")
    .option("--weight-seed <n>", "weight seed, an unsigned 64-bit integer", seed, "0")
    .option("--layers <n>", "decoder layers", positiveInt)
    .option("--hidden <n>", "hidden size", positiveInt)
    .option("--heads <n>", "attention heads", positiveInt)
    .option("--kv-heads <n>", "key/value heads (grouped-query attention)", positiveInt)
    .option("--head-dim <n>", "head dimension (default hidden / heads)", positiveInt)
    .option("--intermediate <n>", "MLP intermediate size", positiveInt)
    .option("--max-positions <n>", "context length written to config.json", positiveInt)
    .addOption(new Option("--dtype <type>", "weights, activations and KV cache").choices(["fp32", "fp16"]).default("fp32"))
    .option("--sliding-window <n>", "sliding-window attention of N tokens (--arch mistral: default a quarter of the context; phi3: half less one)", positiveInt)
    .addOption(
      new Option("--quantize <format>", "quantised linear layers as onnxruntime's tools write them: q4 (MatMulNBits; q4f16 with --dtype fp16), int8 (dynamic: DynamicQuantizeLinear + MatMulInteger), qdq (static QuantizeLinear/DequantizeLinear)").choices([
        ...QUANTIZED_FORMATS,
      ]),
    )
    .option("--tied", "tie the output head to the token embedding (default: as the architecture has it)")
    .option("--no-position-ids", "leave out the position_ids input (positions from attention_mask)")
    .option("--use-cache-branch", "add the legacy use_cache_branch input of merged exports", false)
    .option("--external-data", "store the weights in <graph file>_data (model.onnx_data)", false)
    .addOption(new Option("--layout <layout>", "model.onnx | onnx/model.onnx | decoder_model_merged.onnx | decoder_model + decoder_with_past_model").choices([...BUILD_LAYOUTS]).default("model"))
    .option("--variant-name <name>", "file-name suffix of the variant (fp16 writes model_fp16.onnx)")
    .option("--hf-upcast", "same-dtype Casts before RMSNorm and softmax, as Hugging Face `.float()` exports (onnxruntime #32416)", false)
    .option("--tokenizer-from <dir>", "ship a real tokenizer: tokenizer.json (+ tokenizer_config.json, its chat template) from DIR; the vocabulary is sized to it")
    .option("--vocab-size <n>", "vocabulary rows (at least the tokenizer's size; e.g. 151936 to pad a Qwen tokenizer as Qwen does)", positiveInt)
    .option("--add-variant", "add this build as another variant of the model in --out (its onnx/ folder; same shape, weight seed and tokenizer), as transformers.js repositories hold fp32, fp16, q4, … side by side", false)
    .option("--force", "replace a non-empty output directory (with --add-variant: an existing variant file)", false)
    .option("--json", "print the result as JSON", false)
    .action(async (o) => {
      if (o.addVariant && o.layout !== "onnx" && o.layout !== "model")
        throw new ModelInputError(`--add-variant adds to the onnx/ layout (got --layout ${o.layout})`);
      const r = await (o.addVariant ? addModelVariant : buildModel)(
        o.out,
        {
          preset: o.preset,
          architecture: o.arch,
          weightSeed: o.weightSeed,
          layers: o.layers,
          hiddenSize: o.hidden,
          heads: o.heads,
          kvHeads: o.kvHeads,
          headDim: o.headDim,
          intermediateSize: o.intermediate,
          maxPositions: o.maxPositions,
          dtype: o.dtype,
          tied: o.tied,
          positionIds: o.positionIds,
          useCacheBranch: o.useCacheBranch,
          externalData: o.externalData,
          layout: o.addVariant ? "onnx" : o.layout,
          ...(o.variantName ? { variantName: o.variantName } : {}),
          hfUpcast: o.hfUpcast,
          ...(o.slidingWindow ? { slidingWindow: o.slidingWindow } : {}),
          ...(o.quantize ? { quantized: o.quantize } : {}),
          ...(o.tokenizerFrom ? { tokenizerFrom: o.tokenizerFrom } : {}),
          ...(o.vocabSize ? { vocabSize: o.vocabSize } : {}),
        },
        { force: o.force },
      );
      if (o.json) {
        console.log(JSON.stringify({ ...r, spec: { ...r.spec, weightSeed: r.spec.weightSeed.toString() } }, null, 2));
        return;
      }
      const s = r.spec;
      console.log(`model id   ${r.modelId}`);
      console.log(`directory  ${r.dir}`);
      console.log(`params     ${mparams(r.params)} (${r.params})`);
      console.log(`size       ${mb(r.bytes)} (${r.files.map((f) => `${f.path} ${mb(f.bytes)}`).join(", ")})`);
      console.log(
        `shape      ${s.layers} layers, hidden ${s.hiddenSize}, ${s.heads} heads / ${s.kvHeads} kv heads × ${s.headDim}, ` +
          `mlp ${s.intermediateSize}, vocab ${s.vocabSize}, ${s.dtype}${s.tied ? ", tied head" : ""}, seed ${s.weightSeed}`,
      );
      console.log(`built in   ${r.seconds.toFixed(2)} s`);
    });

  const info = cmd
    .command("info")
    .description("list a model directory's variants (precision, model id) with its context and vocabulary; load one and print its shape and files")
    .argument("[dir]", "model directory (or --model)")
    .option("--model <dir>", "model directory")
    .option("--json", "print as JSON", false);
  addModelOptions(info).action(async (dirArg: string | undefined, o: ModelCliOptions & { model?: string; json: boolean }) => {
    const dir = dirArg ?? o.model;
    if (!dir) throw new ModelFileError("(none)", "Give the model directory: poc model info DIR");
    const hf = parseHfConfig(await readJsonFile(join(dir, "config.json")), join(dir, "config.json"));
    const bar = hashProgressBar(process.stderr.isTTY === true && !o.json);
    const variants = [];
    try {
      for (const v of await listVariants(dir)) {
        const files = await resolveVariantFiles(dir, v);
        const { modelId, entries } = await computeModelId(dir, files, { onProgress: bar.onProgress });
        variants.push({ ...v, modelId, bytes: entries.reduce((a, e) => a + e.bytes, 0), precision: await variantPrecision(dir, v) });
      }
    } finally {
      bar.stop();
    }
    // load one variant for its shape when it is clear which (the only one, or --variant)
    let m: LoadedModel | null = null;
    if (variants.length === 1 || o.variant !== undefined) m = await loadModel(dir, loadOptionsFrom(o));
    try {
      const context = m?.config.maxPositions ?? hf.max_position_embeddings ?? null;
      const out = {
        dir,
        context,
        vocabSize: hf.vocab_size,
        modelType: hf.model_type ?? null,
        eosIds: allIds(hf.eos_token_id),
        variants,
        // the loaded variant (when one was loaded)
        ...(m
          ? {
              modelId: m.modelId,
              variant: m.variant.name,
              onnxFile: m.onnxFile,
              config: m.config,
              files: m.files,
              inputs: m.inputNames,
              outputs: m.outputNames,
              graphOptimizationLevel: m.graphOptimizationLevel,
              notes: m.notes,
            }
          : {}),
      };
      if (o.json) {
        console.log(JSON.stringify(out, null, 2));
        return;
      }
      console.log(`directory  ${dir}${hf.model_type ? ` (${hf.model_type})` : ""}`);
      console.log(`context    ${context ?? "NOT SET: config.json has no max_position_embeddings (loading needs --context-length N)"}`);
      console.log(`vocabulary ${hf.vocab_size}`);
      if (variants.length === 0) console.log("variants   none: no ONNX graph found");
      for (const v of variants) {
        const p = v.precision;
        console.log(
          `variant    ${describeVariant(v)}, ${v.layout} layout: weights ${p.weights}${p.quantization ? `, ${p.quantization}` : ""}, KV ${p.kv ?? "?"}, ${mb(v.bytes)}, model id ${v.modelId}`,
        );
      }
      if (!m) {
        if (variants.length > 1) console.log("           (pass --variant NAME to load one and show its shape)");
        return;
      }
      printLoadNotes(m.notes);
      const c = m.config;
      console.log(`model id   ${m.modelId} (variant ${m.variant.name})`);
      console.log(
        `shape      ${c.layers} layers, hidden ${c.hiddenSize}, ${c.heads} heads / ${c.kvHeads} kv heads × ${c.headDim}, ` +
          `vocab ${c.vocabSize}, ${c.dtype}, context ${c.maxPositions ?? "?"}, bos ${c.bosId ?? "-"}, eos ${c.eosIds.join("/") || "-"}`,
      );
      console.log(`inputs     ${m.inputNames.filter((n) => !n.startsWith("past_key_values.")).join(", ")}, past_key_values.{0..${c.layers - 1}}.key|value`);
      console.log(`outputs    logits, present.{0..${c.layers - 1}}.key|value`);
      console.log(`runs at    graph optimisation ${m.graphOptimizationLevel}`);
      const chat = await openChatModel(m.dir, m.tokenizer).catch(() => undefined);
      console.log(
        `chat       ${chat?.setup.chatTemplate ? "the model's chat template (tokenizer_config.json)" : "no chat template: --chat uses the plain fallback (docs/PROTOCOL.md \"Chat requests\")"}`,
      );
      for (const f of m.files) console.log(`file       ${f.role.padEnd(18)} ${f.path}  ${mb(f.bytes)}  sha256 ${f.sha256}`);
    } finally {
      await m?.release();
    }
  });

  const bench = cmd
    .command("bench")
    .description("time prefill, decode steps and the fetchLayers early stop on this machine")
    .requiredOption("--model <dir>", "model directory")
    .addOption(new Option("--provider <ep>", "execution provider").choices([...EXECUTION_PROVIDERS]).default("cpu"))
    .option("--threads <n>", "CPU threads (intraOpNumThreads)", positiveInt)
    .option("--prefill <n>", "prefill length", positiveInt, 256)
    .option("--steps <n>", "decode steps", positiveInt, 32)
    .option("--repeats <n>", "prefill repeats (median)", positiveInt, 3)
    .option("--fetch-layers <n...>", "fetchLayers values for the early-stop timing (default 1, layers/2, layers)")
    .option("--json", "print as JSON", false);
  addModelOptions(bench).action(async (o) => {
      const r = await benchModel(o.model, {
        ...loadOptionsFrom(o),
        provider: o.provider as ExecutionProvider,
        threads: o.threads,
        prefillTokens: o.prefill,
        decodeSteps: o.steps,
        repeats: o.repeats,
        fetchLayers: o.fetchLayers?.map((v: string) => positiveInt(v)),
      });
      if (o.json) {
        console.log(JSON.stringify(r, null, 2));
        return;
      }
      console.log(`model ${r.modelId} on ${r.provider}, threads ${r.threads ?? "default"} (load ${r.loadMs.toFixed(0)} ms)`);
      console.log(`prefill ${r.prefillTokens} tokens: ${r.prefillMs.toFixed(1)} ms (${((r.prefillTokens / r.prefillMs) * 1000).toFixed(0)} tokens/s)`);
      console.log(`decode step: ${r.decodeStepMs.toFixed(2)} ms (${(1000 / r.decodeStepMs).toFixed(1)} tokens/s)`);
      for (const f of r.fetch)
        console.log(
          `prefill with fetchLayers=${f.layers}: ${f.prefillMs.toFixed(1)} ms (${((100 * f.prefillMs) / r.prefillMs).toFixed(0)}% of full; first call incl. pruned session ${f.firstMs.toFixed(0)} ms)`,
        );
    });
  return cmd;
}
