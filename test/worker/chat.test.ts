/**
 * Chat requests at the verifier worker (docs/PROTOCOL.md "Chat requests"): a receipt whose prompt
 * tokens are the request's messages rendered with the model's template is replayed as usual; one whose
 * prompt tokens are not (a request the generator should have skipped, committed anyway) is the
 * generator's fault — even though the receipt answers the request's hash exactly.
 */
import { expect } from "chai";
import { join } from "node:path";
import { allMatchedBitmap } from "../../offchain/receipt/index.js";
import { chatPromptTokens, openChatModel, type ChatMessage } from "../../offchain/model/chat.js";
import { parseJobRequest, type JobRequest } from "../../offchain/request/index.js";
import { createLogger } from "../../offchain/worker/log.js";
import { startVerifierWorker } from "../../offchain/worker/verifier.js";
import { LogTap, createWorkerContext, type WorkerContext } from "./helpers.js";

describe("verifier worker: chat requests", function () {
  this.timeout(60_000);
  let ctx: WorkerContext;
  before(async () => {
    ctx = await createWorkerContext();
  });
  after(async () => {
    await ctx?.cleanup();
  });

  const messages: ChatMessage[] = [
    { role: "system", content: "Be brief." },
    { role: "user", content: "What does the verifier replay?" },
  ];
  const chatRequest = (promptTokens: number[], seed: number): JobRequest =>
    parseJobRequest({
      version: 1,
      modelId: ctx.model.modelId,
      promptTokens,
      messages,
      decoding: { seed, temperature: 0, topK: 0, topP: 1, maxTokens: 12, stopAtEos: false },
      sampler: { ratePpm: 250_000, layersPerToken: 2, scope: "all" },
    });

  async function replayAs(verifier: { address: string }, request: JobRequest, state: string) {
    const job = await ctx.challengedJob({ verifier, request });
    const tap = new LogTap();
    const w = await startVerifierWorker({
      client: ctx.client,
      signer: ctx.signers.find((x) => x.address === verifier.address)!,
      modelsDir: ctx.modelsDir,
      stateDir: join(ctx.tmp, state),
      pollMs: 50,
      logger: createLogger({ format: "silent", onRecord: tap.push }),
    });
    try {
      await w.idle();
    } finally {
      await w.stop();
    }
    const res = await ctx.results(job.jobId);
    expect(res).to.have.length(1);
    return { job, bitmap: res[0]!.matchBitmap, tap };
  }

  it("prompt tokens that are the messages rendered: replayed, every check matches", async () => {
    const tokens = chatPromptTokens(await openChatModel(ctx.model.dir, ctx.model.tokenizer), messages);
    const { job, bitmap } = await replayAs(ctx.v1, chatRequest(tokens, 1), "chat-ok");
    expect(bitmap).to.equal("0x" + Buffer.from(allMatchedBitmap(job.numChecks)).toString("hex"));
  });

  it("prompt tokens that are not the messages rendered: the generator's fault, the all-zero bitmap", async () => {
    const other = ctx.model.tokenizer.encode("assistant: something else entirely", { addSpecialTokens: false });
    const { job, bitmap, tap } = await replayAs(ctx.v2, chatRequest(other, 2), "chat-bad");
    expect(bitmap).to.equal("0x" + "00".repeat(Math.ceil(job.numChecks / 8)));
    const fault = tap.events("generator-fault").find((r) => r.jobId === job.jobId.toString());
    expect(fault, "generator-fault logged").to.not.equal(undefined);
    expect(String(fault!.reason)).to.match(/not the request's messages rendered with the model's chat template/);
  });
});
