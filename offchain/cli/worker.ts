/**
 * `poc worker …`: the long-running daemons.
 *
 *   npx poc worker verifier --account 1 --models ./models     (local node; see offchain/worker/README.md)
 *
 * NOTE for the generator worker: `workerCommand()` builds the `worker` group; add
 * `generatorWorkerCommand()` (or similar) as a subcommand there with one `.addCommand(...)` line next
 * to `verifierWorkerCommand()`. Chain flags come from ./chain-options.ts (`addChainOptions`,
 * `connectFromOptions`); `runUntilSignal` below handles SIGINT/SIGTERM the same way for every worker.
 */
import { stat } from "node:fs/promises";
import { Command, InvalidArgumentError, Option } from "commander";
import { ChainConfigError } from "../chain/index.js";
import { readChainIdentity } from "../worker/chain-identity.js";
import { keeperHook, runUntilSignal, waitForRedeploy } from "./supervise.js";
import { EXECUTION_PROVIDERS, type ExecutionProvider, type GraphOptimizationLevel } from "../model/index.js";
import { addGraphOptOption } from "./model-options.js";
import { createLogger, type LogFormat, type LogLevel } from "../worker/log.js";
import { startVerifierWorker } from "../worker/verifier.js";
import { generatorWorkerCommand } from "./generator-worker.js";
import { addChainOptions, closeClient, connectFromOptions, parseTokenAmount, type ChainCliOptions } from "./chain-options.js";
import { nonNegativeInt, positiveInt, positiveNumber } from "./options.js";

export { runUntilSignal } from "./supervise.js";

/** A directory the worker reads must exist at start (a typo would otherwise surface only at the first job). */
export async function requireDirectory(dir: string, flag: string): Promise<void> {
  let st;
  try {
    st = await stat(dir);
  } catch {
    throw new ChainConfigError(`${flag} ${dir}: no such directory (build a model into it first: npx poc model build --preset small --out ${dir}/small)`);
  }
  if (!st.isDirectory()) throw new ChainConfigError(`${flag} ${dir}: not a directory`);
}

/** `--receipt-mirror` (repeatable): an http(s) base URL or a local path. */
function collectMirror(v: string, acc: string[]): string[] {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(v) && !/^(https?|file):\/\//i.test(v)) throw new InvalidArgumentError("an http(s) URL, a file:// URL or a local path");
  if (/^https?:\/\//i.test(v)) {
    try {
      new URL(v);
    } catch {
      throw new InvalidArgumentError("not a valid URL");
    }
  }
  return [...acc, v];
}

export function verifierWorkerCommand(): Command {
  const cmd = new Command("verifier")
    .description(
      "run a verifier: declare the models in --models, keep the bond up (re-bonding payouts), advance the draw queue, watch for our assignments, fetch and check receipts, replay, submit match bitmaps before the deadline (crash-safe; see offchain/worker/README.md)",
    )
    .requiredOption("--models <dir>", "directory of model directories (each subdirectory one model, found by its model id)")
    .option("--state <dir>", "directory for the progress file and the receipt cache", ".poc/verifier-state")
    .option("--store <dir>", "a local receipt store to look in before the commit's URI")
    .option("--concurrency <n>", "jobs replayed at once (replays are CPU-heavy)", positiveInt, 1)
    .option("--poll <ms>", "poll interval for new assignments", positiveInt, 2000)
    .option("--from-block <n>", "first block scanned: assignments before it are ignored (default: the pool's deployment block)", nonNegativeInt)
    .option("--no-auto-bond", "do not bond automatically when the bond is below the pool's minimum")
    .option("--bond <tokens>", "the bond to keep when topping up (whole tokens; default: the pool's minimum)")
    .option("--no-rebond", "top the bond up from the wallet only, never from the credit (payouts)")
    .option("--no-declare-models", "do not declare the models of --models on-chain (setModels)")
    .option("--no-advance-draws", "do not call drawVerifiers / sync (others advance the draw queue)")
    .option("--no-self-draw", "do not look for our own picks of pending draws (wait to be drawn by someone's drawVerifiers)")
    .option("--no-one-tx", "never settle a stage in one transaction with the generator's off-chain answer (always commit, then reveal)")
    .option("--max-tx-gas <n>", "split a pick's one-transaction stage whose gas would pass this (draw first, then submit) when its entry is the next to draw; 0: never", nonNegativeInt, 150_000)
    .option("--answer-timeout <s>", "longest wait for the generator's off-chain answer to our commitment before committing on-chain", positiveNumber, 30)
    .option("--draw-grace <s>", "seconds a ready draw is left to its picks (their commitResult draws it) before this worker draws it (default: a quarter of the pool's draw window)", nonNegativeInt)
    .option("--no-decline", "never decline an assignment whose model is missing (it then times out)")
    .option("--dev-mine", "local development node (chain 31337) only: mine a block when the draw randomness is pending", false)
    .option("--receipt-mirror <url>", "a receipt server tried after the commit's URI (e.g. the user's `poc receipts serve --store`); repeatable", collectMirror, [] as string[])
    .option("--fetch-budget <s>", "longest time spent fetching one receipt (also capped at a quarter of the time left)", positiveNumber, 120)
    .addOption(new Option("--provider <name>", "onnxruntime execution provider").choices([...EXECUTION_PROVIDERS]).default("cpu"))
    .option("--threads <n>", "CPU threads per replay (default: onnxruntime's choice)", positiveInt)
    .addOption(new Option("--log <format>", "log format on stderr").choices(["plain", "json"]).default("plain"))
    .addOption(new Option("--log-level <level>", "least level logged").choices(["debug", "info", "warn", "error"]).default("info"))
    .option("--keeper", "also advance every due job of the pool after each poll (cancel, finalize, timeoutVerifier, drawVerifiers, timeoutDraw)", false)
    .option("--once", "handle every assignment up to the current block, then exit", false);
  addGraphOptOption(cmd);
  addChainOptions(cmd);
  return cmd.action(async (o: ChainCliOptions & Record<string, unknown>) => {
    await requireDirectory(o.models as string, "--models");
    const conn = await connectFromOptions(o);
    let client = conn.client;
    const me = await client.account();
    const logger = createLogger({ format: o.log as LogFormat, minLevel: o.logLevel as LogLevel, name: `verifier ${me.slice(0, 10)}` });
    try {
      // Runs again with a fresh state after the chain or the pool changed under it (node restarted, pool redeployed).
      for (;;) {
      const identity = await readChainIdentity(client);
      const w = await startVerifierWorker({
        client,
        modelsDir: o.models as string,
        stateDir: o.state as string,
        ...(o.store ? { store: o.store as string } : {}),
        concurrency: o.concurrency as number,
        pollMs: o.poll as number,
        ...(o.fromBlock !== undefined ? { fromBlock: o.fromBlock as number } : {}),
        autoBond: o.autoBond as boolean,
        rebondCredit: o.rebond as boolean,
        declareModels: o.declareModels as boolean,
        advanceDraws: o.advanceDraws as boolean,
        selfDraw: o.selfDraw as boolean,
        oneTxStages: o.oneTx as boolean,
        answerTimeoutMs: (o.answerTimeout as number) * 1000,
        maxTxGas: o.maxTxGas as number,
        ...(o.drawGrace !== undefined ? { drawGraceS: o.drawGrace as number } : {}),
        declineUnservable: o.decline as boolean,
        devMine: o.devMine as boolean,
        ...(o.bond ? { bondAmount: parseTokenAmount(o.bond as string, await client.tokenDecimals()) } : {}),
        fetchBudgetMs: (o.fetchBudget as number) * 1000,
        receiptMirrors: o.receiptMirror as string[],
        loadOptions: {
          provider: o.provider as ExecutionProvider,
          graphOptimizationLevel: o.graphOpt as GraphOptimizationLevel,
          ...(o.threads ? { threads: o.threads as number } : {}),
        },
        ...(o.keeper ? { afterPoll: keeperHook(client, logger) } : {}),
        logger,
      });
      let stoppedBy: string | undefined;
      if (o.once) {
        await w.idle();
        await w.stop();
      } else stoppedBy = await runUntilSignal(w, logger);
      const s = w.stats();
      logger.info("summary", `assignments ${s.assignments}, submitted ${s.submitted}, generator faults ${s.generatorFaults}, skipped ${s.skipped}, waiting for a model ${s.waitingModel}, draws ${s.draws}, top-ups ${s.rebonds}`, { ...s });
      if (!w.chainChange() || stoppedBy || o.once) {
        if (w.chainChange()) process.exitCode = 3;
        break;
      }
      const next = await waitForRedeploy(o, identity, logger);
      if (!next) break;
      closeClient(client);
      client = next.client;
      }
    } finally {
      closeClient(client);
    }
  });
}

/** The `worker` command group (the generator worker is added here as a sibling subcommand). */
export function workerCommand(): Command {
  return new Command("worker").description("long-running workers (verifier oracle, generator)").addCommand(verifierWorkerCommand()).addCommand(generatorWorkerCommand());
}
