import { readFileSync } from "node:fs";
import { Command } from "commander";
import { receiptsCommand } from "./receipts.js";
import { modelCommand } from "./model.js";
import { generateCommand } from "./generate.js";
import { verifyCommand } from "./verify.js";
import { calibrateCommand } from "./calibrate.js";
import { workerCommand } from "./worker.js";
import { verifierCommand } from "./verifier.js";
import { jobCommand, withdrawCommand } from "./job.js";
import { poolCommand } from "./pool.js";
import { devnetCommand } from "./devnet.js";
import { dashboardCommand } from "./dashboard.js";
import { gatewayCommand } from "./gateway.js";
import { generatorCommand } from "./generator.js";
import { nodeCommand } from "./node.js";
import { PocError } from "../errors.js";

/** The project's version, from its package.json (two directories up from offchain/cli). */
const version = (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }).version;

const program = new Command()
  .name("poc")
  .description("Proof of Cache: build and load models, generate with KV-cache sampling, verify receipts, run workers")
  .version(version, "-V, --version", "print the version")
  .showHelpAfterError();

program.addCommand(modelCommand());
program.addCommand(receiptsCommand());
program.addCommand(generateCommand());
program.addCommand(verifyCommand());
program.addCommand(calibrateCommand());
program.addCommand(workerCommand());
program.addCommand(verifierCommand());
program.addCommand(jobCommand());
program.addCommand(poolCommand());
program.addCommand(generatorCommand());
program.addCommand(withdrawCommand());
program.addCommand(nodeCommand());
program.addCommand(devnetCommand());
program.addCommand(dashboardCommand());
program.addCommand(gatewayCommand());

// A PocError (bad input, model or receipt fault) prints its message and details, no stack trace,
// unless POC_DEBUG=1; anything else is a bug and prints in full. Either way the exit code is 1.
program.parseAsync().catch((e: unknown) => {
  if (e instanceof PocError && process.env.POC_DEBUG !== "1") console.error(`error: ${e.message}`);
  else console.error(e);
  process.exitCode = 1;
});
