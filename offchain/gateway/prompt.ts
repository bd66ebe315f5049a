/**
 * Chat messages and completion prompts → prompt tokens, for the gateway.
 *
 * - **Chat**: the OpenAI messages become plain `{role, content, name?}` messages (text content parts
 *   joined), rendered and tokenized by the shared offchain/model/chat.ts (the model's chat template,
 *   or its fallback) — the same code the generator and the verifiers re-render with. The job request
 *   then carries those messages next to the prompt tokens (docs/PROTOCOL.md "Chat requests").
 * - **Completion**: a prompt string is tokenized with the tokenizer's special tokens (e.g. `<bos>`
 *   first); a list of token ids is taken as is.
 */
import { ChatError, type ChatMessage as PlainMessage, type TokenizerSetup, renderChat as renderPlainChat } from "../model/chat.js";
import type { TextTokenizer } from "../model/tokenizer.js";
import { badRequest } from "./errors.js";
import { type ChatMessage, messageText } from "./openai-schema.js";

export { FALLBACK_CHAT_TEMPLATE } from "../model/chat.js";

export interface PromptModel {
  tokenizer: TextTokenizer;
  /** tokenizer_config.json's chat_template, if any. */
  chatTemplate?: string | undefined;
  bosToken?: string | undefined;
  eosToken?: string | undefined;
  vocabSize: number | null;
}

/** OpenAI messages as the job request carries them (text content only). */
export function plainMessages(messages: readonly ChatMessage[]): PlainMessage[] {
  return messages.map((m, i) => ({ role: m.role, content: messageText(m, i), ...(m.name ? { name: m.name } : {}) }));
}

/** The chat as text (module comment). */
export function renderChat(model: Pick<PromptModel, "chatTemplate" | "bosToken" | "eosToken">, messages: readonly ChatMessage[]): string {
  const setup: Pick<TokenizerSetup, "chatTemplate" | "bosToken" | "eosToken"> = { chatTemplate: model.chatTemplate, bosToken: model.bosToken, eosToken: model.eosToken };
  try {
    return renderPlainChat(setup, plainMessages(messages));
  } catch (e) {
    if (e instanceof ChatError) throw badRequest(e.shortMessage, e.fault === "template" ? "model" : "messages", "chat_template_error");
    throw e;
  }
}

function checkTokens(model: PromptModel, tokens: readonly number[], param: string): number[] {
  if (tokens.length === 0) throw badRequest("the prompt is empty after tokenization", param);
  if (model.vocabSize !== null) {
    const bad = tokens.find((t) => t >= model.vocabSize!);
    if (bad !== undefined) throw badRequest(`prompt token ${bad} is outside the model's vocabulary of ${model.vocabSize}`, param);
  }
  return [...tokens];
}

/** Prompt tokens of a chat (module comment). */
export function chatPromptTokens(model: PromptModel, messages: readonly ChatMessage[]): number[] {
  return checkTokens(model, model.tokenizer.encode(renderChat(model, messages), { addSpecialTokens: false }), "messages");
}

/** Prompt tokens of a completion prompt (module comment). */
export function completionPromptTokens(model: PromptModel, prompt: string | string[] | number[] | number[][]): number[] {
  const one = Array.isArray(prompt) ? prompt[0]! : prompt;
  if (typeof one === "number") return checkTokens(model, prompt as number[], "prompt");
  if (Array.isArray(one)) return checkTokens(model, one, "prompt");
  return checkTokens(model, model.tokenizer.encode(one, { addSpecialTokens: true }), "prompt");
}

/**
 * Decodes a growing token list into text deltas: a delta is only given up to the last complete
 * character (a byte-level token may end inside a UTF-8 sequence: U+FFFD at the end is held back).
 */
export class IncrementalDecoder {
  readonly #tok: TextTokenizer;
  readonly #tokens: number[] = [];
  #emitted = 0;
  constructor(tok: TextTokenizer) {
    this.#tok = tok;
  }
  /** Add tokens; returns the new complete text. */
  push(...tokens: number[]): string {
    this.#tokens.push(...tokens);
    let text = this.#tok.decode(this.#tokens);
    while (text.endsWith("\uFFFD")) text = text.slice(0, -1);
    if (text.length <= this.#emitted) return "";
    const delta = text.slice(this.#emitted);
    this.#emitted = text.length;
    return delta;
  }
  /** At the end: what was held back (a trailing incomplete character, as U+FFFD). */
  flush(): string {
    const text = this.#tok.decode(this.#tokens);
    const delta = text.length > this.#emitted ? text.slice(this.#emitted) : "";
    this.#emitted = Math.max(this.#emitted, text.length);
    return delta;
  }
  /** The whole text (a trailing incomplete character included, as U+FFFD). */
  text(): string {
    return this.#tok.decode(this.#tokens);
  }
}

/**
 * `stop` strings over a text that grows: the text up to (not including) the first stop string;
 * while streaming, the longest tail that could begin a stop string is held back.
 */
export class StopFilter {
  readonly #stops: string[];
  #text = "";
  #sent = 0;
  #stopped = false;
  constructor(stops: readonly string[]) {
    this.#stops = [...stops];
  }
  get stopped(): boolean {
    return this.#stopped;
  }
  /** Add text; returns what can be sent now. */
  push(delta: string): string {
    if (this.#stopped) return "";
    this.#text += delta;
    let cut = -1;
    for (const s of this.#stops) {
      const i = this.#text.indexOf(s);
      if (i >= 0 && (cut < 0 || i < cut)) cut = i;
    }
    if (cut >= 0) {
      this.#stopped = true;
      this.#text = this.#text.slice(0, cut);
      return this.#take(this.#text.length);
    }
    let hold = 0;
    for (const s of this.#stops)
      for (let k = Math.min(s.length - 1, this.#text.length); k > hold; k--) if (this.#text.endsWith(s.slice(0, k))) hold = k;
    return this.#take(this.#text.length - hold);
  }
  /** The end of the text: everything held back is released. */
  end(): string {
    return this.#take(this.#text.length);
  }
  /** The text so far (stop string and what follows removed). */
  text(): string {
    return this.#text;
  }
  #take(upTo: number): string {
    if (upTo <= this.#sent) return "";
    const out = this.#text.slice(this.#sent, upTo);
    this.#sent = upTo;
    return out;
  }
}
