/**
 * Tokenizers: the byte-level tokenizer written for built models, and a small wrapper over
 * @huggingface/tokenizers for any `tokenizer.json` (+ optional `tokenizer_config.json`).
 *
 * The byte-level tokenizer is a GPT-2 style ByteLevel BPE without merges: token id b (0..255) is
 * the byte b, so any text round-trips through its UTF-8 bytes; then the specials <bos>, <eos>,
 * <pad>. Its post-processor prepends <bos> when special tokens are requested.
 */
import { Tokenizer as HfTokenizer } from "@huggingface/tokenizers";

export const BYTE_SPECIALS = ["<bos>", "<eos>", "<pad>"] as const;
export const BYTE_BOS_ID = 256;
export const BYTE_EOS_ID = 257;
export const BYTE_PAD_ID = 258;
export const BYTE_VOCAB_SIZE = 256 + BYTE_SPECIALS.length;

/** GPT-2's reversible byte -> printable unicode character map. */
export function bytesToUnicode(): string[] {
  const bs: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  const map: string[] = new Array(256);
  for (const b of bs) map[b] = String.fromCodePoint(b);
  let n = 0;
  for (let b = 0; b < 256; b++) if (map[b] === undefined) map[b] = String.fromCodePoint(256 + n++);
  return map;
}

export function byteLevelTokenizerJson(): object {
  const chars = bytesToUnicode();
  const vocab: Record<string, number> = {};
  chars.forEach((c, b) => (vocab[c] = b));
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: BYTE_SPECIALS.map((content, k) => ({
      id: 256 + k,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: null,
    pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: false },
    post_processor: {
      type: "TemplateProcessing",
      single: [{ SpecialToken: { id: "<bos>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }],
      pair: [
        { SpecialToken: { id: "<bos>", type_id: 0 } },
        { Sequence: { id: "A", type_id: 0 } },
        { SpecialToken: { id: "<bos>", type_id: 1 } },
        { Sequence: { id: "B", type_id: 1 } },
      ],
      special_tokens: { "<bos>": { id: "<bos>", ids: [BYTE_BOS_ID], tokens: ["<bos>"] } },
    },
    decoder: { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: false },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: [],
    },
  };
}

export function byteLevelTokenizerConfig(maxLength: number): object {
  return {
    tokenizer_class: "PreTrainedTokenizerFast",
    bos_token: "<bos>",
    eos_token: "<eos>",
    pad_token: "<pad>",
    add_bos_token: true,
    add_eos_token: false,
    clean_up_tokenization_spaces: false,
    model_max_length: maxLength,
  };
}

/** What the rest of the code uses of a tokenizer. */
export interface TextTokenizer {
  /**
   * Text -> token ids. Special tokens (e.g. <bos>) are added only when asked (default: none).
   * As in Hugging Face tokenizers, the literal text of a special token ("<eos>") maps to that token.
   */
  encode(text: string, options?: { addSpecialTokens?: boolean }): number[];
  /** Token ids -> text. Special tokens are skipped unless `skipSpecialTokens: false`. */
  decode(ids: readonly number[], options?: { skipSpecialTokens?: boolean }): string;
  /** The id of one token's text (a special token's content, or a vocabulary entry); undefined when unknown. */
  tokenToId(token: string): number | undefined;
}

export function wrapTokenizer(tokenizerJson: object, tokenizerConfig: object): TextTokenizer {
  const tok = new HfTokenizer(tokenizerJson, tokenizerConfig);
  return {
    encode: (text, options) => tok.encode(text, { add_special_tokens: options?.addSpecialTokens ?? false }).ids,
    decode: (ids, options) =>
      ids.length === 0 ? "" : tok.decode([...ids], { skip_special_tokens: options?.skipSpecialTokens ?? true }),
    tokenToId: (token) => tok.token_to_id(token),
  };
}
