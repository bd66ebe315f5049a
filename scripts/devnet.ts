/**
 * `npx poc devnet` (or `npx hardhat run scripts/devnet.ts`): the whole network on one machine, until
 * Ctrl-C (scripts/devnet/core.ts). Options come from the environment, set by `poc devnet`:
 * POC_DEVNET_PRESET (tiny), POC_DEVNET_DIR (.poc/devnet), POC_DEVNET_RPC_PORT (8545),
 * POC_DEVNET_GENERATOR_PORT (8546), POC_DEVNET_DASHBOARD_PORT (8001),
 * POC_DEVNET_GATEWAY_PORT (8000), POC_DEVNET_VERIFIERS (4).
 */
import { network } from "hardhat";
import type { PresetName } from "../offchain/model/index.js";
import { startDevnet } from "./devnet/core.js";

const env = process.env;
const int = (name: string, dflt: number) => {
  const raw = env[name];
  if (raw === undefined || raw === "") return dflt;
  if (!/^\d+$/.test(raw)) throw new Error(`${name} must be a non-negative integer, got "${raw}"`);
  return Number(raw);
};

const connection = await network.create();
let stopping = false;
try {
  const devnet = await startDevnet({
    connection,
    preset: (env.POC_DEVNET_PRESET ?? "tiny") as PresetName,
    ...(env.POC_DEVNET_DIR ? { dir: env.POC_DEVNET_DIR } : {}),
    rpcPort: int("POC_DEVNET_RPC_PORT", 8545),
    generatorPort: int("POC_DEVNET_GENERATOR_PORT", 8546),
    dashboardPort: int("POC_DEVNET_DASHBOARD_PORT", 8001),
    gatewayPort: int("POC_DEVNET_GATEWAY_PORT", 8000),
    verifiers: int("POC_DEVNET_VERIFIERS", 4),
  });
  console.log("");
  console.log("accounts (Hardhat's default mnemonic; `--account N` of every poc command):");
  for (const [i, a] of devnet.accounts.entries()) console.log(`  ${a.role.padEnd(36)} ${a.address}${i === devnet.accounts.length - 1 ? "  (account 9)" : `  (account ${i + 1})`}`);
  console.log("");
  const body = JSON.stringify({ model: devnet.modelName, messages: [{ role: "user", content: "Hi" }], max_tokens: 16 });
  console.log(`try:  curl -s ${devnet.gatewayUrl}/v1/chat/completions -H 'content-type: application/json' -d '${body}'`);
  console.log(`      then watch the job on ${devnet.dashboardUrl}/ and challenge it: npx poc job challenge JOB --rpc ${devnet.rpcUrl} --account 1`);
  console.log(`  or: npx poc job open --rpc ${devnet.rpcUrl} --account 1 --generator ${devnet.generator.address} --model ${devnet.modelDir} --prompt Hello --max-tokens 16 --cg 10 --cv 2 --mint --direct ${devnet.generator.url}`);
  console.log("Ctrl-C stops everything.");
  await new Promise<void>((resolve) => {
    const stop = () => {
      if (stopping) process.exit(130);
      stopping = true;
      console.log("\nstopping the devnet …");
      resolve();
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
    // Started by `poc devnet`: stop when that process is gone.
    const parent = Number(env.POC_DEVNET_PARENT ?? 0);
    if (parent > 0) {
      const t = setInterval(() => {
        try {
          process.kill(parent, 0);
        } catch {
          clearInterval(t);
          stop();
        }
      }, 500);
      t.unref();
    }
  });
  await devnet.stop();
} catch (e) {
  if (e instanceof Error && env.POC_DEBUG !== "1") console.error(`devnet failed: ${e.message}`);
  else console.error(e);
  process.exitCode = 1;
} finally {
  await connection.close();
}
