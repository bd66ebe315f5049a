export * from "./errors.js";
export * from "./float16.js";
export * from "./schema.js";
export * from "./encoding.js";
export * from "./root.js";
export * from "./bitmap.js";
export * from "./store.js";
export * from "./plan.js";
