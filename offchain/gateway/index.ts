/**
 * offchain/gateway: the user's OpenAI-compatible HTTP API over private Proof of Cache jobs
 * (README.md here; `poc gateway` in offchain/cli/gateway.ts).
 */
export * from "./errors.js";
export * from "./openai-schema.js";
export * from "./prompt.js";
export * from "./models.js";
export * from "./amounts.js";
export * from "./directory.js";
export * from "./generator-link.js";
export * from "./open-job.js";
export * from "./policies.js";
export * from "./settle.js";
export * from "./job-runner.js";
export * from "./server.js";
export * from "./gateway.js";
export * from "./records.js";
