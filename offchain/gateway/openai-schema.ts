/**
 * The OpenAI wire format the gateway speaks: zod schemas of the request bodies of
 * `POST /v1/chat/completions` and `POST /v1/completions` (unknown fields are ignored, as OpenAI's
 * clients send many), the response objects, and the error body.
 *
 * Parameters used: `model`, `messages` / `prompt`, `temperature` (0–2, default 1), `top_p` (default
 * 1), `max_tokens` or `max_completion_tokens`, `seed` (a uint64; random when absent), `stop` (a
 * string or up to 4), `stream`, `stream_options.include_usage`. `n` must be 1.
 */
import { z } from "zod";
import type { ProofOfCache } from "./job-runner.js";
import { GatewayError, badRequest } from "./errors.js";

const textPart = z.object({ type: z.literal("text"), text: z.string() });
const content = z.union([z.string(), z.array(z.union([textPart, z.object({ type: z.string() }).passthrough()]))]).nullable().optional();

export const chatMessageSchema = z.object({
  role: z.enum(["system", "developer", "user", "assistant", "tool"]),
  content,
  name: z.string().optional(),
});

const stop = z.union([z.string().min(1), z.array(z.string().min(1)).max(4)]).nullable().optional();
const seed = z
  .union([z.number().int().min(0).max(Number.MAX_SAFE_INTEGER), z.string().regex(/^\d{1,20}$/)])
  .transform((v) => BigInt(v))
  .refine((v) => v < 1n << 64n, "seed must be below 2^64")
  .nullable()
  .optional();

const common = {
  model: z.string().min(1, "model is required"),
  temperature: z.number().min(0).max(2).nullable().optional(),
  top_p: z.number().gt(0).max(1).nullable().optional(),
  max_tokens: z.number().int().min(1).nullable().optional(),
  max_completion_tokens: z.number().int().min(1).nullable().optional(),
  seed,
  stop,
  stream: z.boolean().nullable().optional(),
  stream_options: z.object({ include_usage: z.boolean().optional() }).nullable().optional(),
  n: z.literal(1, { message: "n must be 1: one job gives one completion" }).nullable().optional(),
};

export const chatRequestSchema = z.object({
  ...common,
  messages: z.array(chatMessageSchema).min(1, "messages must hold at least one message"),
});

export const completionRequestSchema = z.object({
  ...common,
  prompt: z.union([
    z.string(),
    z.array(z.string()).length(1, "prompt must be one string: one job gives one completion"),
    z.array(z.number().int().min(0)).min(1),
    z.array(z.array(z.number().int().min(0)).min(1)).length(1, "prompt must be one token list"),
  ]),
  echo: z.literal(false, { message: "echo is not supported" }).nullable().optional(),
});

export type ChatMessage = z.output<typeof chatMessageSchema>;
export type ChatRequest = z.output<typeof chatRequestSchema>;
export type CompletionRequest = z.output<typeof completionRequestSchema>;

/** Parse a body (already JSON-decoded) with `schema`; 400 naming the first bad field. */
export function parseBody<T extends z.ZodType>(schema: T, body: unknown): z.output<T> {
  if (body === null || typeof body !== "object" || Array.isArray(body)) throw badRequest("the request body must be a JSON object");
  const r = schema.safeParse(body);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const param = issue.path.map(String).join(".");
  const missing = issue.code === "invalid_type" && (body as Record<string, unknown>)[String(issue.path[0])] === undefined;
  let message = issue.message;
  if (issue.code === "invalid_union") {
    // the branch that got furthest says more than "Invalid input"
    const inner = issue.errors.flat().find((i) => i.code !== "invalid_type");
    if (inner) message = inner.message;
  }
  throw badRequest(missing ? `'${param}' is a required property` : `invalid '${param || "body"}': ${message}`, param || undefined, missing ? "missing_required_parameter" : "invalid_value");
}

/** The text of a message's content (text parts joined; other parts refused). */
export function messageText(m: ChatMessage, i: number): string {
  if (m.content === null || m.content === undefined) return "";
  if (typeof m.content === "string") return m.content;
  return m.content
    .map((p) => {
      if (p.type === "text" && typeof (p as { text?: unknown }).text === "string") return (p as { text: string }).text;
      throw badRequest(`messages[${i}]: content parts of type '${p.type}' are not supported (text only)`, `messages.${i}.content`);
    })
    .join("");
}

export type FinishReason = "stop" | "length";

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export function usageOf(promptTokens: number, completionTokens: number): Usage {
  return { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
}

interface Base {
  id: string;
  created: number;
  model: string;
}

export function chatCompletion(b: Base & { text: string; finish: FinishReason; usage: Usage; poc: ProofOfCache }) {
  return {
    id: b.id,
    object: "chat.completion" as const,
    created: b.created,
    model: b.model,
    system_fingerprint: null,
    choices: [{ index: 0, message: { role: "assistant" as const, content: b.text, refusal: null }, logprobs: null, finish_reason: b.finish }],
    usage: b.usage,
    proof_of_cache: b.poc,
  };
}

export function chatChunk(b: Base & { delta: { role?: "assistant"; content?: string }; finish: FinishReason | null; usage?: Usage; poc?: ProofOfCache; noChoices?: boolean }) {
  return {
    id: b.id,
    object: "chat.completion.chunk" as const,
    created: b.created,
    model: b.model,
    system_fingerprint: null,
    choices: b.noChoices ? [] : [{ index: 0, delta: b.delta, logprobs: null, finish_reason: b.finish }],
    ...(b.usage ? { usage: b.usage } : {}),
    ...(b.poc ? { proof_of_cache: b.poc } : {}),
  };
}

export function textCompletion(b: Base & { text: string; finish: FinishReason | null; usage?: Usage; poc?: ProofOfCache; noChoices?: boolean }) {
  return {
    id: b.id,
    object: "text_completion" as const,
    created: b.created,
    model: b.model,
    system_fingerprint: null,
    choices: b.noChoices ? [] : [{ index: 0, text: b.text, logprobs: null, finish_reason: b.finish }],
    ...(b.usage ? { usage: b.usage } : {}),
    ...(b.poc ? { proof_of_cache: b.poc } : {}),
  };
}

/** OpenAI's error body. */
export function errorBody(e: GatewayError) {
  return { error: { message: e.shortMessage, type: e.type, param: e.param, code: e.code } };
}
