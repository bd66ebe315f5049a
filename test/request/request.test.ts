import { expect } from "chai";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  RequestError,
  checkReceiptAgainstJob,
  decodeJobRequest,
  encodeJobRequest,
  fetchJobRequest,
  parseJobRequest,
  requestFromReceipt,
  requestHash,
  requestToDataUri,
  samplerSeedFor,
  type JobRequestInput,
} from "../../offchain/request/index.js";
import type { Receipt } from "../../offchain/receipt/index.js";

const MODEL = `0x${"ab".repeat(32)}`;
const POOL = "0x5FbDB2315678afecb367f032d93F642f64180aa3";

function request(over: Partial<JobRequestInput> = {}): JobRequestInput {
  return {
    version: 1,
    modelId: MODEL,
    promptTokens: [1, 72, 105],
    decoding: { seed: 7n, temperature: 0.8, topK: 40, topP: 0.95, maxTokens: 4, stopAtEos: false },
    sampler: { ratePpm: 62_500, layersPerToken: 2, scope: "all" },
    ...over,
  };
}

function receiptFor(req: JobRequestInput, samplerSeed: string, over: Partial<Receipt> = {}): Receipt {
  const r = parseJobRequest(req);
  return {
    version: 2,
    modelId: r.modelId,
    promptTokens: [...r.promptTokens],
    outputTokens: [5, 6, 7, 8],
    decoding: r.decoding,
    sampler: { seed: samplerSeed as `0x${string}`, ...r.sampler, numLayers: 4 },
    kvDtype: "float32",
    vectorLength: 32,
    samples: [],
    ...over,
  };
}

describe("job request", () => {
  it("carries chat messages: in the encoding only when present, validated, and not rebuilt from a receipt", () => {
    const messages = [{ role: "system" as const, content: "Be brief." }, { role: "user" as const, content: "Hi", name: "ann" }];
    const plain = request();
    const chat = request({ messages });
    const text = new TextDecoder().decode(encodeJobRequest(chat));
    expect(text).to.include(`"promptTokens":[1,72,105],"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi","name":"ann"}],"decoding"`);
    expect(new TextDecoder().decode(encodeJobRequest(plain))).to.not.include("messages");
    expect(requestHash(chat)).to.not.equal(requestHash(plain));
    expect(decodeJobRequest(encodeJobRequest(chat)).messages).to.deep.equal(messages);
    expect(() => parseJobRequest(request({ messages: [] }))).to.throw(RequestError);
    expect(() => parseJobRequest({ ...request(), messages: [{ role: "user", content: 1 }] })).to.throw(RequestError);
    // the receipt has no messages: a verifier must fetch a chat request (and re-render it)
    const seed = samplerSeedFor({ chainId: 31337, pool: POOL, jobId: 1 });
    const receipt = receiptFor(chat, seed);
    expect(requestFromReceipt(receipt, requestHash(chat))).to.equal(undefined);
    expect(requestFromReceipt(receipt, requestHash(plain))).to.not.equal(undefined);
    expect(checkReceiptAgainstJob(receipt, { modelId: MODEL, request: parseJobRequest(chat), samplerSeed: seed }).ok).to.equal(true);
  });

  it("encodes canonically: the same request gives the same bytes and hash", () => {
    const a = encodeJobRequest(request());
    const b = encodeJobRequest(request({ decoding: { seed: "7", temperature: 0.8, topK: 40, topP: 0.95, maxTokens: 4 } }));
    expect(Buffer.from(a).equals(Buffer.from(b))).to.equal(true);
    expect(requestHash(request())).to.match(/^0x[0-9a-f]{64}$/);
    expect(requestHash(request())).to.not.equal(requestHash(request({ promptTokens: [1, 72, 106] })));
    expect(decodeJobRequest(a)).to.deep.equal(parseJobRequest(request()));
  });

  it("rejects an invalid request naming the field", () => {
    expect(() => parseJobRequest(request({ promptTokens: [] }))).to.throw(RequestError, /invalid job request/);
    expect(() => parseJobRequest({ ...request(), extra: 1 })).to.throw(RequestError);
    expect(() => parseJobRequest(request({ modelId: "0x12" }))).to.throw(RequestError);
  });

  it("fetches from data: and file URIs and checks the hash", async () => {
    const h = requestHash(request());
    expect(await fetchJobRequest(requestToDataUri(request()), h)).to.deep.equal(parseJobRequest(request()));
    const dir = await mkdtemp(join(tmpdir(), "poc-req-"));
    const file = join(dir, "req.json");
    await writeFile(file, encodeJobRequest(request()));
    expect((await fetchJobRequest(file, h)).promptTokens).to.deep.equal([1, 72, 105]);
    await writeFile(file, encodeJobRequest(request({ promptTokens: [2] })));
    await fetchJobRequest(file, h).then(
      () => expect.fail("a request that does not hash to the on-chain hash was accepted"),
      (e: unknown) => expect(e).to.be.instanceOf(RequestError).with.property("message").match(/does not match/),
    );
    await fetchJobRequest(join(dir, "missing.json"), h).then(
      () => expect.fail("a missing file was accepted"),
      (e: unknown) => expect(e).to.be.instanceOf(RequestError),
    );
  });

  it("derives the sampler seed from chain, pool and job only", () => {
    const a = samplerSeedFor({ chainId: 31337, pool: POOL, jobId: 1 });
    expect(a).to.equal(samplerSeedFor({ chainId: 31337n, pool: POOL.toLowerCase(), jobId: 1n }));
    expect(a).to.not.equal(samplerSeedFor({ chainId: 31337, pool: POOL, jobId: 2 }));
    expect(a).to.not.equal(samplerSeedFor({ chainId: 1, pool: POOL, jobId: 1 }));
  });

  describe("checkReceiptAgainstJob", () => {
    const seed = samplerSeedFor({ chainId: 31337, pool: POOL, jobId: 1 });
    const job = { modelId: MODEL, request: parseJobRequest(request()), samplerSeed: seed };

    it("accepts a receipt that answers exactly the request", () => {
      expect(checkReceiptAgainstJob(receiptFor(request(), seed), job)).to.deep.equal({ ok: true });
    });

    const cases: [string, Partial<Receipt>, RegExp][] = [
      ["another model", { modelId: `0x${"cd".repeat(32)}` }, /model/],
      ["another prompt", { promptTokens: [1, 72, 106] }, /prompt/],
      ["another decoding seed", { decoding: { ...parseJobRequest(request()).decoding, seed: 8n } }, /decoding/],
      ["another sampler seed", { sampler: { seed: `0x${"00".repeat(32)}`, ratePpm: 62_500, layersPerToken: 2, scope: "all", numLayers: 4, projectionDim: 32, minPositions: 4 } }, /sampler seed/],
      ["another sampling rate", { sampler: { seed, ratePpm: 1_000, layersPerToken: 2, scope: "all", numLayers: 4, projectionDim: 32, minPositions: 4 } }, /sampler configuration/],
      ["a smaller evidence floor", { sampler: { seed, ratePpm: 62_500, layersPerToken: 2, scope: "all", numLayers: 4, projectionDim: 32, minPositions: 0 } }, /sampler configuration/],
      ["full rows instead of projections", { sampler: { seed, ratePpm: 62_500, layersPerToken: 2, scope: "all", numLayers: 4, projectionDim: 0, minPositions: 4 }, vectorLength: 8 }, /sampler configuration/],
      ["a truncated answer", { outputTokens: [5, 6] }, /output tokens/],
    ];
    for (const [name, over, re] of cases) {
      it(`rejects a receipt with ${name}`, () => {
        const r = checkReceiptAgainstJob(receiptFor(request(), seed, over), job);
        expect(r.ok).to.equal(false);
        if (!r.ok) expect(r.reason).to.match(re);
      });
    }
  });
});
