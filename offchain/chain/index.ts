/**
 * offchain/chain: a typed StakePool client over ethers v6 (client.ts), the pool's events as typed
 * records (events.ts), a job's full history (history.ts), custom errors decoded into readable reasons
 * (revert.ts), retries for transient RPC faults (retry.ts), and standalone connection to a JSON-RPC
 * endpoint (connect.ts), the GeneratorRegistry and generators' records (registry.ts, generator-record.ts).
 * ABIs come from Hardhat's artifacts (abi.ts). See README.md.
 */
export * from "./errors.js";
export * from "./abi.js";
export * from "./retry.js";
export * from "./revert.js";
export * from "./events.js";
export * from "./client.js";
export * from "./history.js";
export * from "./connect.js";
export * from "./commitment.js";
export * from "./state.js";
export * from "./abis.js";
export * from "./interfaces.js";
export * from "./deployment.js";
export * from "./jobs.js";
export * from "./next-actions.js";
export * from "./registry.js";
export * from "./generator-record.js";
export * from "./clock.js";
export * from "./draw-grace.js";
