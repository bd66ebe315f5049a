/**
 * Cheating generators for the attack suite (attacks.ts): wrappers around loaded models that compute
 * something cheaper or narrower than the committed model while keeping its interface, so that
 * `generate()` produces the receipt such a generator would commit. Nothing here is used by the verifier.
 *
 * - `withNarrowCache(model, "fp16" | "int8" | "fp8")`: the KV cache is stored narrower between
 *   forward passes (the past fed back is rounded: binary16; int8 symmetric per (head, position) row;
 *   fp8 e4m3, 3 mantissa bits, saturating at 448), the new rows of each pass are exact.
 * - `routedModel(real, cheap, useReal)`: each forward runs `real` when `useReal(position, prefixHash)`
 *   holds for one of its new positions, else `cheap` (`plan-aware-skip`: cheap compute where the
 *   samplers will not look). Both must share the cache layout and dtype.
 * - `prefillDecodeModel(prefill, decode)`: multi-token forwards (the prompt) on `prefill`, single-token
 *   decoding steps on `decode`, converting the cache between their dtypes (`fp16-decode-fp32-prefill`).
 */
import * as ort from "onnxruntime-node";
import type { Tensor } from "onnxruntime-node";
import { type ForwardInput, type ForwardOutput, type KvCache, type LoadedModel, float32ToHalf, halfToFloat32 } from "../model/index.js";
import { PrefixHasher } from "../sampling/index.js";
import { roundToF16 } from "../receipt/index.js";

export type NarrowCache = "fp16" | "int8" | "fp8";

function wrap(model: LoadedModel, forward: (input: ForwardInput) => Promise<ForwardOutput>): LoadedModel {
  const w = Object.create(model) as LoadedModel;
  Object.defineProperty(w, "forward", { value: forward });
  return w;
}

/** Round to fp8 e4m3 (3 mantissa bits, max 448, subnormals below 2^-6), nearest. */
function roundE4m3(x: number): number {
  const a = Math.abs(x);
  if (a === 0) return 0;
  const e = Math.max(Math.floor(Math.log2(a)), -6);
  const q = 2 ** (e - 3);
  return Math.sign(x) * Math.min(448, Math.round(a / q) * q);
}

function narrowTensor(t: Tensor, mode: NarrowCache): Tensor {
  if (t.type !== "float32") return t; // an fp16 cache is already binary16; int8/fp8 of fp16 handled below
  const [b, h, len, d] = t.dims as [number, number, number, number];
  const src = t.data as Float32Array;
  const out = new Float32Array(src.length);
  if (mode === "fp16") for (let i = 0; i < src.length; i++) out[i] = roundToF16(src[i]!);
  else if (mode === "fp8") for (let i = 0; i < src.length; i++) out[i] = roundE4m3(src[i]!);
  else
    for (let r = 0; r < b * h * len; r++) {
      let m = 0;
      for (let j = 0; j < d; j++) m = Math.max(m, Math.abs(src[r * d + j]!));
      const scale = m / 127 || 1;
      for (let j = 0; j < d; j++) out[r * d + j] = Math.round(src[r * d + j]! / scale) * scale;
    }
  return new ort.Tensor("float32", out, t.dims);
}

function narrowHalfTensor(t: Tensor, mode: NarrowCache): Tensor {
  if (t.type !== "float16" || mode === "fp16") return t;
  const f = narrowTensor(new ort.Tensor("float32", halfToFloat32(t.data as Uint16Array), t.dims), mode);
  return new ort.Tensor("float16", float32ToHalf(f.data as Float32Array), t.dims);
}

function mapCache(c: KvCache, f: (t: Tensor) => Tensor): KvCache {
  return { length: c.length, layers: c.layers.map((l) => ({ key: f(l.key), value: f(l.value) })) };
}

/** The model with its KV cache stored narrower between passes (module comment). */
export function withNarrowCache(model: LoadedModel, mode: NarrowCache): LoadedModel {
  const f = (t: Tensor) => (t.type === "float16" ? narrowHalfTensor(t, mode) : narrowTensor(t, mode));
  return wrap(model, (input) => model.forward({ ...input, past: input.past && mapCache(input.past, f) }));
}

/** Per forward, `real` when one of its new positions satisfies useReal, else `cheap` (module comment). */
export function routedModel(real: LoadedModel, cheap: LoadedModel, useReal: (position: number, prefixHash: string) => boolean): LoadedModel {
  const hasher = new PrefixHasher();
  return wrap(real, async (input) => {
    const start = input.past?.length ?? 0;
    if (start === 0 && hasher.length > 0) throw new Error("routedModel: one generation per wrapper");
    let any = false;
    for (let i = 0; i < input.tokens.length; i++) if (useReal(start + i, hasher.push(input.tokens[i]!))) any = true;
    return (any ? real : cheap).forward(input);
  });
}

function castCache(c: KvCache, to: "float32" | "float16"): KvCache {
  return mapCache(c, (t) => {
    if (t.type === to) return t;
    return to === "float16"
      ? new ort.Tensor("float16", float32ToHalf(t.data as Float32Array), t.dims)
      : new ort.Tensor("float32", halfToFloat32(t.data as Uint16Array), t.dims);
  });
}

/** Prompt forwards on `prefill`, decoding steps on `decode`, the cache converted between them (module comment). */
export function prefillDecodeModel(prefill: LoadedModel, decode: LoadedModel): LoadedModel {
  const type = (m: LoadedModel) => (m.config.dtype === "fp16" ? "float16" : "float32");
  return wrap(prefill, async (input) => {
    const m = input.tokens.length > 1 || input.past === null ? prefill : decode;
    const out = await m.forward({ ...input, past: input.past && castCache(input.past, type(m)) });
    return { logits: out.logits, present: castCache(out.present, type(prefill)) };
  });
}
