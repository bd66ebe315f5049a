/**
 * config.json of a decoder export, validated with zod. Llama-style keys (num_hidden_layers,
 * hidden_size, num_attention_heads, num_key_value_heads, head_dim, vocab_size, ...), with the
 * GPT-2 style aliases (n_layer, n_embd, n_head, n_positions) accepted; unknown keys are kept.
 */
import { readFile } from "node:fs/promises";
import { z } from "zod";
import { ModelConfigError, ModelFileError } from "./errors.js";

const posInt = z.number().int().positive();
const tokenId = z.number().int().nonnegative();

export const HfConfigSchema = z.looseObject({
  model_type: z.string().optional(),
  num_hidden_layers: posInt,
  hidden_size: posInt,
  num_attention_heads: posInt,
  num_key_value_heads: posInt.nullish(),
  head_dim: posInt.nullish(),
  vocab_size: posInt,
  max_position_embeddings: posInt.nullish(),
  intermediate_size: posInt.nullish(),
  rms_norm_eps: z.number().positive().nullish(),
  rope_theta: z.number().positive().nullish(),
  tie_word_embeddings: z.boolean().nullish(),
  torch_dtype: z.string().nullish(),
  dtype: z.string().nullish(),
  bos_token_id: z.union([tokenId, z.array(tokenId)]).nullish(),
  eos_token_id: z.union([tokenId, z.array(tokenId)]).nullish(),
  pad_token_id: z.union([tokenId, z.array(tokenId)]).nullish(),
  // read to validate them (the graph computes with them; see offchain/model/README.md "Architectures")
  rope_scaling: z
    .looseObject({
      rope_type: z.string().optional(),
      type: z.string().optional(),
      factor: z.number().positive().optional(),
      low_freq_factor: z.number().positive().optional(),
      high_freq_factor: z.number().positive().optional(),
      original_max_position_embeddings: posInt.optional(),
    })
    .nullish(),
  attn_logit_softcapping: z.number().positive().nullish(),
  final_logit_softcapping: z.number().positive().nullish(),
  sliding_window: posInt.nullish(),
  use_sliding_window: z.boolean().nullish(),
});
export type HfConfig = z.infer<typeof HfConfigSchema>;

const ALIASES: Record<string, string> = {
  n_layer: "num_hidden_layers",
  n_embd: "hidden_size",
  n_head: "num_attention_heads",
  n_positions: "max_position_embeddings",
};

export function parseHfConfig(raw: unknown, file = "config.json"): HfConfig {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new ModelConfigError(`${file} must hold a JSON object`);
  const obj: Record<string, unknown> = { ...(raw as Record<string, unknown>) };
  for (const [alias, key] of Object.entries(ALIASES)) if (obj[key] === undefined && obj[alias] !== undefined) obj[key] = obj[alias];
  const r = HfConfigSchema.safeParse(obj);
  if (!r.success) {
    const issues = r.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
    throw new ModelConfigError(`Invalid model config ${file}`, { details: issues });
  }
  const c = r.data;
  if (c.num_key_value_heads && c.num_attention_heads % c.num_key_value_heads !== 0)
    throw new ModelConfigError(`Invalid model config ${file}`, {
      details: `num_attention_heads (${c.num_attention_heads}) is not a multiple of num_key_value_heads (${c.num_key_value_heads})`,
    });
  return c;
}

export async function readJsonFile(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (cause) {
    throw new ModelFileError(path, "Cannot read file", { cause });
  }
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new ModelFileError(path, "Invalid JSON", { cause, details: (cause as Error).message });
  }
}

export const firstId = (v: number | number[] | null | undefined): number | null =>
  v === null || v === undefined ? null : Array.isArray(v) ? (v[0] ?? null) : v;
export const allIds = (v: number | number[] | null | undefined): number[] =>
  v === null || v === undefined ? [] : Array.isArray(v) ? v : [v];
