/**
 * offchain/verify: one-pass prefill replay, KV matching within calibrated tolerances, token checks
 * and the canonical match bitmap (verify.ts); the error metric and thresholds (metric.ts);
 * calibration (calibrate.ts) and the attack/honesty suite (attacks.ts). See README.md.
 */
export * from "./errors.js";
export * from "./metric.js";
export * from "./verify.js";
export * from "./attacks.js";
export * from "./calibrate.js";
