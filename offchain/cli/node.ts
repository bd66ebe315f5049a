/**
 * `poc node [--hostname H] [--port P]`: a local development chain — Hardhat's node (chain 31337, the
 * project's config) — that stops the way the workers do.
 *
 * `npx hardhat node &` followed by `kill $!` leaves the node running: npm forwards the signal only to
 * the `sh -c hardhat …` it spawned, which dies without passing it on. `npx poc node` runs in the pid
 * the shell reports (bin/poc.js), starts the node as its child, forwards SIGINT/SIGTERM/SIGHUP to it,
 * and stops it when the `npx` launcher goes away (supervise.ts `watchLauncher`); it exits with the
 * node's status.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Command } from "commander";
import { port } from "./options.js";
import { watchLauncher } from "./supervise.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** Hardhat's CLI script (its package.json `bin`). */
function hardhatCli(): string {
  const require = createRequire(import.meta.url);
  const pkg = require.resolve("hardhat/package.json");
  const bin = (JSON.parse(readFileSync(pkg, "utf8")) as { bin: string | Record<string, string> }).bin;
  return join(dirname(pkg), typeof bin === "string" ? bin : bin.hardhat!);
}

export function nodeCommand(): Command {
  return new Command("node")
    .description("a local development chain: Hardhat's node (chain 31337) on 127.0.0.1:8545; `kill PID` and Ctrl-C stop it, as they stop the workers")
    .option("--hostname <host>", "address to listen on", "127.0.0.1")
    .option("--port <port>", "port to listen on", port, 8545)
    .action(async (o: { hostname: string; port: number }) => {
      const child = spawn(process.execPath, [hardhatCli(), "node", "--hostname", o.hostname, "--port", String(o.port)], { cwd: ROOT, stdio: "inherit" });
      const stop = (sig: NodeJS.Signals) => {
        if (child.exitCode === null && child.signalCode === null) child.kill(sig);
      };
      for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(sig, () => stop(sig));
      const unwatch = watchLauncher(() => stop("SIGTERM"));
      const code = await new Promise<number>((ok) => {
        child.on("error", (e) => {
          console.error(`poc node: cannot start Hardhat's node: ${e.message}`);
          ok(1);
        });
        child.on("exit", (c, signal) => ok(c ?? (signal === "SIGINT" || signal === "SIGTERM" ? 0 : 1)));
      });
      unwatch();
      process.exit(code);
    });
}
