/** Moved to offchain/chain/state.ts (browser-safe, part of the package); re-exported for the scripts. */
export * from "../../offchain/chain/state.js";
