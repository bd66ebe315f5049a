/**
 * The client package (packages/client, `@proof-of-cache/client`).
 *
 *   tsx scripts/build-client.ts --abis    write offchain/chain/abis.ts and addresses.ts from the
 *                                         artifacts (`npx hardhat build` first; POC_ARTIFACTS_DIR)
 *   tsx scripts/build-client.ts --check   exit 1 when those committed files differ from the artifacts
 *   tsx scripts/build-client.ts           build packages/client/dist (needs no Hardhat build: the
 *                                         generated sources are committed): one ESM bundle per entry
 *                                         with esbuild (ethers, zod, @openzeppelin/merkle-tree left
 *                                         as imports) and the .d.ts files with tsc
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { REPO_ROOT } from "./lib/deployment.js";
import { renderAbis, renderAddresses } from "./client/generate.js";
import { buildClientPackage } from "./client/build.js";

const GENERATED = {
  abis: join(REPO_ROOT, "offchain", "chain", "abis.ts"),
  addresses: join(REPO_ROOT, "offchain", "chain", "addresses.ts"),
};

/** POC_ARTIFACTS_DIR, else `<repo>/artifacts` (as offchain/chain/abi.ts, which needs abis.ts to exist). */
const artifactsDir = () => (process.env.POC_ARTIFACTS_DIR ? resolve(process.env.POC_ARTIFACTS_DIR) : join(REPO_ROOT, "artifacts"));

function generated(): Record<keyof typeof GENERATED, string> {
  return { abis: renderAbis(artifactsDir(), join(REPO_ROOT, "contracts")), addresses: renderAddresses(REPO_ROOT) };
}

const arg = process.argv[2];
if (arg === "--abis") {
  for (const [k, text] of Object.entries(generated()) as [keyof typeof GENERATED, string][]) {
    writeFileSync(GENERATED[k], text);
    console.log(`wrote ${GENERATED[k]}`);
  }
} else if (arg === "--check") {
  const stale = (Object.entries(generated()) as [keyof typeof GENERATED, string][]).filter(([k, text]) => readFileSync(GENERATED[k], "utf8") !== text);
  for (const [k] of stale) console.error(`${GENERATED[k]} differs from the artifacts: run \`npm run build:abis\``);
  process.exit(stale.length ? 1 : 0);
} else if (arg === undefined || arg === "--out") {
  const out = arg === "--out" ? resolve(process.argv[3] ?? "") : undefined;
  const r = await buildClientPackage(out ? { outDir: out } : {});
  console.log(`built ${r.outDir}: ${r.files.map((f) => `${f.path} ${f.bytes} B`).join(", ")}`);
} else {
  console.error("usage: tsx scripts/build-client.ts [--abis | --check | --out DIR]");
  process.exit(2);
}
