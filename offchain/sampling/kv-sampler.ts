/**
 * The token sampler and the layer sampler of the paper (section 3.2): pure functions of
 * (sampler seed, position, hash of the token prefix), so generator and verifier compute the same
 * sample set, and each position can be decided while decoding (it needs only tokens[0..p]).
 *
 * ## Construction (version 1; preimages packed like Solidity's abi.encodePacked, integers big-endian)
 * - Prefix hash: `h_{-1} = keccak256("poc.prefix.v1")`, `h_p = keccak256(h_{p-1} ‖ uint32(tokens[p]))`.
 *   One hash per token: O(n) for the whole sequence, incremental while decoding (`PrefixHasher`).
 * - Token sampler: position p is sampled iff
 *   `uint256(keccak256("poc.token-sampler.v1" ‖ seed ‖ uint32(p) ‖ h_p)) mod 1_000_000 < ratePpm`.
 *   The rate is an integer in parts per million (1/16 = 62_500 ppm exactly), so no float enters the
 *   decision; the modulo bias is below 2^-236.
 * - Layer sampler: a partial Fisher–Yates shuffle of [0, numLayers): for j = 0 … layersPerToken−1,
 *   `r_j = uint256(keccak256("poc.layer-sampler.v1" ‖ seed ‖ uint32(p) ‖ h_p ‖ uint32(j))) mod (numLayers − j)`,
 *   swap a[j] and a[j + r_j]; the layers are a[0 … layersPerToken) sorted ascending.
 *
 * ## Which positions
 * With n = promptLen + outputLen tokens, the candidate positions are `[start, n − 1)`, with start = 0
 * for scope "all" (the paper: prompt and generated tokens) and start = promptLen for scope "generated".
 * The last token is excluded: it is never fed to the model while decoding (its KV is never computed
 * by the generator) and the verifier's replay needs only tokens[0 .. n−2] (the token check of output
 * token i uses the logits of position promptLen + i − 1). A position is captured when its token is
 * fed to the model: prompt positions during prefill, generated positions on the next decoding step.
 *
 * ## Projections, top samples and the evidence floor (issue 9)
 * - `projectionDim` r > 0: a sample stores r-dimensional seeded projections (projection.ts) of its
 *   K and V rows instead of the rows, and every sampled position also gets a **top sample** at the
 *   pseudo-layer `numLayers`: two r-dimensional projections of the logits row of that position, which
 *   depends on every layer, the final norm and the LM head. r = 0: full rows, no top samples (the
 *   format of receipt version 1).
 * - `minPositions` F: when the token sampler picks fewer than F candidate positions, the latest
 *   candidates it did not pick (from n − 2 downwards) are added until there are F (or no candidate
 *   is left). Their layers are the top `layersPerToken` layers `[numLayers − layersPerToken,
 *   numLayers)` (error accumulates upwards, so a downgrade shows most there) plus the top sample.
 *   The floor depends on the final length, so a generator captures those positions at the end, from
 *   its KV cache and the logits rows of its last F forward positions.
 */
import * as z from "zod"; // the namespace import lets bundlers drop what is unused (zod 4)
import { SamplingError, formatIssues } from "./errors.js";
import {
  type Hex,
  HEX32_RE,
  bytesToBigInt,
  concatBytes,
  hex32Bytes,
  keccakBytes,
  tagBytes,
  uintBE,
} from "./bytes.js";
import { hexlify } from "ethers";
import { MAX_PROJECTION_DIM } from "./projection.js";

/** Defaults of the generator and the CLI (the format's defaults are 0: full rows, no floor). */
export const DEFAULT_PROJECTION_DIM = 32;
export const DEFAULT_MIN_POSITIONS = 4;

export const PREFIX_DOMAIN = "poc.prefix.v1";
export const TOKEN_SAMPLER_DOMAIN = "poc.token-sampler.v1";
export const LAYER_SAMPLER_DOMAIN = "poc.layer-sampler.v1";
export const PPM = 1_000_000;
/** Layers are stored as uint16 in receipts. */
export const MAX_LAYERS = 0xffff;

/** Sampler configuration as committed in the receipt. */
export const samplerConfigSchema = z
  .strictObject({
    /** 32-byte hex seed of the samplers (lower-cased). */
    seed: z
      .string()
      .regex(HEX32_RE, "must be 0x followed by 64 hex digits")
      .transform((s) => s.toLowerCase() as Hex),
    /** Probability that a position is sampled, in parts per million: an integer in [1, 1_000_000]. */
    ratePpm: z.number().int().min(1).max(PPM),
    /** Distinct layers sampled at each sampled position, in [1, numLayers]. */
    layersPerToken: z.number().int().min(1).max(MAX_LAYERS),
    /** Number of layers of the model, in [1, 65535]. */
    numLayers: z.number().int().min(1).max(MAX_LAYERS),
    /** "all" (default, as in the paper): prompt and generated positions; "generated": generated only. */
    scope: z.enum(["all", "generated"]).default("all"),
    /** r of the seeded projections (0 = full rows and no top samples, receipt version 1's format). */
    projectionDim: z.number().int().min(0).max(MAX_PROJECTION_DIM).default(0),
    /** Evidence floor: at least this many sampled positions per receipt (0 = none). */
    minPositions: z.number().int().min(0).max(0xffff).default(0),
  })
  .refine((c) => c.layersPerToken <= c.numLayers, {
    message: "layersPerToken must not exceed numLayers",
    path: ["layersPerToken"],
  });

export type SamplerConfig = z.output<typeof samplerConfigSchema>;
export type SamplerConfigInput = z.input<typeof samplerConfigSchema>;

/** Validate a sampler configuration from outside; throws SamplingError naming the bad field. */
export function parseSamplerConfig(input: unknown): SamplerConfig {
  const r = samplerConfigSchema.safeParse(input);
  if (!r.success) {
    throw new SamplingError("invalid sampler configuration", { details: formatIssues(r.error.issues) });
  }
  return r.data;
}

/**
 * A sampling rate as ppm from a number in (0, 1] (0.0625), a fraction ("1/16"), a percentage ("6.25%")
 * or a decimal string; rounded to the nearest ppm. Throws SamplingError when the result is outside [1, 1e6].
 */
export function parseRatePpm(rate: number | string): number {
  let value: number;
  if (typeof rate === "number") value = rate;
  else {
    const s = rate.trim();
    const frac = /^(\d+)\s*\/\s*(\d+)$/.exec(s);
    const pct = /^(\d+(?:\.\d+)?)\s*%$/.exec(s);
    if (frac) value = Number(frac[1]) / Number(frac[2]);
    else if (pct) value = Number(pct[1]) / 100;
    else if (/^(\d+(?:\.\d*)?|\.\d+)(e-?\d+)?$/i.test(s)) value = Number(s);
    else throw new SamplingError(`invalid sampling rate "${rate}"`, { details: "use a number in (0, 1], a fraction like 1/16 or a percentage like 6.25%" });
  }
  const ppm = Math.round(value * PPM);
  if (!Number.isFinite(value) || ppm < 1 || ppm > PPM) {
    throw new SamplingError(`sampling rate ${rate} is outside (0, 1] (at ppm resolution)`);
  }
  return ppm;
}

const PREFIX_INIT = keccakBytes(tagBytes(PREFIX_DOMAIN));

/** h_{-1}, the prefix hash of the empty sequence. */
export const EMPTY_PREFIX_HASH: Hex = hexlify(PREFIX_INIT) as Hex;

function checkToken32(token: number, where: string): void {
  if (!Number.isInteger(token) || token < 0 || token > 0xffff_ffff) {
    throw new SamplingError(`token id must be a uint32, got ${token}`, { details: where });
  }
}

/** Incremental prefix hash: `push(tokens[p])` returns h_p. */
export class PrefixHasher {
  #h: Uint8Array = PREFIX_INIT;
  #n = 0;

  /** Append the next token; returns h_p for p = the token's position. */
  push(token: number): Hex {
    checkToken32(token, `position ${this.#n}`);
    this.#h = keccakBytes(concatBytes(this.#h, uintBE(token, 4)));
    this.#n++;
    return this.current;
  }

  /** The hash of every token pushed so far (h_{-1} before any). */
  get current(): Hex {
    return hexlify(this.#h) as Hex;
  }

  /** Number of tokens pushed. */
  get length(): number {
    return this.#n;
  }
}

/** h_0 … h_{n−1} for a token sequence. */
export function prefixHashes(tokens: ArrayLike<number>): Hex[] {
  const hasher = new PrefixHasher();
  const out: Hex[] = new Array(tokens.length);
  for (let p = 0; p < tokens.length; p++) out[p] = hasher.push(tokens[p]!);
  return out;
}

function checkPosition(position: number): void {
  if (!Number.isInteger(position) || position < 0 || position > 0xffff_ffff) {
    throw new SamplingError(`position must be a uint32, got ${position}`);
  }
}

/** Whether position `position` (whose prefix hash is h_position) is sampled. */
export function tokenSampled(cfg: SamplerConfig, position: number, prefixHash: string): boolean {
  checkPosition(position);
  if (cfg.ratePpm >= PPM) return true;
  const d = keccakBytes(
    concatBytes(tagBytes(TOKEN_SAMPLER_DOMAIN), hex32Bytes(cfg.seed), uintBE(position, 4), hex32Bytes(prefixHash)),
  );
  return bytesToBigInt(d) % BigInt(PPM) < BigInt(cfg.ratePpm);
}

/** The layers sampled at `position` (sorted ascending, distinct, `layersPerToken` of them). */
export function layersFor(cfg: SamplerConfig, position: number, prefixHash: string): number[] {
  checkPosition(position);
  const L = cfg.numLayers;
  const k = cfg.layersPerToken;
  if (k < 1 || k > L) throw new SamplingError(`layersPerToken ${k} outside [1, numLayers=${L}]`);
  const a = Array.from({ length: L }, (_, i) => i);
  if (k === L) return a;
  const prefix = concatBytes(tagBytes(LAYER_SAMPLER_DOMAIN), hex32Bytes(cfg.seed), uintBE(position, 4), hex32Bytes(prefixHash));
  for (let j = 0; j < k; j++) {
    const r = Number(bytesToBigInt(keccakBytes(concatBytes(prefix, uintBE(j, 4)))) % BigInt(L - j));
    const tmp = a[j]!;
    a[j] = a[j + r]!;
    a[j + r] = tmp;
  }
  return a.slice(0, k).sort((x, y) => x - y);
}

export interface PlannedSample {
  position: number;
  layer: number;
}

/** First candidate position for a scope (see the module comment). */
export function firstCandidatePosition(cfg: SamplerConfig, promptLen: number): number {
  return cfg.scope === "generated" ? promptLen : 0;
}

/** Whether the plan has top samples (projectionDim > 0); their layer index is numLayers. */
export function hasTopSamples(cfg: SamplerConfig): boolean {
  return cfg.projectionDim > 0;
}

/** The sample layers of a position the token sampler picked: layersFor, plus the top sample. */
export function sampledLayers(cfg: SamplerConfig, position: number, prefixHash: string): number[] {
  const layers = layersFor(cfg, position, prefixHash);
  return hasTopSamples(cfg) ? [...layers, cfg.numLayers] : layers;
}

/** The sample layers of a floor position: the top layersPerToken layers, plus the top sample. */
export function floorLayers(cfg: SamplerConfig): number[] {
  const out: number[] = [];
  for (let l = cfg.numLayers - cfg.layersPerToken; l < cfg.numLayers; l++) out.push(l);
  if (hasTopSamples(cfg)) out.push(cfg.numLayers);
  return out;
}

/**
 * The floor positions (module comment) of a sequence of n tokens whose token sampler picked
 * `picked` positions: the latest unpicked candidates, descending, until there are minPositions.
 */
export function floorPositions(cfg: SamplerConfig, n: number, promptLen: number, picked: ReadonlySet<number>): number[] {
  const out: number[] = [];
  const start = firstCandidatePosition(cfg, promptLen);
  for (let p = n - 2; p >= start && picked.size + out.length < cfg.minPositions; p--) if (!picked.has(p)) out.push(p);
  return out;
}

/**
 * The full sample plan for a sequence `tokens` = prompt ++ output: every (position, layer) to capture,
 * sorted by (position, layer). Candidate positions are [start, tokens.length − 1); layer numLayers is a
 * top sample.
 */
export function samplePlan(cfg: SamplerConfig, tokens: ArrayLike<number>, promptLen: number): PlannedSample[] {
  if (!Number.isInteger(promptLen) || promptLen < 0 || promptLen > tokens.length) {
    throw new SamplingError(`prompt length ${promptLen} outside [0, ${tokens.length}]`);
  }
  const hashes = prefixHashes(tokens);
  const byPos = new Map<number, number[]>();
  for (let p = firstCandidatePosition(cfg, promptLen); p < tokens.length - 1; p++) {
    const h = hashes[p]!;
    if (tokenSampled(cfg, p, h)) byPos.set(p, sampledLayers(cfg, p, h));
  }
  const floor = floorPositions(cfg, tokens.length, promptLen, new Set(byPos.keys()));
  for (const p of floor) byPos.set(p, floorLayers(cfg));
  const out: PlannedSample[] = [];
  for (const p of [...byPos.keys()].sort((a, b) => a - b)) for (const layer of byPos.get(p)!) out.push({ position: p, layer });
  return out;
}
