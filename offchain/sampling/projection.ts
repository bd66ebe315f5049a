/**
 * Seeded random projections of vectors (K/V rows, logits rows): the receipt stores `r` numbers
 * `y = R x` instead of the whole row `x`, with `R` an `r × n` matrix of ±1/√r entries that both
 * sides derive from a seed (issue 9: receipt size). `E‖R x‖² = ‖x‖²`, so the relative L2 error of a
 * projected claim estimates the relative L2 error of the row (Johnson–Lindenstrauss; with r = 32 the
 * ratio ‖R e‖/‖e‖ stays within ×0.6 … ×1.4 for almost every error vector e).
 *
 * Pure and deterministic: the same (key, n, r) always gives the same matrix on every machine, and
 * `project` accumulates in float64 and rounds the result once to float32, so it depends only on the
 * row's numbers (any rounding of the row itself is the caller's).
 *
 * ## Construction (version 1, preimages packed like Solidity's abi.encodePacked, integers big-endian)
 *     key     = keccak256("poc.projection.v1" ‖ seed[32] ‖ uint32(layer) ‖ stream)
 *     block_c = keccak256(key ‖ uint32(c))                                   c = 0, 1, …
 *     bit t   = bit (7 − t mod 8) of byte ⌊(t mod 256) / 8⌋ of block_⌊t/256⌋  (MSB first)
 *     R[i][j] = (bit (i·n + j) ? −1 : +1) / √r                                 i < r, j < n
 * `stream` is an ASCII name that separates independent matrices of one (seed, layer): the receipt uses
 * "key" and "value" for K/V rows and "top-a" / "top-b" for the two halves of a top sample (logits);
 * other uses (e.g. a post-commit fingerprint of the replay) should pick their own stream names.
 *
 * Matrices are cached (a few, least recently used first out): a verifier projects many rows with the
 * same (seed, layer, stream).
 */
import { concatBytes, hex32Bytes, keccakBytes, tagBytes, uintBE } from "./bytes.js";
import { SamplingError } from "./errors.js";

export const PROJECTION_DOMAIN = "poc.projection.v1";
/** Largest output dimension accepted (receipts store it as uint16). */
export const MAX_PROJECTION_DIM = 4096;

/** Which matrix: the job's seed (32-byte hex), a layer index and a stream name. */
export interface ProjectionKey {
  seed: string;
  layer: number;
  stream: string;
}

/** The 32-byte key of a matrix (module comment). */
export function projectionMatrixKey(k: ProjectionKey): Uint8Array {
  if (!Number.isInteger(k.layer) || k.layer < 0 || k.layer > 0xffff_ffff) throw new SamplingError(`projection layer must be a uint32 (got ${k.layer})`);
  if (!/^[\x21-\x7e]{1,64}$/.test(k.stream)) throw new SamplingError(`projection stream must be 1–64 printable ASCII characters (got "${k.stream}")`);
  return keccakBytes(concatBytes(tagBytes(PROJECTION_DOMAIN), hex32Bytes(k.seed), uintBE(k.layer, 4), tagBytes(k.stream)));
}

function checkDims(inDim: number, outDim: number): void {
  if (!Number.isInteger(inDim) || inDim < 1) throw new SamplingError(`projection input dimension must be a positive integer (got ${inDim})`);
  if (!Number.isInteger(outDim) || outDim < 1 || outDim > MAX_PROJECTION_DIM)
    throw new SamplingError(`projection dimension must be an integer in [1, ${MAX_PROJECTION_DIM}] (got ${outDim})`);
}

/** The signs of R as ±1 (row-major, outDim rows of inDim), without the 1/√r scale. Not cached. */
export function projectionSigns(k: ProjectionKey, inDim: number, outDim: number): Int8Array {
  checkDims(inDim, outDim);
  const key = projectionMatrixKey(k);
  const total = inDim * outDim;
  const out = new Int8Array(total);
  for (let c = 0; c * 256 < total; c++) {
    const block = keccakBytes(concatBytes(key, uintBE(c, 4)));
    const end = Math.min(256, total - c * 256);
    for (let b = 0; b < end; b++) out[c * 256 + b] = (block[b >> 3]! >> (7 - (b & 7))) & 1 ? -1 : 1;
  }
  return out;
}

const CACHE_LIMIT = 32;
const cache = new Map<string, Int8Array>();

function cachedSigns(k: ProjectionKey, inDim: number, outDim: number): Int8Array {
  const id = `${k.seed.toLowerCase()}|${k.layer}|${k.stream}|${inDim}|${outDim}`;
  let s = cache.get(id);
  if (s) {
    cache.delete(id);
  } else {
    s = projectionSigns(k, inDim, outDim);
    if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value!);
  }
  cache.set(id, s);
  return s;
}

/** `R x` (module comment): `outDim` float32 numbers, accumulated in float64. */
export function project(x: ArrayLike<number>, k: ProjectionKey, outDim: number): Float32Array {
  const n = x.length;
  const signs = cachedSigns(k, n, outDim);
  const scale = 1 / Math.sqrt(outDim);
  const y = new Float32Array(outDim);
  for (let i = 0; i < outDim; i++) {
    let acc = 0;
    const base = i * n;
    for (let j = 0; j < n; j++) acc += signs[base + j]! * x[j]!;
    y[i] = acc * scale;
  }
  return y;
}
