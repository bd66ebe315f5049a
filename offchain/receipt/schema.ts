/**
 * The receipt (BRIEF "Verification"): what the generator commits to and the verifier replays.
 * `parseReceipt` validates external input at the edge (zod schema + cross-field invariants);
 * the binary form and the root are in `encoding.ts` and `root.ts`, documented in docs/RECEIPT.md.
 */
import * as z from "zod"; // the namespace import lets bundlers drop what is unused (zod 4)
import { type DecodingConfig, decodingConfigSchema } from "../sampling/decode.js";
import { type SamplerConfig, samplerConfigSchema } from "../sampling/kv-sampler.js";
import { HEX32_RE, type Hex } from "../sampling/bytes.js";
import { formatIssues } from "../sampling/errors.js";
import { ReceiptFormatError } from "./errors.js";
import { roundToF16 } from "./float16.js";

export const RECEIPT_VERSION = 2;
/** Upper bound on kvHeads * headDim accepted in a receipt. */
export const MAX_VECTOR_LENGTH = 1 << 20;
const U32_MAX = 0xffff_ffff;

export type KvDtype = "float32" | "float16";

/**
 * onnxruntime graph optimisation levels. A receipt declares the level the generator ran at (absent =
 * "all"); honest verifiers replay at that level, so that a level's own rounding (fp16 fusions differ by
 * up to 8e-3 between levels) never separates honest parties (docs/PROTOCOL.md "Pinned replay level").
 */
export const REPLAY_LEVELS = ["disabled", "basic", "extended", "all"] as const;
export type ReplayLevel = (typeof REPLAY_LEVELS)[number];

/**
 * One sample at `position`: for `layer < numLayers` the `present.{layer}.key|value` rows (all KV heads
 * concatenated), or their seeded projections when `sampler.projectionDim > 0`; for `layer == numLayers`
 * (a top sample, only with projections) two projections of the logits row of `position` (streams
 * "top-a" in `key`, "top-b" in `value`; offchain/sampling/projection.ts).
 */
export interface KvSample {
  position: number;
  layer: number;
  key: Float32Array;
  value: Float32Array;
}

export interface Receipt {
  version: 2;
  /** keccak/sha hash of the model's files, 0x + 64 lowercase hex digits. */
  modelId: Hex;
  promptTokens: number[];
  outputTokens: number[];
  decoding: DecodingConfig;
  sampler: SamplerConfig;
  /** How the K/V numbers are stored in the encoding ("float16": rounded to nearest even on encode). */
  kvDtype: KvDtype;
  /** The length of every stored key and value: kvHeads * headDim for full rows, else sampler.projectionDim. */
  vectorLength: number;
  /** Sorted by (position, layer), unique. */
  samples: KvSample[];
  /** The graph optimisation level the generator ran at and replays must use; absent means "all". */
  graphOptimizationLevel?: Exclude<ReplayLevel, "all">;
}

const uint32 = z.number().int().min(0).max(U32_MAX);
const tokenList = z.union([z.array(uint32), z.instanceof(Uint32Array).transform((a) => Array.from(a))]);

export const kvSampleSchema = z.strictObject({
  position: uint32,
  layer: z.number().int().min(0).max(0xffff),
  key: z.instanceof(Float32Array),
  value: z.instanceof(Float32Array),
});

export const receiptSchema = z
  .strictObject({
    version: z.literal(RECEIPT_VERSION),
    modelId: z
      .string()
      .regex(HEX32_RE, "must be 0x followed by 64 hex digits")
      .transform((s) => s.toLowerCase() as Hex),
    promptTokens: tokenList,
    outputTokens: tokenList,
    decoding: decodingConfigSchema,
    sampler: samplerConfigSchema,
    kvDtype: z.enum(["float32", "float16"]),
    vectorLength: z.number().int().min(1).max(MAX_VECTOR_LENGTH),
    samples: z.array(kvSampleSchema),
    graphOptimizationLevel: z.enum(REPLAY_LEVELS).optional(),
  })
  .superRefine((r, ctx) => {
    const problem = receiptInvariantProblem(r);
    if (problem) ctx.addIssue({ code: "custom", message: problem.message, path: problem.path });
  });

export type ReceiptInput = z.input<typeof receiptSchema>;

/**
 * The first cross-field problem of a schema-valid receipt, or null: prompt non-empty, output within
 * maxTokens, samples sorted by (position, layer) and unique, position < promptLen + outputLen,
 * layer < numLayers (≤ numLayers with projections: the top sample), vectorLength = projectionDim with projections, key/value of length vectorLength, finite, and representable in float16 when stored so.
 */
export function receiptInvariantProblem(r: {
  promptTokens: number[];
  outputTokens: number[];
  decoding: { maxTokens: number };
  sampler: { numLayers: number; projectionDim: number };
  kvDtype: KvDtype;
  vectorLength: number;
  samples: KvSample[];
}): { message: string; path: (string | number)[] } | null {
  if (r.promptTokens.length < 1) return { message: "the prompt must have at least one token", path: ["promptTokens"] };
  if (r.outputTokens.length > r.decoding.maxTokens) {
    return { message: `${r.outputTokens.length} output tokens exceed maxTokens ${r.decoding.maxTokens}`, path: ["outputTokens"] };
  }
  if (r.promptTokens.length + r.outputTokens.length > U32_MAX) return { message: "sequence too long", path: ["outputTokens"] };
  const n = r.promptTokens.length + r.outputTokens.length;
  const f16 = r.kvDtype === "float16";
  const proj = r.sampler.projectionDim;
  if (proj > 0 && r.vectorLength !== proj)
    return { message: `vectorLength ${r.vectorLength} must equal sampler.projectionDim ${proj} (projected samples)`, path: ["vectorLength"] };
  const maxLayer = proj > 0 ? r.sampler.numLayers : r.sampler.numLayers - 1;
  for (let i = 0; i < r.samples.length; i++) {
    const s = r.samples[i]!;
    const path = ["samples", i];
    if (s.position >= n) return { message: `position ${s.position} outside the sequence (${n} tokens)`, path };
    if (s.layer > maxLayer)
      return { message: `layer ${s.layer} outside the model (${r.sampler.numLayers} layers${proj > 0 ? ", top samples at layer " + r.sampler.numLayers : ""})`, path };
    if (i > 0) {
      const p = r.samples[i - 1]!;
      if (s.position < p.position || (s.position === p.position && s.layer <= p.layer)) {
        return {
          message: `samples must be sorted by (position, layer) and unique: (${s.position}, ${s.layer}) follows (${p.position}, ${p.layer})`,
          path,
        };
      }
    }
    for (const [name, vec] of [["key", s.key], ["value", s.value]] as const) {
      if (vec.length !== r.vectorLength) {
        return { message: `${name} has ${vec.length} numbers, expected vectorLength ${r.vectorLength}`, path: [...path, name] };
      }
      for (let j = 0; j < vec.length; j++) {
        const x = vec[j]!;
        if (!Number.isFinite(x) || (f16 && !Number.isFinite(roundToF16(x)))) {
          return { message: `${name}[${j}] = ${x} is not a finite ${f16 ? "float16" : "float32"}`, path: [...path, name] };
        }
      }
    }
  }
  return null;
}

/** Validate a receipt from outside (JSON-ish object with typed arrays); throws ReceiptFormatError. */
export function parseReceipt(input: unknown): Receipt {
  const r = receiptSchema.safeParse(input);
  if (!r.success) throw new ReceiptFormatError("invalid receipt", { details: formatIssues(r.error.issues) });
  // "all" is the default and never stored, so equal receipts have one object form.
  if (r.data.graphOptimizationLevel === "all") delete r.data.graphOptimizationLevel;
  return r.data as Receipt;
}
