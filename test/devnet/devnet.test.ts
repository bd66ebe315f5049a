/**
 * `poc devnet` (scripts/devnet/core.ts): the whole network in one process, served over JSON-RPC. A
 * job opened through the served endpoint is committed by the devnet's generator; challenged, one of its
 * verifiers replays it and the pool settles it; the dashboard shows it.
 */
import { expect } from "chai";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { network } from "hardhat";
import { JsonRpcProvider, Wallet } from "ethers";
import { JobState, PoolClient } from "../../offchain/chain/index.js";
import { requestHash, requestToDataUri } from "../../offchain/request/index.js";
import OpenAI from "openai";
import { startDevnet, type Devnet } from "../../scripts/devnet/core.js";

const E18 = 10n ** 18n;
// Hardhat's default mnemonic, account 7: a second user, apart from the gateway's (account 1), whose
// transactions would otherwise race this test's for nonces.
const USER_KEY = "0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356";

const connection = await network.create();

describe("poc devnet", function () {
  this.timeout(300_000);
  let dir: string;
  let devnet: Devnet;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "poc-devnet-"));
    devnet = await startDevnet({ connection, dir, rpcPort: 0, generatorPort: 0, dashboardPort: 0, writeRecord: false, print: () => {} });
  });
  after(async () => {
    await devnet?.stop();
    await connection.close();
    await rm(dir, { recursive: true, force: true });
  });

  const waitFor = async (what: string, ok: () => Promise<boolean>, ms = 120_000) => {
    const t0 = Date.now();
    while (!(await ok())) {
      if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  };

  it("serves the chain over JSON-RPC: a user opens a job there, the generator commits, a challenge settles, the dashboard lists it", async () => {
    // cacheTimeout -1: a nonce read right after a mined transaction must not come from ethers' 250 ms cache
    const provider = new JsonRpcProvider(devnet.rpcUrl, undefined, { staticNetwork: true, cacheTimeout: -1 });
    try {
      const user = new Wallet(USER_KEY, provider);
      const client = await PoolClient.create({ runner: user, pool: devnet.pool, deployBlock: devnet.deployBlock, pollMs: 100 });
      await client.mintTestTokens(user.address, 100n * E18);
      const request = {
        version: 1 as const,
        modelId: devnet.modelId,
        promptTokens: [256, 72, 105],
        decoding: { seed: 1n, temperature: 0, topK: 0, topP: 1, maxTokens: 8, stopAtEos: false },
        sampler: { ratePpm: 250_000, layersPerToken: 2 },
      };
      const { jobId } = await client.openJob({
        generator: devnet.generator.address,
        modelId: devnet.modelId,
        cg: 10n * E18,
        cv: 2n * E18,
        requestHash: requestHash(request),
        requestUri: requestToDataUri(request),
        approve: true,
      });
      await waitFor("the commit", async () => (await client.getJob(jobId)).state === JobState.Committed);
      await client.challenge(jobId);
      await waitFor("the settlement", async () => (await client.getJob(jobId)).state === JobState.GeneratorUpheld);
      await waitFor("the dashboard", async () => {
        const s = (await (await fetch(`${devnet.dashboardUrl}/api/snapshot`)).json()) as { jobs: { jobId: string; state: unknown }[] };
        return s.jobs.some((j) => j.jobId === jobId.toString() && Number(j.state) === JobState.GeneratorUpheld);
      }, 30_000);
    } finally {
      provider.destroy();
    }
  });

  it("the gateway answers the openai client (plain and streamed) through the generator it finds in the registry", async () => {
    const openai = new OpenAI({ baseURL: `${devnet.gatewayUrl}/v1`, apiKey: "unused" });
    const models = await openai.models.list();
    expect(models.data.map((m) => m.id)).to.include(devnet.modelName);
    const done = await openai.chat.completions.create({ model: devnet.modelName, messages: [{ role: "user", content: "Hi" }], max_tokens: 8 });
    const proof = (done as unknown as { proof_of_cache: { jobId: string; generator: string; receiptRoot: string } }).proof_of_cache;
    expect(proof.generator).to.equal(devnet.generator.address);
    expect(proof.receiptRoot).to.match(/^0x[0-9a-f]{64}$/);
    const job = await devnet.client.getJob(BigInt(proof.jobId));
    expect(job.user).to.equal(devnet.accounts[0]!.address);
    expect(job.state).to.equal(JobState.Committed);
    const stream = await openai.chat.completions.create({ model: devnet.modelName, messages: [{ role: "user", content: "Hello" }], max_tokens: 6, stream: true });
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? "";
    expect(text.length).to.be.greaterThan(0);
  });
});
