/** StakePool parameters for the scripts: the library's (offchain/chain/pool-params.ts), re-exported. */
export * from "../../offchain/chain/pool-params.js";
