/**
 * `poc dashboard`: the live dashboard of one pool (offchain/dashboard/README.md).
 *
 *   npx poc dashboard [--rpc URL] [--pool ADDRESS] [--port 8001] [--host 127.0.0.1]
 *                     [--user-store DIR (--account N | --user ADDRESS)] [--models DIR]
 *
 * Prints the URL and serves until Ctrl-C. With `--user-store`, the page shows the answers of the jobs
 * of one user (the address of `--account`/POC_PRIVATE_KEY, or `--user`) whose receipts are in that
 * store; every other answer shows as "private". `--models` turns the answer's tokens into text.
 */
import { Command } from "commander";
import { getAddress } from "ethers";
import { ChainConfigError } from "../chain/index.js";
import { userStoreAnswers } from "../dashboard/answers.js";
import { startDashboard } from "../dashboard/server.js";
import { addChainOptions, closeClient, connectFromOptions, type ChainCliOptions } from "./chain-options.js";
import { nonNegativeInt, positiveInt } from "./options.js";
import { runUntilSignal } from "./supervise.js";

interface DashboardCliOptions extends ChainCliOptions {
  port: number;
  host: string;
  poll: number;
  userStore?: string;
  user?: string;
  models?: string;
}

export function dashboardCommand(): Command {
  const cmd = new Command("dashboard")
    .description("serve a live web page of the pool: parameters, jobs (state, parties, amounts, time left, stages, payouts), verifiers, generators")
    .option("--port <n>", "port to listen on (0: any free port)", nonNegativeInt, 8001)
    .option("--host <host>", "address to listen on", "127.0.0.1")
    .option("--poll <ms>", "how often to look for a new block", positiveInt, 1000)
    .option("--user-store <dir>", "show the answers of the user's jobs whose receipts are in this receipt store (the user: --account, POC_PRIVATE_KEY or --user)")
    .option("--user <address>", "with --user-store: the user (instead of an account)")
    .option("--models <dir>", "model directories: decode answers to text with the model's tokenizer");
  return addChainOptions(cmd).action(async (o: DashboardCliOptions) => {
    if (o.user && !/^0x[0-9a-fA-F]{40}$/.test(o.user)) throw new ChainConfigError(`--user ${o.user}: not an address`);
    if (o.userStore && !["127.0.0.1", "localhost", "::1"].includes(o.host)) {
      throw new ChainConfigError(`--user-store shows that user's answers: listen on 127.0.0.1 (not --host ${o.host})`);
    }
    const { client } = await connectFromOptions(o, false);
    try {
      let answers;
      if (o.userStore) {
        const user = o.user ? getAddress(o.user) : client.signer ? await client.account() : undefined;
        if (!user) throw new ChainConfigError("--user-store needs the user: pass --account N, set POC_PRIVATE_KEY, or pass --user ADDRESS");
        answers = userStoreAnswers({ user, storeDir: o.userStore, ...(o.models ? { modelsDir: o.models } : {}) });
      }
      let lastError = "";
      const server = await startDashboard({
        client,
        host: o.host,
        port: o.port,
        pollMs: o.poll,
        ...(answers ? { answers } : {}),
        onError: (e) => {
          const m = e instanceof Error ? e.message.split("\n")[0]! : String(e);
          if (m !== lastError) console.error(`dashboard: ${m} (retrying)`);
          lastError = m;
        },
      });
      console.log(`dashboard of pool ${client.address} on chain ${client.chainId}: ${server.url}/  (Ctrl-C stops)`);
      let stop!: () => void;
      const done = new Promise<void>((ok) => (stop = ok));
      await runUntilSignal({ stop: async () => { await server.close(); stop(); }, done }, { warn: (_e, m) => console.error(m) });
    } finally {
      closeClient(client);
    }
  });
}
