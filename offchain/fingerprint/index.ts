/**
 * offchain/fingerprint: replay fingerprints for the pool's commit–reveal against lazy verifiers
 * (issue 10 H-2, docs/PROTOCOL.md "Replay fingerprints"). After a verifier is assigned, the pool
 * publishes a 64-bit `fingerprintSeed` per stage; the verifier commits to the 256-bit fingerprint of its
 * own replay for that seed, the generator and earlier verifiers answer with theirs, and the contract
 * accepts a Hamming distance ≤ FINGERPRINT_TOLERANCE (16 bits; see distance.ts for why not 32).
 *
 * ## Spec, version 1 (preimages packed like abi.encodePacked, integers big-endian)
 *     P          = promptLen + outputLen − 1     (positions with KV: the replay feeds prompt ++ output[0..O−2])
 *     h_i        = keccak256("poc.fingerprint.v1" ‖ uint64(seed) ‖ uint32(i))          i = 0 … 15
 *     position_i = uint64(h_i[0..8]) mod P,   layer_i = uint32(h_i[8..12]) mod numLayers
 *     signSeed   = keccak256("poc.fingerprint.v1" ‖ uint64(seed))                      (32-byte hex)
 *     K, V       = kvRow(present, layer_i, "key" | "value", position_i)  (all KV heads, fp32 numbers)
 *     S_K, S_V   = projectionSigns({seed: signSeed, layer: layer_i, stream: "fp-key-i" | "fp-value-i"}, n, 8)
 *     bit b      = [Σ_j S[b][j]·row[j] < 0]  (float64 accumulation), stored as bit 7 − b (MSB first)
 *     byte 2i    = K bits, byte 2i + 1 = V bits;  fingerprint = the 32 bytes as 0x-hex bytes32
 *     distance   = popcount(a xor b); match iff distance ≤ 16
 */
export { FingerprintError } from "./errors.js";
export {
  FINGERPRINT_BITS_PER_ROW,
  FINGERPRINT_DOMAIN,
  FINGERPRINT_PAIRS,
  fingerprintPairs,
  fingerprintSignSeed,
  type FingerprintPair,
} from "./pairs.js";
export { fingerprintFromCache, fingerprintFromRows, signByte, type RowSource } from "./compute.js";
export { FINGERPRINT_TOLERANCE, fingerprintDistance, fingerprintsMatch } from "./distance.js";
export { fingerprintSchema, fingerprintSeedSchema, parseFingerprint, parseFingerprintSeed } from "./parse.js";
export { replayFingerprints, type ReplayFingerprintOptions } from "./replay.js";
