import { Command } from "commander";
import { receiptsCommand } from "./receipts.js";
import { modelCommand } from "./model.js";

const program = new Command()
  .name("poc")
  .description("Proof of Cache: build and load models, generate with KV-cache sampling, verify receipts, run workers")
  .showHelpAfterError();

program.addCommand(modelCommand());
program.addCommand(receiptsCommand());

program.parse();
