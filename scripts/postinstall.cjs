// Hardhat 3 needs Node.js >= 22 and its native EDR package declares `engines: >= 22`, so npm
// running under an older Node silently skips it. When that happened, run the same install again
// under the Node 22 binary that the `node` devDependency brought, so EDR's platform package lands.
"use strict";
const { spawnSync } = require("node:child_process");
const path = require("node:path");
const fs = require("node:fs");

// npm puts node_modules/.bin (which holds Node 22) first on PATH for scripts, so the Node that
// runs this file is not the one that ran npm: ask npm's own Node for its version.
const npmNode = process.env.npm_node_execpath || process.execPath;
const npmNodeVersion = spawnSync(npmNode, ["-p", "process.versions.node"], { encoding: "utf8" }).stdout.trim();
const major = Number(npmNodeVersion.split(".")[0]);
if (major >= 22 || process.env.POC_POSTINSTALL_RERUN === "1") process.exit(0);

const root = path.resolve(__dirname, "..");
const node22 = path.join(root, "node_modules", "node", "bin", "node");
const npmCli = process.env.npm_execpath;
if (!fs.existsSync(node22) || !npmCli) {
  console.error(
    "postinstall: npm ran under Node " + npmNodeVersion +
      " and no Node 22 binary was found in node_modules/node; install Node.js >= 22 and run npm install again."
  );
  process.exit(1);
}
console.log("postinstall: npm ran under Node " + npmNodeVersion + "; re-running npm install under Node 22 so Hardhat's native EDR package is installed");
const res = spawnSync(node22, [npmCli, "install", "--no-audit", "--no-fund"], {
  cwd: root,
  stdio: "inherit",
  env: { ...process.env, POC_POSTINSTALL_RERUN: "1" },
});
process.exit(res.status ?? 1);
