/**
 * Fingerprint bytes from KV rows (index.ts, spec version 1): for pair i, the K row and the V row at
 * (layer_i, position_i) each give one byte of 8 sign bits, bit b = [Σ_j S[b][j]·row[j] < 0] with S the
 * ±1 matrix projectionSigns({seed: signSeed, layer: layer_i, stream: "fp-key-i" | "fp-value-i"}, n, 8),
 * accumulated in float64; bit b is bit 7 − b of the byte (MSB first); byte 2i is K, 2i + 1 is V.
 */
import { kvRow, type KvCache, type KvKind } from "../model/index.js";
import { projectionSigns } from "../sampling/projection.js";
import type { Hex } from "../sampling/bytes.js";
import { FingerprintError } from "./errors.js";
import { FINGERPRINT_BITS_PER_ROW, FINGERPRINT_PAIRS, fingerprintPairs, fingerprintSignSeed } from "./pairs.js";

/** The sign byte of one row under the ±1 matrix `signs` (8 rows of row.length). */
export function signByte(row: ArrayLike<number>, signs: Int8Array): number {
  const n = row.length;
  let byte = 0;
  for (let b = 0; b < FINGERPRINT_BITS_PER_ROW; b++) {
    let acc = 0;
    const base = b * n;
    for (let j = 0; j < n; j++) acc += signs[base + j]! * row[j]!;
    if (acc < 0) byte |= 1 << (7 - b);
  }
  return byte;
}

/** A source of KV rows: (layer, kind, position) → the row (all KV heads concatenated). */
export type RowSource = (layer: number, kind: KvKind, position: number) => ArrayLike<number>;

/** The fingerprint of `seed` over rows from `rows`, for `positions` KV positions and `numLayers` layers. */
export function fingerprintFromRows(rows: RowSource, seed: bigint, positions: number, numLayers: number): Hex {
  const signSeed = fingerprintSignSeed(seed);
  const out = new Uint8Array(2 * FINGERPRINT_PAIRS);
  for (const p of fingerprintPairs(seed, positions, numLayers)) {
    for (const [k, kind] of [[0, "key"], [1, "value"]] as const) {
      const row = rows(p.layer, kind, p.position);
      const signs = projectionSigns({ seed: signSeed, layer: p.layer, stream: `fp-${kind}-${p.index}` }, row.length, FINGERPRINT_BITS_PER_ROW);
      out[2 * p.index + k] = signByte(row, signs);
    }
  }
  return ("0x" + Buffer.from(out).toString("hex")) as Hex;
}

/**
 * The fingerprint of `seed` from the present cache of a replay of prompt ++ output[0 .. O−2]
 * (P = promptLen + outputLen − 1 positions; the cache must hold all of them and all layers).
 */
export function fingerprintFromCache(present: KvCache, seed: bigint, promptLen: number, outputLen: number): Hex {
  const positions = promptLen + outputLen - 1;
  if (present.length < positions) throw new FingerprintError(`the cache holds ${present.length} positions, the fingerprint needs ${positions}`);
  return fingerprintFromRows((layer, kind, position) => kvRow(present, layer, kind, position), seed, positions, present.layers.length);
}
