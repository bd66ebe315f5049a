export * from "./errors.js";
export * from "./bytes.js";
export * from "./rng.js";
export * from "./gumbel.js";
export * from "./decode.js";
export * from "./kv-sampler.js";
export * from "./projection.js";
