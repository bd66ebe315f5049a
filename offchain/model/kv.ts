/**
 * The KV cache as onnxruntime returns it: per layer the `present.{i}.key|value` tensors of shape
 * [1, kvHeads, length, headDim] (fp32 or fp16), fed back unchanged as `past_key_values.{i}.*`.
 */
import type { Tensor } from "onnxruntime-node";
import { f16BitsToF32 } from "../receipt/float16.js";
import { ModelInputError } from "./errors.js";

export type KvKind = "key" | "value";
export interface KvLayer {
  readonly key: Tensor;
  readonly value: Tensor;
}
export interface KvCache {
  /** Number of positions held (the third dimension). */
  readonly length: number;
  /** One entry per layer from layer 0; fewer than the model's layers for a `fetchLayers` forward. */
  readonly layers: readonly KvLayer[];
}

/**
 * The KV row of one position: all kv heads concatenated (head-major), `kvHeads * headDim` fp32
 * numbers — the `present.{layer}.{kind}` vector a KV sample records (docs/PROTOCOL.md).
 */
export function kvRow(cache: KvCache, layer: number, kind: KvKind, position: number): Float32Array {
  const entry = cache.layers[layer];
  if (!entry) throw new ModelInputError(`KV cache has no layer ${layer} (it holds ${cache.layers.length})`);
  if (!Number.isInteger(position) || position < 0 || position >= cache.length)
    throw new ModelInputError(`KV position ${position} out of range [0, ${cache.length})`);
  const t = entry[kind];
  const [, kvHeads, len, headDim] = t.dims as [number, number, number, number];
  const out = new Float32Array(kvHeads * headDim);
  const data = t.data as ArrayLike<number>;
  const half = t.type === "float16" && data instanceof Uint16Array;
  for (let h = 0; h < kvHeads; h++) {
    const base = (h * len + position) * headDim;
    for (let j = 0; j < headDim; j++) {
      const v = data[base + j]!;
      out[h * headDim + j] = half ? f16BitsToF32(v) : v;
    }
  }
  return out;
}

/** The first `layers` layers of a cache (a view, no copy). */
export function kvPrefixLayers(cache: KvCache, layers: number): KvCache {
  return { length: cache.length, layers: cache.layers.slice(0, layers) };
}
