/**
 * Options shared by the commands that load a model (generate, verify, model info/bench, workers):
 * --variant, --graph-opt, --context-length, and a progress bar for the first hash of big model files.
 */
import { Command, Option } from "commander";
import cliProgress from "cli-progress";
import { GRAPH_OPTIMIZATION_LEVELS, type GraphOptimizationLevel, type HashProgress, type LoadOptions } from "../model/index.js";
import { positiveInt } from "./options.js";

export interface ModelCliOptions {
  variant?: string;
  graphOpt?: GraphOptimizationLevel;
  contextLength?: number;
}

export function addGraphOptOption(cmd: Command): Command {
  return cmd.addOption(
    new Option("--graph-opt <level>", "onnxruntime graph optimisation (lowered on its own, with a note, when a graph fails at this level)")
      .choices([...GRAPH_OPTIMIZATION_LEVELS])
      .default("all"),
  );
}

export function addModelOptions(cmd: Command, o: { graphOpt?: boolean } = {}): Command {
  cmd
    .option("--variant <name>", "ONNX variant of the directory: fp32, fp16, q4, q4f16, int8/quantized, … (needed when there are several)")
    .option("--context-length <n>", "context length, for a config.json without max_position_embeddings (or to lower it)", positiveInt);
  return o.graphOpt === false ? cmd : addGraphOptOption(cmd);
}

/** Files below this size are hashed without a bar. */
const BAR_FROM_BYTES = 64 * 1024 * 1024;

/** A progress callback that shows a bar on stderr (a TTY only) while big model files are hashed. */
export function hashProgressBar(enabled = process.stderr.isTTY === true): { onProgress: HashProgress; stop(): void } {
  let bar: cliProgress.SingleBar | null = null;
  const stop = () => {
    bar?.stop();
    bar = null;
  };
  return {
    stop,
    onProgress: ({ doneBytes, totalBytes }) => {
      if (!enabled || totalBytes < BAR_FROM_BYTES) return;
      if (!bar) {
        bar = new cliProgress.SingleBar(
          { stream: process.stderr, format: "hashing model files [{bar}] {percentage}% | {mb}/{totalMb} MB (once: cached next to the model)", hideCursor: true, clearOnComplete: true },
          cliProgress.Presets.shades_classic,
        );
        bar.start(totalBytes, 0, { mb: 0, totalMb: (totalBytes / 1e6).toFixed(0) });
      }
      bar.update(doneBytes, { mb: (doneBytes / 1e6).toFixed(0) });
      if (doneBytes >= totalBytes) stop();
    },
  };
}

/** LoadOptions from the parsed options. */
export function loadOptionsFrom(o: ModelCliOptions, progress?: HashProgress): LoadOptions {
  return {
    ...(o.variant !== undefined ? { variant: o.variant } : {}),
    ...(o.graphOpt !== undefined ? { graphOptimizationLevel: o.graphOpt } : {}),
    ...(o.contextLength !== undefined ? { contextLength: o.contextLength } : {}),
    ...(progress ? { onHashProgress: progress } : {}),
  };
}

/** The loader's notes (removed Casts, lowered optimisation) on stderr. */
export function printLoadNotes(notes: readonly string[]): void {
  for (const n of notes) console.error(`note: ${n}`);
}
