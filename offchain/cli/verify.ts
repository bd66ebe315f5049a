/**
 * `poc verify`: replay a receipt against a model directory and print the verdict (offchain/verify).
 *
 * Exit code: 0 whenever the verification ran, whatever the verdict (read `agrees` / the bitmap — a
 * verifier must submit a result either way); 1 with a message on bad input: unreadable or malformed
 * receipt file, a receipt for another model id (ModelMismatchError), a root that does not match
 * `--root`, a model directory that does not load, bad options.
 */
import { Command, Option } from "commander";
import { readFile } from "node:fs/promises";
import { EXECUTION_PROVIDERS, loadModel, type ExecutionProvider } from "../model/index.js";
import { ReceiptFetchError, decodeReceipt } from "../receipt/index.js";
import { verifyReceipt, type Verdict } from "../verify/index.js";
import { hex32, positiveInt, positiveNumber } from "./options.js";
import { addModelOptions, hashProgressBar, loadOptionsFrom, printLoadNotes } from "./model-options.js";

/** The verdict as one JSON-ready object (bitmap as hex, no typed arrays). */
export function verdictJson(v: Verdict): Record<string, unknown> {
  const { matchBitmap: _bytes, matchBitmapHex, samples, agrees, checks, matched, firstMismatch, replayMs, ...rest } = v;
  return {
    agrees,
    matchBitmap: matchBitmapHex,
    checks,
    matched,
    ...(firstMismatch ? { firstMismatch } : {}),
    replayMs,
    ...rest,
    ...(samples ? { samples } : {}),
  };
}

const e = (x: number) => (x === 0 ? "0" : Number.isFinite(x) ? x.toExponential(2) : String(x));

/** The verdict in plain words. */
export function formatVerdict(v: Verdict): string[] {
  const lines: string[] = [];
  const S = v.kvChecks.total;
  const O = v.tokenChecks.total;
  if (v.agrees) lines.push(`verdict    AGREES: all ${v.checks} checks matched (${S} KV samples, ${O} generated tokens)`);
  else {
    lines.push(
      `verdict    DISAGREES: ${v.matched} of ${v.checks} checks matched (KV samples ${v.kvChecks.matched}/${S}, tokens ${v.tokenChecks.matched}/${O})`,
    );
    if (v.malformed) lines.push(`malformed  ${v.malformed.message}${v.malformed.details ? ` (${v.malformed.details})` : ""}; every check counts as unmatched`);
    const m = v.firstMismatch;
    if (m && !v.malformed) {
      if (m.kind === "token") lines.push(`first      ${m.detail}`);
      else lines.push(`first      ${m.kind} of the sample at position ${m.position}, layer ${m.layer}: error ${e(m.error)} > threshold ${e(m.threshold)} (check ${m.index})`);
    }
    if (v.stoppedAtLayer !== undefined)
      lines.push(`canonical  lowest mismatching layer ${v.stoppedAtLayer}: samples above it and all token checks count as unmatched${v.earlyStopped ? " (replay stopped there)" : ""}`);
  }
  lines.push(`bitmap     ${v.matchBitmapHex}`);
  lines.push(`root       ${v.root}`);
  if (!v.malformed)
    lines.push(
      `replay     ${v.replayMs.toFixed(0)} ms (${v.earlyStopped ? `stopped after the probe of ${v.layersComputed} layer(s)` : `${v.replayedTokens} tokens, ${v.layersComputed} layers`}` +
        `${v.probeMs > 0 ? `; probe ${v.probeMs.toFixed(0)} ms` : ""})`,
    );
  const k = v.errors.key;
  const val = v.errors.value;
  if (k.count > 0)
    lines.push(
      `KV error   key max ${e(k.max)}${k.maxAt ? ` at (${k.maxAt.position}, ${k.maxAt.layer})` : ""}, value max ${e(val.max)}${val.maxAt ? ` at (${val.maxAt.position}, ${val.maxAt.layer})` : ""}; threshold ${e(v.tolerances.kv)}`,
    );
  const t = v.errors.tokens;
  if (t.checked > 0) lines.push(`tokens     ${t.checked} checked: ${t.exact} exact, ${t.nearTies} near-ties accepted, ${t.failed} failed`);
  return lines;
}

export function verifyCommand(): Command {
  const cmd = new Command("verify")
    .description("replay a receipt with one prefill pass and print the verdict and the match bitmap (exit code 0 whatever the verdict)")
    .requiredOption("--model <dir>", "model directory (Optimum decoder export) whose id the receipt names")
    .requiredOption("--receipt <file>", "receipt file (canonical .pocr bytes)")
    .option("--root <hex>", "committed root: refuse a receipt whose root differs", hex32)
    .option("--json", "print one JSON object", false)
    .option("--threads <n>", "CPU threads (default: onnxruntime's choice)", positiveInt)
    .addOption(new Option("--provider <name>", "execution provider").choices([...EXECUTION_PROVIDERS]).default("cpu"))
    .option("--no-early-stop", "always replay every layer (same bitmap, slower on a mismatch)")
    .option("--chunk-size <n>", "tokens per forward pass of the replay", positiveInt)
    .option("--kv-threshold <x>", "override the KV error threshold of the model's precision", positiveNumber)
    .option("--samples", "with --json: include every sample's errors", false);
  return addModelOptions(cmd).action(async (o) => {
      let bytes: Uint8Array;
      try {
        bytes = new Uint8Array(await readFile(o.receipt));
      } catch (cause) {
        throw new ReceiptFetchError(`cannot read the receipt file ${o.receipt}`, { details: (cause as Error).message, cause });
      }
      const receipt = decodeReceipt(bytes);
      const hashBar = hashProgressBar(process.stderr.isTTY === true && !o.json);
      let model;
      try {
        model = await loadModel(o.model, {
          provider: o.provider as ExecutionProvider,
          ...(o.threads ? { threads: o.threads } : {}),
          ...loadOptionsFrom(o, hashBar.onProgress),
        });
      } finally {
        hashBar.stop();
      }
      printLoadNotes(model.notes);
      try {
        const v = await verifyReceipt(model, receipt, {
          earlyStop: o.earlyStop,
          ...(o.chunkSize ? { chunkSize: o.chunkSize } : {}),
          ...(o.kvThreshold ? { tolerances: { kv: o.kvThreshold } } : {}),
          ...(o.root ? { expectedRoot: o.root } : {}),
          collectSamples: Boolean(o.json && o.samples),
        });
        if (o.json) console.log(JSON.stringify(verdictJson(v), (_k, x) => (typeof x === "bigint" ? x.toString() : x), 2));
        else for (const l of formatVerdict(v)) console.log(l);
      } finally {
        await model.release();
      }
    });
}
