/**
 * `poc model …`: build a seeded Llama-style model, show a model directory's config and id,
 * time its forward pass.
 */
import { Command, InvalidArgumentError, Option } from "commander";
import { buildModel, EXECUTION_PROVIDERS, loadModel, PRESETS, type ExecutionProvider } from "../model/index.js";
import { benchModel } from "../model/bench.js";
import { positiveInt } from "./options.js";

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
    .option("--tied", "tie the output head to the token embedding", false)
    .option("--no-position-ids", "leave out the position_ids input (positions from attention_mask)")
    .option("--use-cache-branch", "add the legacy use_cache_branch input of merged exports", false)
    .option("--external-data", "store the weights in model.onnx_data", false)
    .option("--force", "replace a non-empty output directory", false)
    .option("--json", "print the result as JSON", false)
    .action(async (o) => {
      const r = await buildModel(
        o.out,
        {
          preset: o.preset,
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

  cmd
    .command("info")
    .description("load a model directory and print its config, files and model id")
    .requiredOption("--model <dir>", "model directory (Optimum decoder export)")
    .option("--json", "print as JSON", false)
    .action(async (o) => {
      const m = await loadModel(o.model);
      try {
        const info = {
          modelId: m.modelId,
          dir: m.dir,
          onnxFile: m.onnxFile,
          config: m.config,
          files: m.files,
          inputs: m.inputNames,
          outputs: m.outputNames,
        };
        if (o.json) {
          console.log(JSON.stringify(info, null, 2));
          return;
        }
        const c = m.config;
        console.log(`model id   ${m.modelId}`);
        console.log(`directory  ${m.dir} (graph ${m.onnxFile})`);
        console.log(
          `shape      ${c.layers} layers, hidden ${c.hiddenSize}, ${c.heads} heads / ${c.kvHeads} kv heads × ${c.headDim}, ` +
            `vocab ${c.vocabSize}, ${c.dtype}, context ${c.maxPositions ?? "?"}, bos ${c.bosId ?? "-"}, eos ${c.eosIds.join("/") || "-"}`,
        );
        console.log(`inputs     ${m.inputNames.filter((n) => !n.startsWith("past_key_values.")).join(", ")}, past_key_values.{0..${c.layers - 1}}.key|value`);
        console.log(`outputs    logits, present.{0..${c.layers - 1}}.key|value`);
        for (const f of m.files) console.log(`file       ${f.path}  ${mb(f.bytes)}  sha256 ${f.sha256}`);
      } finally {
        await m.release();
      }
    });

  cmd
    .command("bench")
    .description("time prefill, decode steps and the fetchLayers early stop on this machine")
    .requiredOption("--model <dir>", "model directory")
    .addOption(new Option("--provider <ep>", "execution provider").choices([...EXECUTION_PROVIDERS]).default("cpu"))
    .option("--threads <n>", "CPU threads (intraOpNumThreads)", positiveInt)
    .option("--prefill <n>", "prefill length", positiveInt, 256)
    .option("--steps <n>", "decode steps", positiveInt, 32)
    .option("--repeats <n>", "prefill repeats (median)", positiveInt, 3)
    .option("--fetch-layers <n...>", "fetchLayers values for the early-stop timing (default 1, layers/2, layers)")
    .option("--json", "print as JSON", false)
    .action(async (o) => {
      const r = await benchModel(o.model, {
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
