/** Deployment records on disk for the scripts: the library's (offchain/chain/deployment-file.ts), re-exported. */
export * from "../../offchain/chain/deployment-file.js";
