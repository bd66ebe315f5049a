/**
 * `npm run demo`: the whole protocol end to end with real inference (scripts/demo/core.ts).
 *
 *   npm run demo                                # Hardhat's in-process network
 *   npm run demo -- --network localhost         # against `npx hardhat node --hostname 127.0.0.1`: fresh
 *                                               # accounts, a 60 s challenge window waited out, the clock left alone
 *
 * Environment: POC_DEMO_PRESET (small | tiny, default small), POC_DEMO_TOKENS (tokens per job,
 * default 96), POC_DEMO_MODELS (model cache, default .poc/demo/models), POC_DEMO_DIR (run directory,
 * default .poc/demo/run). Exits 1 when any outcome or payout differs from the paper's Table 1.
 */
import { network } from "hardhat";
import { PRESETS, type PresetName } from "../offchain/model/index.js";
import { runDemo } from "./demo/core.js";

const preset = (process.env.POC_DEMO_PRESET ?? "small") as PresetName;
if (!(preset in PRESETS)) throw new Error(`POC_DEMO_PRESET must be one of ${Object.keys(PRESETS).join(", ")}`);
const tokens = Number(process.env.POC_DEMO_TOKENS ?? 96);
if (!Number.isInteger(tokens) || tokens < 2 || tokens > 1024) throw new Error("POC_DEMO_TOKENS must be an integer in 2..1024");

const connection = await network.create();
try {
  const result = await runDemo({
    connection,
    preset,
    maxTokens: tokens,
    ...(process.env.POC_DEMO_MODELS ? { modelsDir: process.env.POC_DEMO_MODELS } : {}),
    ...(process.env.POC_DEMO_DIR ? { workDir: process.env.POC_DEMO_DIR } : {}),
  });
  if (!result.ok) process.exitCode = 1;
} catch (e) {
  // A fault of the demo itself (a node without hardhat_* methods, a job that never settles, …):
  // the message without a stack trace unless POC_DEBUG=1.
  if (e instanceof Error && process.env.POC_DEBUG !== "1") console.error(`\ndemo failed: ${e.message}`);
  else console.error(e);
  process.exitCode = 1;
} finally {
  await connection.close();
}
