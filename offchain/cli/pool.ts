/**
 * `poc pool draw|status`: the pool's draw queue, for anyone (verifier workers do this on their own).
 *
 *   npx poc pool status                       the draw epoch, the queue, verifiers waiting for a sync
 *   npx poc pool draw --account 1 [--max 16]  advance the queue: start an epoch (requests randomness),
 *                                             or draw the queued stages once its randomness exists
 *   npx poc pool draw --account 1 --mine      local dev node only: mine a block first when the word is
 *                                             still pending (a node that mines only on transactions)
 *
 * A stage joins the queue on a challenge, a result that does not settle, a timeout or a decline; the
 * pool requests randomness at once, and the word exists only in a later block (FutureBlockRandomness:
 * the hash of the block after the request, readable from the block after that). `draw` before then is
 * answered "randomness pending" without a transaction being sent.
 */
import { Command } from "commander";
import type { PoolClient, PoolEvent } from "../chain/index.js";
import { addChainOptions, withClient, type ChainCliOptions } from "./chain-options.js";
import { positiveInt } from "./options.js";

/** What one drawVerifiers transaction did, in words. */
export function describeDrawEvents(events: readonly PoolEvent[]): string[] {
  const out: string[] = [];
  for (const e of events) {
    if (e.name === "DrawEpochStarted") out.push(`  draw epoch started: randomness request ${e.requestId} for queue entries ${e.head}..${e.epochEnd - 1n}`);
    if (e.name === "VerifierAssigned") out.push(`  job ${e.jobId} stage ${e.stage}: verifier ${e.verifier} drawn; it must submit by ${new Date(e.deadline * 1000).toISOString()}`);
    if (e.name === "VerifierUnavailable")
      out.push(`  job ${e.jobId} stage ${e.stage}: no eligible verifier this epoch, queued again (settles by timeout-draw after ${new Date(e.drawDeadline * 1000).toISOString()})`);
  }
  return out;
}

/** The lines `pool status` prints. */
export async function poolStatusLines(c: PoolClient): Promise<string[]> {
  const [e, pending, treasury, source, head] = await Promise.all([c.drawEpoch(), c.pendingSyncs(), c.treasury(), c.randomnessSource(), c.latestBlock()]);
  return [
    `pool        ${c.address} on chain ${c.chainId} (block ${head.number})`,
    `randomness  ${source}`,
    `treasury    ${treasury}`,
    `epoch       ${e.frozen ? `in progress: request ${e.requestId}, entries ${e.head}..${e.epochEnd - 1n}; weights frozen` : "none in progress"}`,
    `queue       ${e.tail - e.head} stage(s) waiting (entries ${e.head}..${e.tail - 1n})`,
    `syncs       ${pending} verifier(s) wait for a sync (syncPending)`,
  ];
}

export function poolCommand(): Command {
  const group = new Command("pool").description("the pool's draw queue: advance it (draw), show it (status)");
  group.addCommand(
    addChainOptions(
      new Command("draw")
        .description("advance the draw queue (drawVerifiers): start a draw epoch, or draw the queued stages once the epoch's randomness exists")
        .option("--max <n>", "queued stages drawn by this transaction at most", positiveInt, 16)
        .option("--mine", "local development node (chain 31337) only: mine a block first when the randomness is still pending", false),
    ).action(async (o: ChainCliOptions & { max: number; mine: boolean }) =>
      withClient(o, true, async (c) => {
        let r = await c.tryDrawVerifiers(o.max);
        if (r.kind === "pending" && o.mine) {
          await c.devMine();
          console.log("mined a block (local development node)");
          r = await c.tryDrawVerifiers(o.max);
        }
        if (r.kind === "empty") console.log("nothing to draw: the draw queue is empty");
        else if (r.kind === "pending")
          console.log(`randomness pending (request ${r.requestId}): the word exists only in a later block; try again then${c.chainId === 31337n ? " (on a local node: --mine)" : ""}`);
        else {
          console.log(`drawVerifiers(${o.max}) sent (tx ${r.tx.hash}, gas ${r.tx.gasUsed})`);
          const lines = describeDrawEvents(r.tx.events);
          for (const l of lines.length ? lines : ["  (the epoch's entries were all settled already)"]) console.log(l);
        }
      }),
    ),
  );
  group.addCommand(
    addChainOptions(new Command("status").description("the draw epoch, the queue and the verifiers waiting for a sync")).action(async (o: ChainCliOptions) =>
      withClient(o, false, async (c) => {
        for (const l of await poolStatusLines(c)) console.log(l);
      }),
    ),
  );
  return group;
}
