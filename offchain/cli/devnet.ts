/**
 * `poc devnet`: the whole network on one machine (scripts/devnet.ts run by Hardhat, which owns the
 * in-process chain). This command only validates its options, starts `hardhat run scripts/devnet.ts`
 * with them in the environment (in its own process group), forwards SIGINT/SIGTERM/SIGHUP to it, and
 * exits with its status.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Command, InvalidArgumentError } from "commander";
import { PRESETS } from "../model/index.js";
import { nonNegativeInt, port } from "./options.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

export function devnetCommand(): Command {
  return new Command("devnet")
    .description("run the whole network locally: chain on 127.0.0.1:8545, token + pool + registry, a model, a generator and four verifier workers, the gateway on :8000 and the dashboard on :8001; Ctrl-C stops everything")
    .option("--preset <name>", `model preset to build (${Object.keys(PRESETS).join(", ")})`, "tiny")
    .option("--dir <dir>", "models, worker state and logs", join(".poc", "devnet"))
    .option("--rpc-port <n>", "JSON-RPC port of the chain", port, 8545)
    .option("--generator-port <n>", "the generator's server port", port, 8546)
    .option("--dashboard-port <n>", "the dashboard's port", port, 8001)
    .option("--gateway-port <n>", "the OpenAI-compatible gateway's port", port, 8000)
    .option("--verifiers <n>", "verifier workers (4..8)", nonNegativeInt, 4)
    .action(async (o: { preset: string; dir: string; rpcPort: number; generatorPort: number; dashboardPort: number; gatewayPort: number; verifiers: number }) => {
      if (!(o.preset in PRESETS)) throw new InvalidArgumentError(`--preset must be one of ${Object.keys(PRESETS).join(", ")}`);
      if (o.verifiers < 4 || o.verifiers > 8) throw new InvalidArgumentError("--verifiers must be 4..8");
      const require = createRequire(import.meta.url);
      const cli = join(dirname(require.resolve("hardhat/package.json")), "dist", "src", "cli.js");
      if (!existsSync(join(ROOT, "hardhat.config.ts"))) throw new InvalidArgumentError(`poc devnet runs from the project checkout (no hardhat.config.ts in ${ROOT})`);
      const child = spawn(process.execPath, [cli, "run", join(ROOT, "scripts", "devnet.ts")], {
        cwd: ROOT,
        stdio: "inherit",
        // Its own process group: a terminal's Ctrl-C reaches only this process, which forwards it once
        // (the devnet stops on the first signal, exits at once on a second). It watches our pid and
        // stops when we are gone (POC_DEVNET_PARENT), so it never outlives us.
        detached: true,
        env: {
          ...process.env,
          POC_DEVNET_PRESET: o.preset,
          POC_DEVNET_DIR: resolve(o.dir),
          POC_DEVNET_RPC_PORT: String(o.rpcPort),
          POC_DEVNET_GENERATOR_PORT: String(o.generatorPort),
          POC_DEVNET_DASHBOARD_PORT: String(o.dashboardPort),
          POC_DEVNET_GATEWAY_PORT: String(o.gatewayPort),
          POC_DEVNET_VERIFIERS: String(o.verifiers),
          POC_DEVNET_PARENT: String(process.pid),
        },
      });
      for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(sig, () => child.exitCode === null && child.kill(sig));
      const code = await new Promise<number>((ok) => child.on("exit", (c, s) => ok(c ?? (s ? 130 : 1))));
      process.exitCode = code;
    });
}
