import { type KvDtype, type Receipt, parseReceipt } from "../../offchain/receipt/index.js";
import { parseSamplerConfig, samplePlan } from "../../offchain/sampling/index.js";
import { gaussian, mulberry32 } from "../sampling/prng.js";

export interface MakeOptions {
  promptLen?: number;
  outputLen?: number;
  vectorLength?: number;
  kvDtype?: KvDtype;
  ratePpm?: number;
  layersPerToken?: number;
  numLayers?: number;
  seed?: number;
}

/** A consistent receipt: tokens, configs and samples following samplePlan, random KV values. */
export function makeReceipt(o: MakeOptions = {}): Receipt {
  const rand = mulberry32(o.seed ?? 1);
  const P = o.promptLen ?? 12;
  const O = o.outputLen ?? 20;
  const V = o.vectorLength ?? 16;
  const tokens = Array.from({ length: P + O }, () => Math.floor(rand() * 32_000));
  const sampler = parseSamplerConfig({
    seed: "0x" + "c3".repeat(32),
    ratePpm: o.ratePpm ?? 250_000,
    layersPerToken: o.layersPerToken ?? 2,
    numLayers: o.numLayers ?? 4,
  });
  const samples = samplePlan(sampler, tokens, P).map(({ position, layer }) => ({
    position,
    layer,
    key: Float32Array.from({ length: V }, () => gaussian(rand)),
    value: Float32Array.from({ length: V }, () => gaussian(rand) * 3),
  }));
  return parseReceipt({
    version: 2,
    modelId: "0x" + "9e".repeat(32),
    promptTokens: tokens.slice(0, P),
    outputTokens: tokens.slice(P),
    decoding: { seed: "987654321", temperature: 0.7, topK: 40, topP: 0.95, maxTokens: O + 4 },
    sampler,
    kvDtype: o.kvDtype ?? "float32",
    vectorLength: V,
    samples,
  });
}

/** Expect `fn` to throw an error of class `cls` whose message matches `re`. */
export function throwsWith(fn: () => unknown, cls: new (...args: never[]) => Error, re: RegExp): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  if (!(err instanceof cls)) throw new Error(`expected ${cls.name}, got ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
  if (!re.test(err.message)) throw new Error(`message "${err.message}" does not match ${re}`);
}
