/**
 * What a sample stores, from the rows a forward pass produced (docs/RECEIPT.md "Samples"): the
 * generator, the verifier and the attack suite all go through these two functions, so the numbers
 * they compare are computed the same way from the same rows.
 *
 * - K/V sample at layer l: the `present.{l}.key|value` rows, or with `sampler.projectionDim = r > 0`
 *   their projections `R_{seed,l,"key"} k` and `R_{seed,l,"value"} v` (offchain/sampling/projection.ts).
 * - Top sample (layer numLayers, only with projections): `R_{seed,L,"top-a"} z` and
 *   `R_{seed,L,"top-b"} z` for the logits row z of the position (float32 numbers as the model returns
 *   them; a float16 model's logits converted to float32).
 */
import { type SamplerConfig, project } from "../sampling/index.js";

export interface SampleVectors {
  key: Float32Array;
  value: Float32Array;
}

/** The stored key/value of a K/V sample at `layer` from the full rows (copied when not projected). */
export function kvSampleVectors(sampler: Pick<SamplerConfig, "seed" | "projectionDim">, layer: number, key: Float32Array, value: Float32Array): SampleVectors {
  const r = sampler.projectionDim;
  if (r === 0) return { key: Float32Array.from(key), value: Float32Array.from(value) };
  return { key: project(key, { seed: sampler.seed, layer, stream: "key" }, r), value: project(value, { seed: sampler.seed, layer, stream: "value" }, r) };
}

/** The stored key/value of a top sample from the logits row of its position (projections only). */
export function topSampleVectors(sampler: Pick<SamplerConfig, "seed" | "projectionDim" | "numLayers">, logits: ArrayLike<number>): SampleVectors {
  const r = sampler.projectionDim;
  if (r === 0) throw new RangeError("top samples exist only with projections (projectionDim > 0)");
  const layer = sampler.numLayers;
  return { key: project(logits, { seed: sampler.seed, layer, stream: "top-a" }, r), value: project(logits, { seed: sampler.seed, layer, stream: "top-b" }, r) };
}
