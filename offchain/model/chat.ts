/**
 * Chat prompts: the one rendering of chat messages into prompt tokens, used by the gateway,
 * `poc generate --chat`, the generator worker and the verifier (docs/PROTOCOL.md, "Chat requests"),
 * so that all of them derive the same tokens from the same messages.
 *
 * - **Template**: `tokenizer_config.json`'s `chat_template` (a string, or a list of named templates:
 *   the one named "default", else the first), rendered with @huggingface/jinja (the renderer
 *   transformers.js uses) with `messages`, `add_generation_prompt: true`, `bos_token`, `eos_token`.
 *   Without one: {@link FALLBACK_CHAT_TEMPLATE}.
 * - **Tokens**: the rendered text, tokenized *without* adding special tokens (the template writes
 *   them: the literal text of a special token maps to that token).
 * - **Special tokens**: `bos_token`, `eos_token`, `pad_token` of `tokenizer_config.json` (a string
 *   or an AddedToken object `{content}`), their ids looked up in the tokenizer; `add_bos_token`.
 */
import { Template } from "@huggingface/jinja";
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import * as z from "zod";
import { PocError } from "../errors.js";
import { type ChatMessage, chatMessagesSchema } from "./chat-messages.js";
import { type TextTokenizer, wrapTokenizer } from "./tokenizer.js";

export { CHAT_ROLES, MAX_CHAT_MESSAGES, chatMessageSchema, chatMessagesSchema, type ChatMessage } from "./chat-messages.js";

/** The template used when the model ships none (Jinja, rendered the same way). */
export const FALLBACK_CHAT_TEMPLATE =
  "{{ bos_token }}{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}";


/** A chat cannot be parsed, or the model's template fails on it. */
export class ChatError extends PocError {
  override name = "ChatError";
  /** What is at fault: the messages, or the model's template / tokenizer config. */
  readonly fault: "messages" | "template";
  constructor(shortMessage: string, fault: "messages" | "template", options: { details?: string; cause?: unknown } = {}) {
    super(shortMessage, options);
    this.fault = fault;
  }
}

const tokenText = z.union([z.string(), z.looseObject({ content: z.string() })]).nullish();
/** The fields of tokenizer_config.json used here (others kept). */
export const tokenizerConfigSchema = z.looseObject({
  chat_template: z.union([z.string(), z.array(z.looseObject({ name: z.string(), template: z.string() }))]).nullish(),
  bos_token: tokenText,
  eos_token: tokenText,
  pad_token: tokenText,
  add_bos_token: z.boolean().nullish(),
});

/** What a model directory says about its special tokens and chat template. */
export interface TokenizerSetup {
  chatTemplate: string | undefined;
  bosToken: string | undefined;
  eosToken: string | undefined;
  padToken: string | undefined;
  bosId: number | null;
  eosId: number | null;
  padId: number | null;
  /** tokenizer_config.json's add_bos_token; null when it does not say (tokenizer.json's post-processor decides). */
  addBosToken: boolean | null;
}

/** A tokenizer and its setup: everything rendering a chat needs. */
export interface ChatModel {
  tokenizer: TextTokenizer;
  setup: TokenizerSetup;
}

const textOf = (t: z.output<typeof tokenText>): string | undefined => (t === null || t === undefined ? undefined : typeof t === "string" ? t : t.content);

/** The setup of `tokenizerConfig` (tokenizer_config.json's content, {} when absent) for `tokenizer`. */
export function tokenizerSetupOf(tokenizerConfig: unknown, tokenizer: TextTokenizer): TokenizerSetup {
  const r = tokenizerConfigSchema.safeParse(tokenizerConfig ?? {});
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new ChatError("tokenizer_config.json is not a tokenizer config", "template", { details: `${i.path.join(".") || "(root)"}: ${i.message}` });
  }
  const c = r.data;
  const tpl = c.chat_template;
  const chatTemplate = typeof tpl === "string" ? tpl : (tpl?.find((t) => t.name === "default") ?? tpl?.[0])?.template;
  const bosToken = textOf(c.bos_token);
  const eosToken = textOf(c.eos_token);
  const padToken = textOf(c.pad_token);
  const id = (t: string | undefined) => (t === undefined ? null : (tokenizer.tokenToId(t) ?? null));
  return {
    chatTemplate,
    bosToken,
    eosToken,
    padToken,
    bosId: id(bosToken),
    eosId: id(eosToken),
    padId: id(padToken),
    addBosToken: c.add_bos_token ?? null,
  };
}

/** A chat model from a tokenizer.json and tokenizer_config.json already read. */
export function chatModelOf(tokenizerJson: object, tokenizerConfig: object | undefined): ChatModel {
  const tokenizer = wrapTokenizer(tokenizerJson, tokenizerConfig ?? {});
  return { tokenizer, setup: tokenizerSetupOf(tokenizerConfig ?? {}, tokenizer) };
}

async function readJson(path: string, optional: boolean): Promise<object | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    if (optional && (e as { code?: string }).code === "ENOENT") return undefined;
    throw new ChatError(`cannot read ${path}`, "template", { details: (e as Error).message, cause: e });
  }
  try {
    const v = JSON.parse(text) as unknown;
    if (v === null || typeof v !== "object" || Array.isArray(v)) throw new Error("not a JSON object");
    return v;
  } catch (e) {
    throw new ChatError(`${path} is not a JSON object`, "template", { details: (e as Error).message, cause: e });
  }
}

/**
 * The chat model of a model directory (tokenizer.json required, tokenizer_config.json optional);
 * with `tokenizer` (a loaded model's, made from the same files) tokenizer.json is not read again.
 */
export async function openChatModel(dir: string, tokenizer?: TextTokenizer): Promise<ChatModel> {
  const abs = resolve(dir);
  const tokCfg = await readJson(join(abs, "tokenizer_config.json"), true);
  if (tokenizer) return { tokenizer, setup: tokenizerSetupOf(tokCfg ?? {}, tokenizer) };
  const tokJson = (await readJson(join(abs, "tokenizer.json"), false))!;
  return chatModelOf(tokJson, tokCfg);
}

/** Validate messages from outside (CLI, request); throws ChatError naming the field. */
export function parseChatMessages(input: unknown): ChatMessage[] {
  const r = chatMessagesSchema.safeParse(input);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new ChatError("invalid chat messages", "messages", { details: `${i.path.length ? `messages.${i.path.join(".")}` : "messages"}: ${i.message}` });
  }
  return r.data;
}

/** Messages from a JSON text (`--chat '[{"role":"user","content":"…"}]'`). */
export function parseChatJson(text: string): ChatMessage[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ChatError(`--chat is not JSON: ${(e as Error).message}`, "messages", { cause: e });
  }
  return parseChatMessages(json);
}

/** The chat as text (module comment). */
export function renderChat(setup: Pick<TokenizerSetup, "chatTemplate" | "bosToken" | "eosToken">, messages: readonly ChatMessage[]): string {
  let template: Template;
  try {
    template = new Template(setup.chatTemplate ?? FALLBACK_CHAT_TEMPLATE);
  } catch (e) {
    throw new ChatError(`the model's chat template does not parse: ${(e as Error).message}`, "template", { cause: e });
  }
  const plain = messages.map((m) => ({ role: m.role, content: m.content, ...(m.name !== undefined ? { name: m.name } : {}) }));
  try {
    return template.render({ messages: plain, add_generation_prompt: true, bos_token: setup.bosToken ?? "", eos_token: setup.eosToken ?? "" });
  } catch (e) {
    throw new ChatError(`the model's chat template failed on these messages: ${(e as Error).message}`, "messages", { cause: e });
  }
}

/** Prompt tokens of a chat (module comment). */
export function chatPromptTokens(model: ChatModel, messages: readonly ChatMessage[]): number[] {
  const tokens = model.tokenizer.encode(renderChat(model.setup, messages), { addSpecialTokens: false });
  if (tokens.length === 0) throw new ChatError("the chat is empty after rendering and tokenization", "messages");
  return tokens;
}

/** Throws ChatError (fault "messages") unless `tokens` are `messages` rendered (chatPromptMismatch). */
export function assertChatPrompt(model: ChatModel, messages: readonly ChatMessage[], tokens: readonly number[]): void {
  const why = chatPromptMismatch(model, messages, tokens);
  if (why !== undefined) throw new ChatError("the request's prompt tokens are not its messages rendered", "messages", { details: why });
}

/** Do `tokens` equal the tokens `messages` render to? Returns why not, or undefined when they do. */
export function chatPromptMismatch(model: ChatModel, messages: readonly ChatMessage[], tokens: readonly number[]): string | undefined {
  let expected: number[];
  try {
    expected = chatPromptTokens(model, messages);
  } catch (e) {
    return `the request's messages do not render with the model's chat template: ${(e as Error).message.split("\n")[0]}`;
  }
  if (expected.length === tokens.length && expected.every((t, i) => t === tokens[i])) return undefined;
  const at = expected.findIndex((t, i) => t !== tokens[i]);
  return `the prompt tokens (${tokens.length}) are not the request's messages rendered with the model's chat template (${expected.length} tokens, first difference at ${at < 0 ? Math.min(expected.length, tokens.length) : at})`;
}
