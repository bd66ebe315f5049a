/**
 * offchain/verify: one-pass prefill replay, KV matching within calibrated tolerances, token checks
 * and the canonical match bitmap (verify.ts); the error metric and thresholds (metric.ts);
 * calibration (calibrate.ts) and the attack/honesty suite (attacks.ts). See README.md.
 *
 * The index exports the verifier only: attacks.ts and calibrate.ts generate receipts (they import
 * offchain/generate) and are imported by path by the CLI, the benchmark and the tests, so that a
 * verifier (the worker) never loads the generator.
 */
export * from "./errors.js";
export * from "./metric.js";
export * from "./verify.js";
