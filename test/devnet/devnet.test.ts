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
import { startDevnet, type Devnet } from "../../scripts/devnet/core.js";

const E18 = 10n ** 18n;
// Hardhat's default mnemonic, account 1 (the devnet's user).
const USER_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";

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
    const provider = new JsonRpcProvider(devnet.rpcUrl, undefined, { staticNetwork: true });
    try {
      const user = new Wallet(USER_KEY, provider);
      expect(user.address).to.equal(devnet.accounts[0]!.address);
      const client = await PoolClient.create({ runner: user, pool: devnet.pool, deployBlock: devnet.deployBlock, pollMs: 100 });
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
});
