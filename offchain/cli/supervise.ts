/**
 * What a long-running `poc worker …` process does around its worker:
 *
 * - `runUntilSignal(w, log)`: wait for the worker to stop; the first SIGINT/SIGTERM (or the end of
 *   the `npx` launcher that started us, `watchLauncher`) stops it cleanly, a second signal exits at once.
 * - `watchLauncher(onGone)`: under `npx`, npm forwards SIGTERM only to the `sh -c poc …` it spawned,
 *   which dies without passing it on; so when we were started by `npm exec` and our parent
 *   process goes away, we treat it as SIGTERM (a worker started directly, e.g. with nohup, is not watched).
 * - `waitForRedeploy(…)`: after the worker stopped because the chain or the pool changed under it
 *   (node restarted, pool redeployed or gone), wait quietly until a pool of another identity is
 *   reachable (the deployment record is read again each time), so the worker can start afresh.
 * - `keeperHook(client, log)`: the `--keeper` step run after each poll.
 */
import { describeError, type PoolClient } from "../chain/index.js";
import { Keeper } from "../keeper/advance.js";
import { compareIdentity, readChainIdentity, type ChainIdentity } from "../worker/chain-identity.js";
import type { Logger } from "../worker/log.js";
import { RateLimiter } from "../worker/rate-limit.js";
import { closeClient, connectFromOptions, type ChainCliOptions } from "./chain-options.js";

type Warn = { warn(e: string, m: string, f?: Record<string, unknown>): void };

/** Call `onGone` once when the process was started by `npm exec` / `npx` and its parent exits. */
export function watchLauncher(onGone: (why: string) => void, env: NodeJS.ProcessEnv = process.env, everyMs = 500): () => void {
  if (env.npm_command !== "exec" && env.npm_lifecycle_event !== "npx") return () => {};
  const parent = process.ppid;
  const t = setInterval(() => {
    if (process.ppid !== parent) {
      clearInterval(t);
      onGone(`the npx launcher (parent pid ${parent}) has exited`);
    }
  }, everyMs);
  t.unref();
  return () => clearInterval(t);
}

/**
 * Wait for `done`, stopping on the first SIGINT/SIGTERM (or the launcher's end) with `stop()`; a
 * second signal exits at once (the state file is always consistent, so even that loses nothing but
 * the work in flight). Resolves with the signal that stopped the worker (undefined: it stopped itself).
 */
export async function runUntilSignal(w: { stop(): Promise<void>; done: Promise<void> }, log: Warn): Promise<string | undefined> {
  let signals = 0;
  let stoppedBy: string | undefined;
  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      log.warn("exit", `${sig} again: exiting now`);
      process.exit(130);
    }
    stoppedBy = sig;
    log.warn("signal", `${sig}: stopping (press Ctrl-C again to exit at once)`);
    void w.stop();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const unwatch = watchLauncher((why) => {
    if (stoppedBy) return;
    stoppedBy = "launcher";
    log.warn("signal", `${why}: stopping`);
    void w.stop();
  });
  try {
    await w.done;
  } finally {
    unwatch();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
  return stoppedBy;
}

/**
 * Wait until the options connect to a pool whose identity differs from `old` and that has code
 * (a redeployment), checking every `everyMs`; undefined when a signal (or the launcher's end) came first.
 */
export async function waitForRedeploy(o: ChainCliOptions, old: ChainIdentity, log: Logger, everyMs = 3000): Promise<{ client: PoolClient; identity: ChainIdentity } | undefined> {
  let stop = false;
  let wake: (() => void) | undefined;
  const onSignal = () => {
    stop = true;
    wake?.();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const unwatch = watchLauncher(onSignal);
  log.warn("waiting-for-pool", `waiting for the pool to be deployed again (e.g. npx hardhat run scripts/deploy.ts --network localhost); checking every ${Math.round(everyMs / 1000)} s, Ctrl-C to stop`);
  try {
    while (!stop) {
      try {
        const { client } = await connectFromOptions({ ...o }, true);
        const now = await readChainIdentity(client);
        if (now.poolCodeHash !== null && compareIdentity(old, now) !== undefined) {
          log.info("pool-found", `a new deployment of the pool is at ${client.address} (deployment block ${now.deployBlock}): starting again with a fresh state`);
          return { client, identity: now };
        }
        closeClient(client);
      } catch {
        // not reachable or no deployment yet: keep waiting, quietly
      }
      await new Promise<void>((ok) => {
        const t = setTimeout(ok, everyMs);
        wake = () => {
          clearTimeout(t);
          ok();
        };
      });
    }
    return undefined;
  } finally {
    unwatch();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

/** The `--keeper` step: advance every due job of the pool, logging what was sent (failures at most once a minute per job). */
export function keeperHook(client: PoolClient, log: Logger): () => Promise<void> {
  const quiet = new RateLimiter(60_000);
  const k = new Keeper(client, {
    onAdvance: (r) => {
      if (r.done) log.info("keeper-advanced", `keeper: job ${r.plan.jobId}: ${r.done.summary}`, { jobId: r.plan.jobId, action: r.done.action, tx: r.done.tx.hash });
      else if (r.notYet && quiet.allow(`notyet:${r.plan.jobId}:${r.notYet}`)) log.debug("keeper-not-yet", `keeper: job ${r.plan.jobId}: ${r.plan.due} not yet: ${r.notYet}`, { jobId: r.plan.jobId });
    },
    onError: (jobId, e) => {
      if (quiet.allow(`err:${jobId}:${describeError(e)}`)) log.warn("keeper-failed", `keeper: job ${jobId}: ${describeError(e)} (will retry; repeated at most once a minute)`, { jobId, error: describeError(e) });
    },
    onSync: ({ pending, tx }) => log.info("keeper-synced", `keeper: syncPending (${pending} verifier(s) waited for their weights to follow their bonds; tx ${tx.hash})`, { pending, tx: tx.hash }),
    onSyncError: (e) => {
      if (quiet.allow(`sync:${describeError(e)}`)) log.warn("keeper-sync-failed", `keeper: syncPending: ${describeError(e)} (will retry; repeated at most once a minute)`, { error: describeError(e) });
    },
  });
  return async () => {
    await k.tick();
  };
}
