/**
 * @proof-of-cache/client: what a dApp needs to read and drive a Proof of Cache StakePool from a
 * browser or Node — the ABIs `as const`, the deployment records, the typed chain client, the pool's
 * events, a job's history, every job from one log pass, what can happen next, and the receipt and
 * request decoders. One implementation: these are the repository's own modules (offchain/), bundled.
 * ethers v6 is a peer dependency.
 */
export * from "../../../offchain/chain/abis.js";
export * from "../../../offchain/chain/deployment.js";
export * from "../../../offchain/chain/state.js";
export * from "../../../offchain/chain/errors.js";
export * from "../../../offchain/chain/interfaces.js";
export * from "../../../offchain/chain/retry.js";
export * from "../../../offchain/chain/revert.js";
export * from "../../../offchain/chain/events.js";
export * from "../../../offchain/chain/client.js";
export * from "../../../offchain/chain/history.js";
export * from "../../../offchain/chain/jobs.js";
export * from "../../../offchain/chain/next-actions.js";
export * from "../../../offchain/chain/commitment.js";
// Generators found on-chain (docs/NETWORK.md): the GeneratorRegistry client, records from pool events, ranking.
export * from "../../../offchain/chain/registry.js";
export * from "../../../offchain/chain/generator-record.js";
export { PocError } from "../../../offchain/errors.js";

// Receipts (docs/RECEIPT.md): bytes ⇄ record, the Merkle root committed on-chain, bitmaps.
export { decodeReceipt, encodeReceipt } from "../../../offchain/receipt/encoding.js";
export { receiptRoot, receiptLeaves, sampleProof, headerProof, verifySampleProof, verifyHeaderProof } from "../../../offchain/receipt/root.js";
export { parseReceipt, RECEIPT_VERSION, type Receipt, type KvSample, type KvDtype } from "../../../offchain/receipt/schema.js";
export { numChecks, decodeBitmap, encodeBitmap, matchedIndices, isAllMatched, bitmapFromHex, bitmapToHex } from "../../../offchain/receipt/bitmap.js";
export { ReceiptFormatError, BitmapError } from "../../../offchain/receipt/errors.js";

// Job requests (offchain/request): the canonical encoding bound on-chain by requestHash.
export {
  REQUEST_VERSION,
  RequestError,
  jobRequestSchema,
  parseJobRequest,
  encodeJobRequest,
  decodeJobRequest,
  requestHash,
  requestToDataUri,
  fetchJobRequest,
  samplerSeedFor,
  checkReceiptAgainstJob,
  type JobRequest,
  type JobRequestInput,
  type BindingCheck,
} from "../../../offchain/request/index.js";
