/**
 * offchain/generate: decoding with the KV cache, KV capture by the token/layer samplers, and the
 * committed receipt (see generate.ts for the exact loop and README.md for measured figures).
 */
export * from "./errors.js";
export * from "./generate.js";
