/**
 * offchain/chain: decoded custom errors, typed events read in bounded ranges (and halved when a node
 * refuses a range), jobHistory of a cancelled job, retry classification, connection errors.
 */
import { expect } from "chai";
import type { Provider } from "ethers";
import {
  ArtifactError,
  ChainConfigError,
  ContractRevertError,
  JobState,
  PoolClient,
  RpcUnavailableError,
  artifactInterface,
  connectRpc,
  isTransientError,
  jobHistory,
  withRetry,
} from "../../offchain/chain/index.js";
import { requestHash, requestToDataUri } from "../../offchain/request/index.js";
import { BOND, CG, CV, createWorkerContext, tinyRequest, type WorkerContext } from "../worker/helpers.js";

async function rejects(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error("expected a rejection");
}

describe("chain client", function () {
  this.timeout(60_000);
  let ctx: WorkerContext;
  before(async () => {
    ctx = await createWorkerContext();
  });
  after(async () => {
    await ctx?.cleanup();
  });

  async function openJob() {
    const req = tinyRequest(ctx.model.modelId, 7);
    return ctx.as(ctx.user).openJob({
      generator: ctx.generator.address,
      modelId: ctx.model.modelId,
      cg: CG,
      cv: CV,
      requestHash: requestHash(req),
      requestUri: requestToDataUri(req),
      approve: true,
    });
  }

  it("decodes the pool's custom errors into readable reasons before anything is sent", async () => {
    const { jobId } = await openJob();
    const user = ctx.as(ctx.user);
    const nonce = await ctx.ethers.provider.getTransactionCount(ctx.user.address);
    const e1 = await rejects(user.finalize(jobId));
    expect(e1).to.be.instanceOf(ContractRevertError);
    expect((e1 as ContractRevertError).reason).to.equal(`StakePoolWrongState(job ${jobId}, Open)`);
    expect((e1 as ContractRevertError).message).to.equal(`finalize(job ${jobId}) reverted: StakePoolWrongState(job ${jobId}, Open)`);
    expect((e1 as ContractRevertError).errorName).to.equal("StakePoolWrongState");
    expect((e1 as ContractRevertError).errorArgs.jobId).to.equal(jobId);
    const e2 = await rejects(ctx.as(ctx.stranger).commit(jobId, { receiptRoot: "0x" + "11".repeat(32), numChecks: 8, receiptUri: "x" }));
    expect((e2 as ContractRevertError).reason).to.equal(`StakePoolNotGenerator(job ${jobId}, caller ${ctx.stranger.address})`);
    const e3 = await rejects(user.cancel(jobId));
    expect((e3 as ContractRevertError).reason).to.match(new RegExp(`^StakePoolDeadlineNotReached\\(job ${jobId}, deadline \\d{4}-\\d\\d-\\d\\dT`));
    expect(await ctx.ethers.provider.getTransactionCount(ctx.user.address), "no transaction was sent").to.equal(nonce);
  });

  it("reads typed events in bounded ranges, and halves the range when the node refuses it", async () => {
    const { jobId, opened } = await openJob();
    expect(opened.requestUri).to.match(/^data:/);
    expect(opened.modelId).to.equal(ctx.model.modelId.toLowerCase());
    const all = await ctx.client.getEvents();
    const ranged = await PoolClient.create({ runner: ctx.ethers.provider, pool: ctx.poolAddress, deployBlock: ctx.deployBlock, logRange: 3 });
    expect(await ranged.getEvents()).to.deep.equal(all);
    // a node that accepts at most 4 blocks per eth_getLogs
    const spans: number[] = [];
    const base = ctx.ethers.provider;
    const picky = new Proxy(base, {
      get(t, k) {
        if (k === "getLogs")
          return async (f: { fromBlock: number; toBlock: number }) => {
            spans.push(f.toBlock - f.fromBlock + 1);
            if (f.toBlock - f.fromBlock + 1 > 4) throw Object.assign(new Error("query exceeds max block range 4"), { code: -32600 });
            return base.getLogs(f);
          };
        const v = Reflect.get(t, k, t);
        return typeof v === "function" ? v.bind(t) : v;
      },
    }) as Provider;
    const limited = await PoolClient.create({ runner: picky, pool: ctx.poolAddress, deployBlock: ctx.deployBlock, logRange: 100 });
    expect(await limited.getEvents()).to.deep.equal(all);
    expect(Math.max(...spans.slice(-3))).to.be.at.most(4);
    const mine = await ctx.client.jobEvents(jobId);
    expect(mine.map((e) => e.name)).to.deep.equal(["JobOpened"]);
    const bonded = all.filter((e) => e.name === "Bonded");
    expect(bonded.map((e) => e.name === "Bonded" && e.verifier)).to.deep.equal([ctx.v1.address, ctx.v2.address, ctx.v3.address, ctx.v4.address, ctx.v5.address, ctx.other.address]);
    const models = all.filter((e) => e.name === "ModelsSet");
    expect(models.map((e) => e.name === "ModelsSet" && e.models)).to.deep.equal([...Array(5).fill([ctx.model.modelId.toLowerCase()]), [ctx.otherModelId]]);
  });

  it("jobHistory of a job the generator never committed: cancelled, the user refunded in full", async () => {
    const { jobId, opened } = await openJob();
    await ctx.networkHelpers.time.increaseTo(opened.commitDeadline + 1);
    await ctx.as(ctx.stranger).cancel(jobId);
    const h = await jobHistory(ctx.client, jobId);
    expect(h.state).to.equal(JobState.Cancelled);
    expect(h.stateName).to.equal("Cancelled");
    expect(h.final).to.equal(true);
    expect(h.committed).to.equal(undefined);
    expect(h.settlement?.kind).to.equal("cancelled");
    expect(h.settlement?.payouts.user).to.equal(opened.alphaCg + opened.alphaCv);
    expect(h.opened?.at.time).to.be.a("number");
    expect(await rejects(jobHistory(ctx.client, 10_000n))).to.be.instanceOf(Error);
  });

  it("withdraw and bond views round-trip", async () => {
    const b = await ctx.client.bondOf(ctx.v1.address);
    expect(b.models).to.deep.equal([ctx.model.modelId.toLowerCase()]);
    expect(b.bond).to.equal(BOND);
    expect(b.needsSync).to.equal(false);
    expect(await ctx.client.serves(ctx.v1.address, ctx.model.modelId)).to.equal(true);
    expect(await ctx.client.weightOf(ctx.model.modelId, ctx.v1.address)).to.equal(BOND);
    expect(await ctx.client.modelStake(ctx.model.modelId)).to.deep.equal({ total: 5n * BOND, verifiers: 5 });
    expect(await ctx.client.treasury()).to.equal(ctx.treasury.address);
    const w = await ctx.as(ctx.v4).withdraw();
    expect(w.amount).to.equal(0n); // nothing credited: no transaction
    expect(w.tx).to.equal(null);
  });
});

describe("chain retry and connection", () => {
  it("classifies transient and permanent errors", () => {
    const transient = [
      Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:8545"), { code: "ECONNREFUSED" }),
      { code: "SERVER_ERROR", info: { responseStatus: "503 Service Unavailable" } },
      { code: "SERVER_ERROR", info: { responseStatus: "599 CLIENT ESCALATED SERVER ERROR (429 Too Many Requests; exceeded maximum retry limit)" } },
      { code: "TIMEOUT" },
      { code: "UNKNOWN_ERROR", error: { code: -32005, message: "limit exceeded" } },
      new TypeError("fetch failed"),
    ];
    const permanent = [
      { code: "CALL_EXCEPTION", data: "0x7bff4151" },
      { code: 3, message: "execution reverted", data: "0x7bff4151" },
      { code: "SERVER_ERROR", info: { responseStatus: "400 Bad Request" } },
      { code: "INSUFFICIENT_FUNDS" },
      new Error("invalid argument"),
    ];
    for (const e of transient) expect(isTransientError(e), JSON.stringify(e)).to.equal(true);
    for (const e of permanent) expect(isTransientError(e), JSON.stringify(e)).to.equal(false);
  });

  it("retries transient failures with backoff, never a revert, and gives up with RpcUnavailableError", async () => {
    let calls = 0;
    const v = await withRetry("x", async () => {
      if (++calls < 3) throw { code: "TIMEOUT" };
      return 42;
    }, { baseDelayMs: 1 });
    expect([v, calls]).to.deep.equal([42, 3]);
    calls = 0;
    const revert = { code: "CALL_EXCEPTION", data: "0x12345678" };
    expect(await rejects(withRetry("x", async () => {
      calls++;
      throw revert;
    }, { baseDelayMs: 1 }))).to.equal(revert);
    expect(calls).to.equal(1);
    const e = await rejects(withRetry("eth_call", async () => {
      throw { code: "NETWORK_ERROR" };
    }, { attempts: 3, baseDelayMs: 1 }));
    expect(e).to.be.instanceOf(RpcUnavailableError);
    expect((e as RpcUnavailableError).attempts).to.equal(3);
  });

  it("a closed endpoint is a clear ChainConfigError; a missing artifact says to build", async () => {
    const e = await rejects(connectRpc({ rpcUrl: "http://127.0.0.1:1", retry: { attempts: 2, baseDelayMs: 1 } }));
    expect(e).to.be.instanceOf(ChainConfigError);
    expect((e as Error).message).to.match(/cannot reach the JSON-RPC endpoint http:\/\/127\.0\.0\.1:1/);
    const a = (() => {
      try {
        artifactInterface("Nope.sol", "Nope", "/nonexistent");
      } catch (x) {
        return x;
      }
    })();
    expect(a).to.be.instanceOf(ArtifactError);
    expect((a as Error).message).to.match(/npx hardhat build/);
  });
});
