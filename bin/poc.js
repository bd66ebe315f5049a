#!/usr/bin/env node
// Launcher for the `poc` CLI: runs offchain/cli/main.ts under the project's Node (>= 22) with tsx,
// so `npx poc …` works right after `npm install` without a separate build step.
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { existsSync } from "node:fs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(import.meta.url);
const major = Number(process.versions.node.split(".")[0]);
const node22 = join(root, "node_modules", "node", "bin", "node");
const nodeBin = major >= 22 ? process.execPath : existsSync(node22) ? node22 : null;
if (nodeBin === null) {
  console.error(`poc needs Node.js >= 22 (this is ${process.versions.node}); run npm install in ${root} first.`);
  process.exit(1);
}
const tsx = pathToFileUrlString(require.resolve("tsx"));
const res = spawnSync(nodeBin, ["--import", tsx, join(root, "offchain", "cli", "main.ts"), ...process.argv.slice(2)], {
  stdio: "inherit",
});
if (res.signal) process.kill(process.pid, res.signal);
process.exit(res.status ?? 1);

function pathToFileUrlString(p) {
  return new URL(`file://${p}`).href;
}
