/** @proof-of-cache/client/abis: only the ABIs `as const` (no ethers import), for viem / abitype / wagmi. */
export * from "../../../offchain/chain/abis.js";
