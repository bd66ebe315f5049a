/**
 * `poc calibrate`: measure honest and adversarial KV error distributions for a model built by this
 * project and print them with the margins around the thresholds in use (offchain/verify/calibrate.ts).
 */
import { Command } from "commander";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { calibrate, formatCalibration } from "../verify/calibrate.js";
import { positiveInt, positiveNumber } from "./options.js";

export function calibrateCommand(): Command {
  return new Command("calibrate")
    .description("generate honest and adversarial receipts (other seed, int8, 1 % noise, …) and print the KV error distributions and margins")
    .requiredOption("--model <dir>", "model directory built by `poc model build`")
    .option("--work <dir>", "where the model variants are built (kept; default: a temporary directory, removed)")
    .option("--tokens <n>", "generated tokens per receipt", positiveInt, 64)
    .option("--prompt-len <n>", "prompt tokens", positiveInt, 32)
    .option("--sweep", "add weight-noise probes of 0.1 % and 0.3 % (the detection limit)", false)
    .option("--no-gpu-proxy", "leave out the TF32 proxy probe")
    .option("--kv-threshold <x>", "calibrate against this KV threshold instead of the default", positiveNumber)
    .option("--json", "print the report as JSON", false)
    .action(async (o) => {
      const work = o.work ?? (await mkdtemp(join(tmpdir(), "poc-calibrate-")));
      try {
        const report = await calibrate(o.model, {
          workDir: work,
          maxTokens: o.tokens,
          promptLen: o.promptLen,
          sweep: o.sweep,
          gpuProxy: o.gpuProxy,
          ...(o.kvThreshold ? { verify: { tolerances: { kv: o.kvThreshold } } } : {}),
          ...(o.json ? {} : { log: (l: string) => process.stderr.write(`${l}\n`) }),
        });
        if (o.json) console.log(JSON.stringify(report, null, 2));
        else for (const l of formatCalibration(report)) console.log(l);
      } finally {
        if (!o.work) await rm(work, { recursive: true, force: true });
      }
    });
}
