/**
 * Canonical binary encoding of a receipt, version 2 (layout in docs/RECEIPT.md). All integers and
 * floats little-endian. The same receipt always encodes to the same bytes; `decodeReceipt` accepts
 * only bytes that `encodeReceipt` could have produced (so decode ∘ encode is the identity on bytes).
 *
 *   header  = "POCR" | u16 version | u8 kvDtype | u8 flags | modelId[32]
 *             (flags: bit 0 stopAtEos, bit 1 sampler scope "generated", bits 2–3 the replay graph
 *             optimisation level: 0 all, 1 extended, 2 basic, 3 disabled)
 *             | u64 seed | f64 temperature | f64 topP | u32 topK | u32 maxTokens
 *             | samplerSeed[32] | u32 ratePpm | u16 layersPerToken | u16 numLayers
 *             | u32 vectorLength | u32 promptLen | u32 outputLen | u32 sampleCount
 *             | u16 projectionDim | u16 minPositions
 *             | u32 promptTokens[promptLen] | u32 outputTokens[outputLen]
 *   sample  = u32 position | u16 layer | key[vectorLength] | value[vectorLength]   (f32 or f16 each)
 *   receipt = header | sample[sampleCount]
 */
import { getBytes, hexlify } from "ethers";
import type { Hex } from "../sampling/bytes.js";
import { ReceiptFormatError } from "./errors.js";
import { f16BitsToF32, f32ToF16Bits } from "./float16.js";
import { type KvDtype, type KvSample, type Receipt, type ReplayLevel, RECEIPT_VERSION, parseReceipt } from "./schema.js";

/** "POCR" */
export const RECEIPT_MAGIC = new Uint8Array([0x50, 0x4f, 0x43, 0x52]);
/** Bytes of the header before the token lists. */
export const HEADER_FIXED_BYTES = 132;
/** Bytes of a sample before its key: u32 position + u16 layer. */
export const SAMPLE_PREFIX_BYTES = 6;

const FLAG_STOP_AT_EOS = 1;
const FLAG_SCOPE_GENERATED = 2;
const LEVEL_SHIFT = 2;
const LEVEL_MASK = 3 << LEVEL_SHIFT;
const LEVEL_CODES: Record<ReplayLevel, number> = { all: 0, extended: 1, basic: 2, disabled: 3 };
const LEVEL_OF_CODE: readonly ReplayLevel[] = ["all", "extended", "basic", "disabled"];
const DTYPE_CODES: Record<KvDtype, number> = { float32: 0, float16: 1 };

/** Bytes per stored number. */
export function dtypeBytes(dtype: KvDtype): 2 | 4 {
  return dtype === "float16" ? 2 : 4;
}

/** Bytes of one encoded sample: 6 + 2 · vectorLength · (4 for float32, 2 for float16). */
export function sampleByteLength(vectorLength: number, dtype: KvDtype): number {
  return SAMPLE_PREFIX_BYTES + 2 * vectorLength * dtypeBytes(dtype);
}

/** Bytes of the header: 132 + 4 · (promptLen + outputLen). */
export function headerByteLength(promptLen: number, outputLen: number): number {
  return HEADER_FIXED_BYTES + 4 * (promptLen + outputLen);
}

/** Total encoded size of a receipt. */
export function receiptByteLength(r: Pick<Receipt, "promptTokens" | "outputTokens" | "samples" | "vectorLength" | "kvDtype">): number {
  return headerByteLength(r.promptTokens.length, r.outputTokens.length) + r.samples.length * sampleByteLength(r.vectorLength, r.kvDtype);
}

function writeHeader(dv: DataView, out: Uint8Array, r: Receipt): number {
  out.set(RECEIPT_MAGIC, 0);
  dv.setUint16(4, r.version, true);
  dv.setUint8(6, DTYPE_CODES[r.kvDtype]);
  dv.setUint8(
    7,
    (r.decoding.stopAtEos ? FLAG_STOP_AT_EOS : 0) |
      (r.sampler.scope === "generated" ? FLAG_SCOPE_GENERATED : 0) |
      (LEVEL_CODES[r.graphOptimizationLevel ?? "all"] << LEVEL_SHIFT)
  );
  out.set(getBytes(r.modelId), 8);
  dv.setBigUint64(40, r.decoding.seed, true);
  dv.setFloat64(48, r.decoding.temperature === 0 ? 0 : r.decoding.temperature, true);
  dv.setFloat64(56, r.decoding.topP, true);
  dv.setUint32(64, r.decoding.topK, true);
  dv.setUint32(68, r.decoding.maxTokens, true);
  out.set(getBytes(r.sampler.seed), 72);
  dv.setUint32(104, r.sampler.ratePpm, true);
  dv.setUint16(108, r.sampler.layersPerToken, true);
  dv.setUint16(110, r.sampler.numLayers, true);
  dv.setUint32(112, r.vectorLength, true);
  dv.setUint32(116, r.promptTokens.length, true);
  dv.setUint32(120, r.outputTokens.length, true);
  dv.setUint32(124, r.samples.length, true);
  dv.setUint16(128, r.sampler.projectionDim, true);
  dv.setUint16(130, r.sampler.minPositions, true);
  let o = HEADER_FIXED_BYTES;
  for (const t of r.promptTokens) (dv.setUint32(o, t, true), (o += 4));
  for (const t of r.outputTokens) (dv.setUint32(o, t, true), (o += 4));
  return o;
}

function writeSample(dv: DataView, o: number, s: KvSample, dtype: KvDtype): number {
  dv.setUint32(o, s.position, true);
  dv.setUint16(o + 4, s.layer, true);
  o += SAMPLE_PREFIX_BYTES;
  for (const vec of [s.key, s.value]) {
    if (dtype === "float16") {
      for (let j = 0; j < vec.length; j++, o += 2) dv.setUint16(o, f32ToF16Bits(vec[j]!), true);
    } else {
      for (let j = 0; j < vec.length; j++, o += 4) dv.setFloat32(o, vec[j]!, true);
    }
  }
  return o;
}

/**
 * The canonical bytes of a receipt. The input is validated first (`parseReceipt`; throws
 * ReceiptFormatError); float16 receipts round every number to nearest-even binary16.
 */
export function encodeReceipt(receipt: unknown): Uint8Array {
  const r = parseReceipt(receipt);
  const out = new Uint8Array(receiptByteLength(r));
  const dv = new DataView(out.buffer);
  let o = writeHeader(dv, out, r);
  for (const s of r.samples) o = writeSample(dv, o, s, r.kvDtype);
  if (o !== out.length) throw new Error(`internal: encoded ${o} of ${out.length} bytes`);
  return out;
}

/** The header bytes of a (validated) receipt: leaf 0 of the root. */
export function encodeHeader(receipt: unknown): Uint8Array {
  const r = parseReceipt(receipt);
  const out = new Uint8Array(headerByteLength(r.promptTokens.length, r.outputTokens.length));
  writeHeader(new DataView(out.buffer), out, r);
  return out;
}

/** The bytes of one sample (a leaf of the root); the sample is not range-checked here. */
export function encodeSample(sample: KvSample, vectorLength: number, dtype: KvDtype): Uint8Array {
  if (sample.key.length !== vectorLength || sample.value.length !== vectorLength) {
    throw new ReceiptFormatError(`sample vectors must have ${vectorLength} numbers`);
  }
  const out = new Uint8Array(sampleByteLength(vectorLength, dtype));
  writeSample(new DataView(out.buffer), 0, sample, dtype);
  return out;
}

/** Decode one encoded sample (as produced by `encodeSample`). */
export function decodeSample(bytes: Uint8Array, vectorLength: number, dtype: KvDtype): KvSample {
  if (bytes.length !== sampleByteLength(vectorLength, dtype)) {
    throw new ReceiptFormatError(`a sample has ${sampleByteLength(vectorLength, dtype)} bytes, got ${bytes.length}`);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return readSample(dv, 0, vectorLength, dtype);
}

function readSample(dv: DataView, o: number, V: number, dtype: KvDtype): KvSample {
  const position = dv.getUint32(o, true);
  const layer = dv.getUint16(o + 4, true);
  o += SAMPLE_PREFIX_BYTES;
  const key = new Float32Array(V);
  const value = new Float32Array(V);
  for (const vec of [key, value]) {
    if (dtype === "float16") {
      for (let j = 0; j < V; j++, o += 2) vec[j] = f16BitsToF32(dv.getUint16(o, true));
    } else {
      for (let j = 0; j < V; j++, o += 4) vec[j] = dv.getFloat32(o, true);
    }
  }
  return { position, layer, key, value };
}

/** Offsets of the parts of validated receipt bytes. */
export interface ReceiptLayout {
  headerLength: number;
  sampleLength: number;
  sampleCount: number;
}

function fail(message: string, details?: string): never {
  throw new ReceiptFormatError(message, details === undefined ? {} : { details });
}

/**
 * Decode and fully validate receipt bytes. Rejects: bad magic, unknown version, unknown dtype or
 * flag bits, non-canonical floats (−0, NaN), truncation, trailing bytes, and everything
 * `parseReceipt` rejects (unsorted/duplicate samples, out-of-range positions/layers/values, …).
 */
export function decodeReceipt(bytes: Uint8Array): Receipt {
  return decodeWithLayout(bytes).receipt;
}

/** `decodeReceipt` plus the byte layout (used to split the bytes into Merkle leaves). */
export function decodeWithLayout(bytes: Uint8Array): { receipt: Receipt; layout: ReceiptLayout } {
  if (!(bytes instanceof Uint8Array)) fail("receipt bytes must be a Uint8Array");
  if (bytes.length < 6) fail(`receipt truncated: ${bytes.length} bytes is shorter than the magic and version`);
  for (let i = 0; i < 4; i++) {
    if (bytes[i] !== RECEIPT_MAGIC[i]) fail("not a receipt: bad magic", `expected "POCR", got 0x${hexlify(bytes.subarray(0, 4)).slice(2)}`);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = dv.getUint16(4, true);
  if (version !== RECEIPT_VERSION) fail(`unsupported receipt version ${version}`, `this build reads version ${RECEIPT_VERSION}`);
  if (bytes.length < HEADER_FIXED_BYTES) fail(`receipt truncated: ${bytes.length} bytes, the fixed header alone has ${HEADER_FIXED_BYTES}`);
  const dtypeCode = dv.getUint8(6);
  const kvDtype: KvDtype | undefined = dtypeCode === 0 ? "float32" : dtypeCode === 1 ? "float16" : undefined;
  if (!kvDtype) fail(`unknown kv dtype code ${dtypeCode}`, "0 = float32, 1 = float16");
  const flags = dv.getUint8(7);
  if (flags & ~(FLAG_STOP_AT_EOS | FLAG_SCOPE_GENERATED | LEVEL_MASK)) fail(`unknown flag bits 0x${flags.toString(16)} in the header`);
  const level = LEVEL_OF_CODE[(flags & LEVEL_MASK) >> LEVEL_SHIFT]!;
  const modelId = hexlify(bytes.subarray(8, 40)) as Hex;
  const seed = dv.getBigUint64(40, true);
  const temperature = dv.getFloat64(48, true);
  if (Object.is(temperature, -0)) fail("non-canonical temperature −0");
  const topP = dv.getFloat64(56, true);
  const topK = dv.getUint32(64, true);
  const maxTokens = dv.getUint32(68, true);
  const samplerSeed = hexlify(bytes.subarray(72, 104)) as Hex;
  const ratePpm = dv.getUint32(104, true);
  const layersPerToken = dv.getUint16(108, true);
  const numLayers = dv.getUint16(110, true);
  const vectorLength = dv.getUint32(112, true);
  const promptLen = dv.getUint32(116, true);
  const outputLen = dv.getUint32(120, true);
  const sampleCount = dv.getUint32(124, true);
  const projectionDim = dv.getUint16(128, true);
  const minPositions = dv.getUint16(130, true);

  const headerLength = headerByteLength(promptLen, outputLen);
  if (bytes.length < headerLength) {
    fail(`receipt truncated: the header declares ${promptLen} prompt + ${outputLen} output tokens (${headerLength} bytes), got ${bytes.length} bytes`);
  }
  if (vectorLength < 1) fail("vectorLength must be at least 1");
  const sampleLength = sampleByteLength(vectorLength, kvDtype);
  const expected = headerLength + sampleCount * sampleLength;
  if (bytes.length < expected) {
    fail(`receipt truncated: ${sampleCount} samples of ${sampleLength} bytes need ${expected} bytes, got ${bytes.length}`);
  }
  if (bytes.length > expected) fail(`${bytes.length - expected} trailing bytes after the last sample`);

  const promptTokens: number[] = new Array(promptLen);
  const outputTokens: number[] = new Array(outputLen);
  let o = HEADER_FIXED_BYTES;
  for (let i = 0; i < promptLen; i++, o += 4) promptTokens[i] = dv.getUint32(o, true);
  for (let i = 0; i < outputLen; i++, o += 4) outputTokens[i] = dv.getUint32(o, true);
  const samples: KvSample[] = new Array(sampleCount);
  for (let i = 0; i < sampleCount; i++, o += sampleLength) samples[i] = readSample(dv, o, vectorLength, kvDtype);

  let receipt: Receipt;
  try {
    receipt = parseReceipt({
      version,
      modelId,
      promptTokens,
      outputTokens,
      decoding: { seed, temperature, topK, topP, maxTokens, stopAtEos: (flags & FLAG_STOP_AT_EOS) !== 0 },
      sampler: { seed: samplerSeed, ratePpm, layersPerToken, numLayers, scope: flags & FLAG_SCOPE_GENERATED ? "generated" : "all", projectionDim, minPositions },
      kvDtype,
      vectorLength,
      samples,
      ...(level !== "all" ? { graphOptimizationLevel: level } : {}),
    });
  } catch (e) {
    if (e instanceof ReceiptFormatError) fail("malformed receipt bytes", e.details);
    throw e;
  }
  return { receipt, layout: { headerLength, sampleLength, sampleCount } };
}
