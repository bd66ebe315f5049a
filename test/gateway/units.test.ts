/**
 * The gateway's pure parts: prompt rendering (the fallback template, a model's own Jinja chat
 * template), the incremental decoder (no half characters in a delta), stop strings (held back while
 * they may still begin, cut where they occur), generator ranking and `--generator` flags, the job's
 * amounts against the pool's rules, the SSE parser, and the body schemas.
 */
import { expect } from "chai";
import { byteLevelTokenizerConfig, byteLevelTokenizerJson, wrapTokenizer } from "../../offchain/model/tokenizer.js";
import { FALLBACK_CHAT_TEMPLATE, IncrementalDecoder, StopFilter, chatPromptTokens, completionPromptTokens, renderChat, type PromptModel } from "../../offchain/gateway/prompt.js";
import { EMPTY_RECORD, parseGeneratorFlag, rankListings, type GeneratorListing } from "../../offchain/gateway/directory.js";
import { costProblem, costsOf, jobCosts } from "../../offchain/gateway/amounts.js";
import { chatRequestSchema, completionRequestSchema, parseBody } from "../../offchain/gateway/openai-schema.js";
import { GatewayError } from "../../offchain/gateway/errors.js";
import { challengeReason, DEFAULT_POLICIES } from "../../offchain/gateway/policies.js";
import { withJob } from "../../offchain/gateway/job-runner.js";
import { WORKER_TEST_PARAMS, E18 } from "../worker/helpers.js";

const tokenizer = wrapTokenizer(byteLevelTokenizerJson(), byteLevelTokenizerConfig(1024));
const byteModel: PromptModel = { tokenizer, bosToken: "<bos>", eosToken: "<eos>", vocabSize: 259 };

describe("gateway parts", function () {
  describe("prompts", () => {
    it("renders a chat with the fallback template when the model has none: <bos>, role: content lines, then assistant:", () => {
      const msgs = [
        { role: "system" as const, content: "Be brief." },
        { role: "user" as const, content: [{ type: "text" as const, text: "Hi" }, { type: "text" as const, text: "!" }] },
      ];
      expect(renderChat(byteModel, msgs)).to.equal("<bos>system: Be brief.\nuser: Hi!\nassistant:");
      const tokens = chatPromptTokens(byteModel, msgs);
      expect(tokens[0]).to.equal(256); // the literal <bos> is the special token
      expect(tokens.slice(1)).to.deep.equal([...Buffer.from("system: Be brief.\nuser: Hi!\nassistant:")]);
      expect(FALLBACK_CHAT_TEMPLATE).to.include("add_generation_prompt");
    });

    it("renders the model's own chat_template with Jinja", () => {
      const m: PromptModel = { ...byteModel, chatTemplate: "{% for m in messages %}<|{{ m.role }}|>{{ m.content | upper }}{{ eos_token }}{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}" };
      expect(renderChat(m, [{ role: "user", content: "hey" }])).to.equal("<|user|>HEY<eos><|assistant|>");
      expect(chatPromptTokens(m, [{ role: "user", content: "hey" }])).to.include(257);
    });

    it("refuses a broken template and non-text content parts with a 400", () => {
      const bad: PromptModel = { ...byteModel, chatTemplate: "{% for m in messages %}" };
      expect(() => renderChat(bad, [{ role: "user", content: "x" }])).to.throw(GatewayError).with.property("status", 400);
      expect(() => renderChat(byteModel, [{ role: "user", content: [{ type: "image_url" }] }])).to.throw(GatewayError, /text only/);
    });

    it("tokenizes a completion prompt with <bos>, takes token ids as they are, and refuses ids outside the vocabulary", () => {
      expect(completionPromptTokens(byteModel, "ab")).to.deep.equal([256, 97, 98]);
      expect(completionPromptTokens(byteModel, [5, 6])).to.deep.equal([5, 6]);
      expect(completionPromptTokens(byteModel, [[7]])).to.deep.equal([7]);
      expect(() => completionPromptTokens(byteModel, [300])).to.throw(GatewayError, /vocabulary/);
    });

    it("the incremental decoder never cuts a UTF-8 character, and its deltas concatenate to the full text", () => {
      const bytes = [...Buffer.from("é€😀 ok")];
      const d = new IncrementalDecoder(tokenizer);
      const deltas = bytes.map((b) => d.push(b));
      deltas.push(d.flush());
      for (const x of deltas) expect(x).to.not.include("\uFFFD");
      expect(deltas.join("")).to.equal("é€😀 ok");
      expect(deltas[0]).to.equal(""); // the first byte of é alone is held back
    });

    it("a stop string is held back while it may still begin, and the text ends where it occurs", () => {
      const f = new StopFilter(["END"]);
      const out = [f.push("abc E"), f.push("N"), f.push("Dxyz"), f.end()];
      expect(out).to.deep.equal(["abc ", "", "", ""]);
      expect(f.stopped).to.equal(true);
      expect(f.text()).to.equal("abc ");
      const g = new StopFilter(["END"]);
      expect([g.push("abc E"), g.push("x"), g.end()].join("")).to.equal("abc Ex");
      expect(g.stopped).to.equal(false);
      const h = new StopFilter(["b", "zz"]);
      expect(h.push("azzb")).to.equal("a");
    });
  });

  describe("generators", () => {
    const l = (address: string, price: bigint, record = EMPTY_RECORD, models = ["*"]): GeneratorListing => ({ address, endpoint: "http://x", models, pricePerToken: price, record: { ...record } });
    it("ranks by price, then by the share of slashed, forfeited and skipped jobs; filters by model and maximum price", () => {
      const a = l("0x" + "a".repeat(40), 2n);
      const b = l("0x" + "b".repeat(40), 1n, { ...EMPTY_RECORD, jobs: 10, slashed: 5 });
      const c = l("0x" + "c".repeat(40), 1n, { ...EMPTY_RECORD, jobs: 10, skipped: 1 });
      const d = l("0x" + "d".repeat(40), 1n, EMPTY_RECORD, ["0x" + "11".repeat(32)]);
      expect(rankListings([a, b, c, d], "0x" + "22".repeat(32)).map((x) => x.address)).to.deep.equal([c.address, b.address, a.address]);
      expect(rankListings([a, b, c, d], "0x" + "11".repeat(32)).map((x) => x.address)).to.deep.equal([d.address, c.address, b.address, a.address]);
      expect(rankListings([a, b], "0x" + "22".repeat(32), { maxPrice: 1n }).map((x) => x.address)).to.deep.equal([b.address]);
    });
    it("parses --generator ADDRESS=URL[,PRICE] and refuses malformed ones", () => {
      const o = { defaultPrice: 5n, parsePrice: (s: string) => BigInt(s) * 10n };
      const g = parseGeneratorFlag("0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc=http://127.0.0.1:8547/", o);
      expect(g.address).to.equal("0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC");
      expect(g.endpoint).to.equal("http://127.0.0.1:8547");
      expect(g.pricePerToken).to.equal(5n);
      expect(parseGeneratorFlag("0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc=http://h:1,3", o).pricePerToken).to.equal(30n);
      expect(() => parseGeneratorFlag("0x123=http://h", o)).to.throw(/ADDRESS=URL/);
      expect(() => parseGeneratorFlag("0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc=ftp://h", o)).to.throw(/http/);
    });
  });

  describe("amounts", () => {
    const p = WORKER_TEST_PARAMS; // α 0.5, β 1.5, minBond 10, maxStakeBps 50 %: βCv ≤ 5 tokens
    it("Cg = price × max_tokens, Cv = a tenth of it by default, with the pool's rounding", () => {
      const c = jobCosts(p, { pricePerToken: E18 / 10n, maxTokens: 8 });
      expect(c.cg).to.equal((8n * E18) / 10n);
      expect(c.cv).to.equal((8n * E18) / 100n);
      expect(c.deposit).to.equal(c.alphaCg + c.alphaCv);
      expect(c.alphaCg).to.equal(c.cg / 2n);
    });
    it("lowers a fractional Cv to the largest βCv the pool allows", () => {
      const c = jobCosts(p, { pricePerToken: 10n * E18, maxTokens: 100, cvFraction: 0.3 });
      expect(c.betaCv).to.be.at.most(5n * E18);
      expect(costProblem(p, c)).to.equal(undefined);
    });
    it("refuses amounts the pool would refuse (cost ratio, zero α amounts) with a 400 naming the rule", () => {
      expect(() => jobCosts(p, { pricePerToken: E18 / 5n, maxTokens: 10, cv: (3n * E18) / 2n })).to.throw(GatewayError, /βCg .* must exceed 2αCv \+ βCv/);
      expect(() => jobCosts(p, { pricePerToken: 1n, maxTokens: 1 })).to.throw(GatewayError, /positive/);
      expect(costProblem(p, costsOf(p, 10n * E18, 20n * E18))).to.match(/exceed|exceeds/);
    });
  });

  describe("wire", () => {
    it("validates bodies: seeds as uint64, up to 4 stop strings, n = 1, a single prompt", () => {
      const ok = parseBody(chatRequestSchema, { model: "m", messages: [{ role: "user", content: "x" }], seed: "18446744073709551615", stop: ["a", "b"] });
      expect(ok.seed).to.equal(2n ** 64n - 1n);
      expect(() => parseBody(chatRequestSchema, { model: "m", messages: [{ role: "user", content: "x" }], seed: "18446744073709551616" })).to.throw(GatewayError, /seed/);
      expect(() => parseBody(chatRequestSchema, { model: "m", messages: [{ role: "user", content: "x" }], stop: ["a", "b", "c", "d", "e"] })).to.throw(GatewayError, /stop/);
      expect(() => parseBody(completionRequestSchema, { model: "m", prompt: ["a", "b"] })).to.throw(GatewayError, /one string/);
      expect(() => parseBody(chatRequestSchema, [])).to.throw(GatewayError, /JSON object/);
      try {
        parseBody(chatRequestSchema, { messages: [{ role: "user", content: "x" }] });
        expect.fail("no error");
      } catch (e) {
        expect((e as GatewayError).param).to.equal("model");
        expect((e as GatewayError).code).to.equal("missing_required_parameter");
      }
    });
    it("adds ?job=ID to a committed http receipt URI that lacks it, and leaves others alone", () => {
      expect(withJob("http://g:1/receipts/0xab", 7n)).to.equal("http://g:1/receipts/0xab?job=7");
      expect(withJob("http://g:1/receipts/0xab?job=7", 9n)).to.equal("http://g:1/receipts/0xab?job=7");
      expect(withJob("file:///tmp/r.pocr", 7n)).to.equal("file:///tmp/r.pocr");
    });
    it("challenge policies: a mismatch only with challengeOnMismatch, a local disagreement only with verify, spot checks by fraction", () => {
      const p = DEFAULT_POLICIES;
      expect(challengeReason(p, { problems: ["x"], localVerdict: { agrees: false }, draw: 0 })).to.equal(null);
      expect(challengeReason({ ...p, challengeOnMismatch: true }, { problems: ["x"] })).to.equal("mismatch");
      expect(challengeReason({ ...p, verifyLocally: true }, { problems: [], localVerdict: { agrees: false } })).to.equal("local-verify");
      expect(challengeReason({ ...p, challengeFraction: 0.25 }, { problems: [], draw: 0.2 })).to.equal("spot-check");
      expect(challengeReason({ ...p, challengeFraction: 0.25 }, { problems: [], draw: 0.3 })).to.equal(null);
    });
  });
});

