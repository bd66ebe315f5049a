/**
 * `poc gateway` (offchain/gateway) end to end on Hardhat's in-process network with the tiny model and
 * protocol-faithful fake generators (fake-generator.ts): the official `openai` client gets chat and
 * text completions, streamed and not, each one a private job whose committed receipt holds exactly
 * the returned text; errors come in OpenAI's shape; a generator that never commits is replaced by
 * the next one; a generator whose stream differs from its commitment, or that ran another model, is
 * caught and challenged under the policies; the settle policy finalizes, cancels and withdraws.
 */
import { expect } from "chai";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { network } from "hardhat";
import OpenAI, { APIError } from "openai";
import { hexlify, toUtf8Bytes, type Signer } from "ethers";
import { JobState, PoolClient } from "../../offchain/chain/index.js";
import { buildModel, loadModel, type LoadedModel } from "../../offchain/model/index.js";
import { ReceiptStore, decodeReceipt, receiptRoot } from "../../offchain/receipt/index.js";
import { signAccess } from "../../offchain/transport/auth.js";
import { Mutex } from "../../offchain/worker/queue.js";
import { JobRunner, type ProofOfCache } from "../../offchain/gateway/job-runner.js";
import { ModelCatalog, openGatewayModel, type GatewayModel } from "../../offchain/gateway/models.js";
import { StaticDirectory, EMPTY_RECORD, rankListings, type GeneratorListing } from "../../offchain/gateway/directory.js";
import { RecordedDirectory, generatorRecords } from "../../offchain/gateway/records.js";
import { httpGeneratorLink } from "../../offchain/gateway/generator-link.js";
import { DEFAULT_POLICIES, type GatewayPolicies } from "../../offchain/gateway/policies.js";
import { startGatewayServer, type GatewayServer } from "../../offchain/gateway/server.js";
import { Settler } from "../../offchain/gateway/settle.js";
import { PRIVATE_REQUEST_URI } from "../../offchain/gateway/open-job.js";
import { E18, WORKER_TEST_PARAMS, bondVerifiers, deployTestPool } from "../worker/helpers.js";
import { startFakeGenerator, type FakeBehaviour, type FakeGenerator } from "./fake-generator.js";

const connection = await network.create();
const { ethers, networkHelpers } = connection;
const PRICE = E18 / 10n; // 0.1 token per generated token

type WithPoc = { proof_of_cache: ProofOfCache };
const pocOf = (x: unknown) => (x as WithPoc).proof_of_cache;

describe("gateway (OpenAI-compatible, one job per completion)", function () {
  this.timeout(120_000);
  let tmp: string;
  let model: LoadedModel;
  let substitute: LoadedModel;
  let gwModel: GatewayModel;
  let client: PoolClient;
  let user: Signer;
  let userClient: PoolClient;
  const fakes = new Map<FakeBehaviour, FakeGenerator>();
  const servers: GatewayServer[] = [];
  let gstore: ReceiptStore;

  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), "poc-gateway-test-"));
    await buildModel(join(tmp, "models", "tiny"), { preset: "tiny" });
    await buildModel(join(tmp, "other", "tiny-7"), { preset: "tiny", weightSeed: 7 });
    model = await loadModel(join(tmp, "models", "tiny"), { threads: 1 });
    substitute = await loadModel(join(tmp, "other", "tiny-7"), { threads: 1 });
    const signers = await ethers.getSigners();
    const owner = signers[0]!;
    user = signers[1]!;
    const d = await deployTestPool(ethers, owner.address, WORKER_TEST_PARAMS);
    client = await PoolClient.create({ runner: ethers.provider, pool: d.poolAddress, deployBlock: d.deployBlock, pollMs: 20 });
    await bondVerifiers(client, signers.slice(3, 8), [model.modelId]);
    userClient = client.connect(user);
    const behaviours: FakeBehaviour[] = ["honest", "never-commit", "lie", "substitute"];
    for (let i = 0; i < behaviours.length; i++) {
      const s = signers[10 + i]!;
      await client.connect(owner).mintTestTokens(s.address, 1000n * E18);
      const store = new ReceiptStore(join(tmp, `gen-${i}`));
      fakes.set(behaviours[i]!, await startFakeGenerator({ client: client.connect(s), model, store, behaviour: behaviours[i]!, substitute }));
    }
    gwModel = { ...(await openGatewayModel(join(tmp, "models", "tiny"))), loaded: model };
    gstore = new ReceiptStore(join(tmp, "gateway-receipts"));
  });

  after(async () => {
    for (const s of servers) await s.close();
    for (const f of fakes.values()) await f.close();
    await model?.release();
    await substitute?.release();
    await rm(tmp, { recursive: true, force: true });
  });

  const listing = (b: FakeBehaviour, price = PRICE): GeneratorListing => ({
    address: fakes.get(b)!.address,
    endpoint: fakes.get(b)!.url,
    models: ["*"],
    pricePerToken: price,
    record: { ...EMPTY_RECORD },
  });

  async function gateway(o: { listings: GeneratorListing[]; policies?: Partial<GatewayPolicies>; commitTimeoutMs?: number; settler?: Settler; apiKey?: string; host?: string; models?: GatewayModel[] }) {
    const runner = new JobRunner({
      client: userClient,
      directory: new StaticDirectory(o.listings),
      link: httpGeneratorLink,
      policies: { ...DEFAULT_POLICIES, ...o.policies },
      costs: { cvFraction: 0.1 },
      commitTimeoutMs: o.commitTimeoutMs ?? 30_000,
      store: gstore,
      mint: true,
      txMutex: new Mutex(),
      pollMs: 20,
      ...(o.settler ? { settler: o.settler } : {}),
    });
    const server = await startGatewayServer({ catalog: new ModelCatalog(o.models ?? [gwModel]), runner, defaultMaxTokens: 8, receipts: { store: gstore, client: userClient }, ...(o.apiKey ? { apiKey: o.apiKey } : {}), ...(o.host ? { host: o.host } : {}) });
    servers.push(server);
    return { server, openai: new OpenAI({ baseURL: `${server.url}/v1`, apiKey: o.apiKey ?? "unused", maxRetries: 0 }) };
  }

  /** The committed receipt of a job (from the gateway's own copy, checked against the on-chain root). */
  async function committedReceipt(jobId: string) {
    const { committed, opened } = await client.jobRecord(BigInt(jobId));
    expect(committed, `job ${jobId} committed`).to.not.equal(undefined);
    const receipt = decodeReceipt(await gstore.get(committed!.receiptRoot));
    return { receipt, committed: committed!, opened: opened!, text: model.tokenizer.decode(receipt.outputTokens) };
  }

  it("answers a chat completion through the openai client, as a private job whose receipt holds the returned text", async () => {
    const { openai } = await gateway({ listings: [listing("honest")] });
    const prompt = "Hi there, secret prompt";
    const c = await openai.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: prompt }], max_tokens: 8, seed: 7 });
    expect(c.object).to.equal("chat.completion");
    expect(c.choices[0]!.message.role).to.equal("assistant");
    const poc = pocOf(c);
    expect(poc.jobId).to.match(/^\d+$/);
    expect(poc.generator).to.equal(fakes.get("honest")!.address);
    const { receipt, committed, opened, text } = await committedReceipt(poc.jobId);
    expect(c.choices[0]!.message.content).to.equal(text);
    expect(poc.receiptRoot).to.equal(committed.receiptRoot);
    expect(poc.transactions.open).to.equal(opened.transactionHash);
    expect(poc.transactions.commit).to.equal(committed.transactionHash);
    expect(poc.state).to.equal("Committed");
    expect(poc.checks).to.deep.equal({ receiptMatchesRoot: true, receiptAnswersJob: true, streamMatchesReceipt: true });
    expect(poc.problems).to.deep.equal([]);
    expect(c.usage!.completion_tokens).to.equal(receipt.outputTokens.length);
    expect(c.usage!.prompt_tokens).to.equal(receipt.promptTokens.length);
    expect(receipt.decoding.seed).to.equal(7n);
    expect(receipt.decoding.maxTokens).to.equal(8);
    // private: only the hash is on-chain; the prompt text is in no calldata or event
    expect(opened.requestUri).to.equal(PRIVATE_REQUEST_URI);
    const tx = await ethers.provider.getTransaction(opened.transactionHash);
    const promptHex = hexlify(toUtf8Bytes("secret prompt")).slice(2);
    expect(tx!.data.toLowerCase()).to.not.include(promptHex);
    const logs = await ethers.provider.getLogs({ address: client.address, fromBlock: 0 });
    for (const l of logs) expect(l.data.toLowerCase()).to.not.include(promptHex);
  });

  it("streams a chat completion (stream: true) whose deltas concatenate to the committed text", async () => {
    const { openai } = await gateway({ listings: [listing("honest")] });
    const stream = await openai.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: "Stream me" }], max_tokens: 10, seed: 3, stream: true, stream_options: { include_usage: true } });
    let text = "";
    let chunks = 0;
    let last: unknown;
    let finish: string | null = null;
    let usage: unknown;
    for await (const chunk of stream) {
      expect(chunk.object).to.equal("chat.completion.chunk");
      chunks++;
      const ch = chunk.choices[0];
      if (ch?.delta.content) text += ch.delta.content;
      if (ch?.finish_reason) {
        finish = ch.finish_reason;
        last = chunk;
      }
      if (chunk.usage) usage = chunk.usage;
    }
    expect(chunks).to.be.greaterThan(2);
    expect(finish).to.be.oneOf(["stop", "length"]);
    const poc = pocOf(last);
    const { text: committedText, receipt } = await committedReceipt(poc.jobId);
    expect(text).to.equal(committedText);
    expect(poc.checks.streamMatchesReceipt).to.equal(true);
    expect((usage as { completion_tokens: number }).completion_tokens).to.equal(receipt.outputTokens.length);
  });

  it("answers /v1/completions, plain and streamed, and cuts the text at a stop string", async () => {
    const { openai } = await gateway({ listings: [listing("honest")] });
    const c = await openai.completions.create({ model: "tiny", prompt: "Once upon", max_tokens: 6, seed: 11 });
    expect(c.object).to.equal("text_completion");
    const { text, receipt } = await committedReceipt(pocOf(c).jobId);
    expect(c.choices[0]!.text).to.equal(text);
    expect(receipt.promptTokens[0]).to.equal(256); // <bos>, then the bytes of the prompt
    expect(receipt.promptTokens.slice(1)).to.deep.equal([...Buffer.from("Once upon")]);

    const s = await openai.completions.create({ model: "tiny", prompt: "Once upon", max_tokens: 6, seed: 11, stream: true });
    let streamed = "";
    for await (const chunk of s) streamed += chunk.choices[0]?.text ?? "";
    expect(streamed).to.equal(text); // same request, same seed → same tokens

    // a stop string taken from the text cuts it there; the receipt keeps every token
    const chars = [...text];
    const k = chars.findIndex((ch, i) => i > 0 && ch.trim() !== "" && ch !== "\uFFFD");
    expect(k, `a usable stop character in ${JSON.stringify(text)}`).to.be.greaterThan(0);
    const stop = chars[k]!;
    const cut = await openai.completions.create({ model: "tiny", prompt: "Once upon", max_tokens: 6, seed: 11, stop });
    expect(cut.choices[0]!.text).to.equal(text.slice(0, text.indexOf(stop)));
    expect(cut.choices[0]!.finish_reason).to.equal("stop");
    expect((await committedReceipt(pocOf(cut).jobId)).receipt.outputTokens).to.have.length(receipt.outputTokens.length);
  });

  it("lists its models (GET /v1/models) with their model ids", async () => {
    const { openai } = await gateway({ listings: [listing("honest")] });
    const list = await openai.models.list();
    const ids = list.data.map((m) => m.id);
    expect(ids).to.deep.equal(["tiny"]);
    expect((list.data[0] as unknown as { proof_of_cache: { modelId: string } }).proof_of_cache.modelId).to.equal(model.modelId.toLowerCase());
    expect((await openai.models.retrieve("tiny")).id).to.equal("tiny");
  });

  it("answers bad requests in OpenAI's error shape with the right statuses, and the openai client raises APIError", async () => {
    const { server, openai } = await gateway({ listings: [listing("honest")] });
    const post = (body: string) => fetch(`${server.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body });
    const bad = await post("{not json");
    expect(bad.status).to.equal(400);
    const badBody = (await bad.json()) as { error: Record<string, unknown> };
    expect(Object.keys(badBody.error).sort()).to.deep.equal(["code", "message", "param", "type"]);
    expect(badBody.error.type).to.equal("invalid_request_error");
    expect(badBody.error.code).to.equal("invalid_json");

    const missing = await post(JSON.stringify({ model: "tiny" }));
    expect(missing.status).to.equal(400);
    expect(((await missing.json()) as { error: { param: string } }).error.param).to.equal("messages");

    const expectApiError = async (p: Promise<unknown>, status: number, code: string) => {
      try {
        await p;
      } catch (e) {
        expect(e).to.be.instanceOf(APIError);
        expect((e as APIError).status).to.equal(status);
        expect((e as APIError).code).to.equal(code);
        return;
      }
      expect.fail(`expected an APIError ${status}`);
    };
    await expectApiError(openai.chat.completions.create({ model: "gpt-nothing", messages: [{ role: "user", content: "x" }] }), 404, "model_not_found");
    await expectApiError(openai.chat.completions.create({ model: "tiny", messages: [] }), 400, "invalid_value");
    await expectApiError(openai.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: "x" }], n: 2 }), 400, "invalid_value");
    await expectApiError(openai.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: "x" }], max_tokens: 100_000 }), 400, "context_length_exceeded");
    const none = await gateway({ listings: [] });
    await expectApiError(none.openai.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: "x" }] }), 503, "no_generator");
    await expectApiError(none.openai.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: "x" }], stream: true }), 503, "no_generator");
    // a model no verifier serves: the pool refuses jobs for it
    const lonely = await gateway({ listings: [listing("honest")], models: [await openGatewayModel(join(tmp, "other", "tiny-7"))] });
    await expectApiError(lonely.openai.chat.completions.create({ model: "tiny-7", messages: [{ role: "user", content: "x" }], max_tokens: 4 }), 503, "model_underserved");
    const refused = await fetch(`${server.url}/v1/models`, { headers: { origin: "https://evil.example" } });
    expect(refused.status).to.equal(403);
  });

  it("with an API key, refuses clients without it (401 invalid_api_key); refuses to listen beyond loopback without one", async () => {
    const { server, openai } = await gateway({ listings: [listing("honest")], apiKey: "s3cret" });
    expect((await openai.models.list()).data).to.have.length(1);
    const wrong = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "guess", maxRetries: 0 });
    try {
      await wrong.models.list();
      expect.fail("no error");
    } catch (e) {
      expect(e).to.be.instanceOf(APIError);
      expect((e as APIError).status).to.equal(401);
      expect((e as APIError).code).to.equal("invalid_api_key");
    }
    let refused: unknown;
    await gateway({ listings: [], host: "0.0.0.0" }).catch((e: unknown) => (refused = e));
    expect(String(refused)).to.match(/without an API key/);
  });

  it("serves its own copy of a receipt to the job's parties only (GET /receipts/{root}?job=ID), for when the generator is gone", async () => {
    const { server, openai } = await gateway({ listings: [listing("honest")] });
    const poc = pocOf(await openai.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: "keep" }], max_tokens: 4 }));
    const url = `${server.url}/receipts/${poc.receiptRoot}?job=${poc.jobId}`;
    const scope = { chainId: client.chainId, pool: client.address, jobId: BigInt(poc.jobId) };
    const ok = await fetch(url, { headers: { authorization: await signAccess(user, scope) } });
    expect(ok.status).to.equal(200);
    expect(receiptRoot(new Uint8Array(await ok.arrayBuffer()))).to.equal(poc.receiptRoot);
    const stranger = (await ethers.getSigners())[9]!;
    const denied = await fetch(url, { headers: { authorization: await signAccess(stranger, scope) } });
    expect(denied.status).to.equal(403);
    expect(((await denied.json()) as { error: { type: string } }).error.type).to.equal("permission_error");
    expect((await fetch(url)).status).to.equal(401);
    const other = await fetch(`${server.url}/receipts/${poc.receiptRoot}?job=1`, { headers: { authorization: await signAccess(user, { ...scope, jobId: 1n }) } });
    expect(other.status).to.equal(404);
  });

  it("falls back to the next generator when the first (the cheapest) never commits; the abandoned job stays Open", async () => {
    const { openai } = await gateway({ listings: [listing("honest", PRICE * 2n), listing("never-commit", PRICE)], commitTimeoutMs: 1500 });
    const c = await openai.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: "fallback" }], max_tokens: 6, seed: 5 });
    const poc = pocOf(c);
    expect(poc.generator).to.equal(fakes.get("honest")!.address);
    expect(poc.fallbacks).to.have.length(1);
    expect(poc.fallbacks![0]!.generator).to.equal(fakes.get("never-commit")!.address);
    expect(poc.fallbacks![0]!.reason).to.match(/no commit/);
    const abandoned = BigInt(poc.fallbacks![0]!.jobId!);
    expect(fakes.get("never-commit")!.accepted).to.include(abandoned);
    expect((await client.getJob(abandoned)).state).to.equal(JobState.Open);
    expect(c.choices[0]!.message.content).to.equal((await committedReceipt(poc.jobId)).text);
    // Cg of each job follows its generator's price
    expect(poc.amounts.cg).to.equal((PRICE * 2n * 6n).toString());
  });

  it("a stream whose generator never commits ends with an error event, which the openai client raises as an APIError", async () => {
    const { openai } = await gateway({ listings: [listing("never-commit")], commitTimeoutMs: 1000 });
    const s = await openai.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: "x" }], max_tokens: 4, stream: true });
    let got = "";
    let error: unknown;
    try {
      for await (const chunk of s) got += chunk.choices[0]?.delta.content ?? "";
    } catch (e) {
      error = e;
    }
    expect(error).to.be.instanceOf(APIError);
    expect(String((error as APIError).message)).to.match(/no commit within 1 s/);
  });

  it("serves concurrent completions, one job each, with the user's transactions in order", async () => {
    const { openai } = await gateway({ listings: [listing("honest")] });
    const ask = (content: string) => openai.chat.completions.create({ model: "tiny", messages: [{ role: "user", content }], max_tokens: 4 });
    const out = await Promise.all([ask("one"), ask("two"), ask("three")]);
    const ids = out.map((c) => pocOf(c).jobId);
    expect(new Set(ids).size).to.equal(3);
    for (const c of out) expect(c.choices[0]!.message.content).to.equal((await committedReceipt(pocOf(c).jobId)).text);
  });

  it("falls back when a generator refuses the request outright", async () => {
    const refuse = await startFakeGenerator({ client: client.connect((await ethers.getSigners())[15]!), model, store: new ReceiptStore(join(tmp, "refuse")), behaviour: "refuse" });
    try {
      const l: GeneratorListing = { address: refuse.address, endpoint: refuse.url, models: ["*"], pricePerToken: PRICE / 2n, record: { ...EMPTY_RECORD } };
      const { openai } = await gateway({ listings: [l, listing("honest")] });
      const c = await openai.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: "x" }], max_tokens: 4 });
      expect(pocOf(c).generator).to.equal(fakes.get("honest")!.address);
      expect(pocOf(c).fallbacks![0]!.reason).to.match(/refused or could not take the request: .*HTTP 503/);
    } finally {
      await refuse.close();
    }
  });

  it("detects a generator whose stream differs from its commitment; flags it without the policy, challenges it with the policy", async () => {
    const plain = await gateway({ listings: [listing("lie")] });
    const flagged = pocOf(await plain.openai.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: "lie" }], max_tokens: 6, seed: 2 }));
    expect(flagged.checks.streamMatchesReceipt).to.equal(false);
    expect(flagged.problems.join(" ")).to.match(/streamed tokens/);
    expect(flagged.challenged).to.equal(undefined);
    expect((await client.getJob(BigInt(flagged.jobId))).state).to.equal(JobState.Committed);

    const strict = await gateway({ listings: [listing("lie")], policies: { challengeOnMismatch: true } });
    const s = await strict.openai.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: "lie" }], max_tokens: 6, seed: 2, stream: true });
    let streamed = "";
    let last: unknown;
    for await (const chunk of s) {
      streamed += chunk.choices[0]?.delta.content ?? "";
      if (chunk.choices[0]?.finish_reason) last = chunk;
    }
    const poc = pocOf(last);
    expect(poc.checks.streamMatchesReceipt).to.equal(false);
    expect(poc.challenged?.reason).to.equal("mismatch");
    const events = await client.jobEvents(BigInt(poc.jobId));
    const challenged = events.find((e) => e.name === "JobChallenged");
    expect(challenged?.transactionHash).to.equal(poc.challenged!.tx);
    expect(poc.state).to.not.equal("Committed");
    expect(streamed).to.not.equal((await committedReceipt(poc.jobId)).text);
  });

  it("with the verify policy, replays each receipt locally: an honest one is verified, a substituted model is challenged", async () => {
    const { openai } = await gateway({ listings: [listing("honest")], policies: { verifyLocally: true } });
    const ok = pocOf(await openai.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: "check" }], max_tokens: 6, seed: 1 }));
    expect(ok.verified).to.equal(true);
    expect(ok.challenged).to.equal(undefined);

    const cheat = await gateway({ listings: [listing("substitute")], policies: { verifyLocally: true } });
    const bad = pocOf(await cheat.openai.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: "check" }], max_tokens: 6, seed: 1 }));
    expect(bad.checks).to.deep.equal({ receiptMatchesRoot: true, receiptAnswersJob: true, streamMatchesReceipt: true });
    expect(bad.verified).to.equal(false);
    expect(bad.challenged?.reason).to.equal("local-verify");
    expect((await client.getJob(BigInt(bad.jobId))).state).to.not.equal(JobState.Committed);
  });

  it("challenges a given fraction of jobs (fraction 1: every job)", async () => {
    const { openai } = await gateway({ listings: [listing("honest")], policies: { challengeFraction: 1 } });
    const poc = pocOf(await openai.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: "spot" }], max_tokens: 4 }));
    expect(poc.challenged?.reason).to.equal("spot-check");
  });

  it("with the settle policy, finalizes after the challenge window, cancels a job never committed, and withdraws", async () => {
    const settler = new Settler(userClient, new Mutex());
    const { openai } = await gateway({ listings: [listing("never-commit", PRICE / 2n), listing("honest")], commitTimeoutMs: 1500, settler });
    const poc = pocOf(await openai.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: "settle" }], max_tokens: 4 }));
    const abandoned = BigInt(poc.fallbacks![0]!.jobId!);
    expect(await settler.tick()).to.deep.equal([]); // nothing due yet
    await networkHelpers.time.increase(WORKER_TEST_PARAMS.challengeWindow + WORKER_TEST_PARAMS.commitWindow + 1);
    const before = await userClient.tokenBalance();
    const sent = await settler.tick();
    expect(sent.map((s) => [s.jobId, s.action])).to.deep.include.members([
      [BigInt(poc.jobId), "finalize"],
      [abandoned, "cancel"],
    ]);
    expect((await client.getJob(BigInt(poc.jobId))).state).to.equal(JobState.Finalized);
    expect((await client.getJob(abandoned)).state).to.equal(JobState.Cancelled);
    expect(await userClient.creditOf(await userClient.account())).to.equal(0n);
    expect(await userClient.tokenBalance()).to.be.greaterThan(before);
  });
  it("reads generators' records from the pool's events and ranks a generator that skipped jobs after one that did not", async () => {
    // by now (the tests above): the never-commit generator had jobs opened for it and one was cancelled by the settle policy
    const records = await generatorRecords(client);
    const skipper = records.get(fakes.get("never-commit")!.address)!;
    const honest = records.get(fakes.get("honest")!.address)!;
    expect(skipper.jobs).to.equal(fakes.get("never-commit")!.accepted.length);
    expect(skipper.skipped).to.be.at.least(1);
    expect(skipper.finalized).to.equal(0);
    expect(honest.jobs).to.equal(fakes.get("honest")!.accepted.length);
    expect(honest.finalized).to.be.at.least(1);
    expect(honest.skipped).to.equal(0);
    const dir = new RecordedDirectory(new StaticDirectory([listing("never-commit"), listing("honest")]), client);
    const ranked = rankListings(await dir.list(model.modelId), model.modelId);
    expect(ranked.map((l) => l.address)).to.deep.equal([fakes.get("honest")!.address, fakes.get("never-commit")!.address]);
    expect(ranked[1]!.record.skipped).to.equal(skipper.skipped);
  });
});
