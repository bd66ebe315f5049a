/**
 * `poc job advance JOB [--wait] [--json]`: send whichever step is due for a job — cancel, finalize,
 * timeoutVerifier, drawVerifiers or timeoutDraw (offchain/keeper/advance.ts) — or say what becomes
 * due when. With `--wait`, wait for each deadline and keep advancing until the job is final (or, for
 * `job finalize --wait`, until the challenge window has passed and the job is finalized).
 */
import { Command } from "commander";
import { z } from "zod";
import { sleep, type PoolClient } from "../chain/index.js";
import { advanceJob, planJob, type AdvanceResult, type KeeperAction } from "../keeper/advance.js";
import { JobState } from "../chain/state.js";
import { PocError } from "../errors.js";
import { addChainOptions, withClient, type ChainCliOptions } from "./chain-options.js";

class AdvanceCliError extends PocError {
  override name = "AdvanceCliError";
}

const jobIdSchema = z.string().regex(/^\d+$/, "a job id is a positive integer").transform((s) => BigInt(s));

function jsonLine(r: AdvanceResult): string {
  return JSON.stringify(
    {
      jobId: r.plan.jobId.toString(),
      state: JobState[r.plan.state],
      due: r.plan.due ?? null,
      next: r.plan.next ?? null,
      chainNow: r.plan.chainNow,
      done: r.done ? { action: r.done.action, tx: r.done.tx.hash, block: r.done.tx.blockNumber, summary: r.done.summary } : null,
      notYet: r.notYet ?? null,
      summary: r.plan.summary,
    },
  );
}

/**
 * Advance `jobId` (once, or with `wait` until final / until `until` was sent). Prints one line per
 * step (or JSON lines). Polls chain time every `pollMs` while waiting.
 */
export async function runAdvance(client: PoolClient, jobId: bigint, o: { wait?: boolean; json?: boolean; until?: KeeperAction; pollMs?: number; print?: (s: string) => void } = {}): Promise<AdvanceResult> {
  const print = o.print ?? ((s: string) => console.log(s));
  let lastWaitLine = "";
  for (;;) {
    const r = await advanceJob(client, jobId);
    if (r.done) print(o.json ? jsonLine(r) : `job ${jobId}: ${r.done.summary}`);
    const finished = r.done !== undefined && o.until !== undefined && r.done.action === o.until;
    if (!o.wait || finished) {
      if (!r.done) print(o.json ? jsonLine(r) : r.notYet ? `${r.plan.summary} — not yet: ${r.notYet}` : r.plan.summary);
      return r;
    }
    if (r.done) continue; // the next state may have a step due already
    if (!r.plan.due && !r.plan.next) {
      print(o.json ? jsonLine(r) : r.plan.summary);
      return r;
    }
    if (o.until && r.plan.next && r.plan.next.action !== o.until && !r.plan.due) throw new AdvanceCliError(`${r.plan.summary}: waiting cannot lead to ${o.until}`);
    const line = r.plan.next ? `waiting: ${r.plan.summary}` : `waiting: ${r.plan.summary}${r.notYet ? ` — not yet: ${r.notYet}` : ""}`;
    if (line !== lastWaitLine && !o.json) print(line);
    lastWaitLine = line;
    const wallNow = Date.now() / 1000;
    const untilDue = r.plan.next && !r.plan.due ? Math.max(0, r.plan.next.at - Math.max(r.plan.chainNow, wallNow)) * 1000 : 0;
    await sleep(Math.max(o.pollMs ?? 2000, Math.min(untilDue, 60_000)));
  }
}

export function advanceCommand(): Command {
  return addChainOptions(
    new Command("advance")
      .description("send whichever step is due for the job (cancel, finalize, timeoutVerifier, drawVerifiers, timeoutDraw; anyone may), or say when the next one becomes due")
      .argument("<job>", "job id")
      .option("--wait", "wait for each deadline and keep advancing until the job is final", false)
      .option("--json", "print JSON lines (amounts and times as numbers)", false),
  ).action(async (id: string, o: ChainCliOptions & { wait: boolean; json: boolean }) => {
    const r = jobIdSchema.safeParse(id);
    if (!r.success) throw new AdvanceCliError(`job ${id}: ${r.error.issues[0]?.message}`);
    await withClient(o, false, async (client) => {
      await runAdvance(client, r.data, { wait: o.wait, json: o.json });
    });
  });
}

/** `job finalize JOB --wait`: wait for the end of the challenge window, then finalize (prints what it waits for). */
export async function finalizeWhenDue(client: PoolClient, jobId: bigint): Promise<void> {
  const plan = await planJob(client, jobId);
  if (plan.state !== JobState.Committed) throw new AdvanceCliError(`job ${jobId} is ${JobState[plan.state]}, not Committed: nothing to finalize (see poc job status ${jobId})`);
  await runAdvance(client, jobId, { wait: true, until: "finalize" });
}
