#!/usr/bin/env node
// Launcher for the `poc` CLI: runs offchain/cli/main.ts under the project's Node (>= 22) with tsx,
// so `npx poc …` works right after `npm install` without a separate build step.
//
// Under Node >= 22 (what `npx` finds first on its PATH: the `node` devDependency) the CLI runs in
// this very process (tsx registered in-process), so the pid a shell reports for `npx poc worker …`
// or `node bin/poc.js worker …` is the worker's own, and SIGINT/SIGTERM reach the worker directly.
// Under an older Node it starts the project's Node 22 as a child and forwards every signal it can
// catch to it, exiting with the child's status (or re-raising the child's signal).
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { existsSync } from "node:fs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const main = join(root, "offchain", "cli", "main.ts");
const major = Number(process.versions.node.split(".")[0]);

if (major >= 22) {
  const { register } = await import("tsx/esm/api");
  register();
  await import(pathToFileURL(main).href);
} else {
  const node22 = join(root, "node_modules", "node", "bin", "node");
  if (!existsSync(node22)) {
    console.error(`poc needs Node.js >= 22 (this is ${process.versions.node}); run npm install in ${root} first.`);
    process.exit(1);
  }
  const require = createRequire(import.meta.url);
  const tsx = pathToFileURL(require.resolve("tsx")).href;
  const child = spawn(node22, ["--import", tsx, main, ...process.argv.slice(2)], { stdio: "inherit" });
  const forward = (sig) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(sig);
  };
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2"]) process.on(sig, () => forward(sig));
  child.on("error", (e) => {
    console.error(`poc: cannot start ${node22}: ${e.message}`);
    process.exit(1);
  });
  child.on("exit", (code, signal) => {
    if (signal) {
      for (const sig of ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"]) process.removeAllListeners(sig);
      process.kill(process.pid, signal);
      return;
    }
    process.exit(code ?? 1);
  });
}
