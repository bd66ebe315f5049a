import { Command } from "commander";

const program = new Command()
  .name("poc")
  .description("Proof of Cache: build and load models, generate with KV-cache sampling, verify receipts, run workers")
  .showHelpAfterError();

program.parse();
