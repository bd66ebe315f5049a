/**
 * Option parsers and defaults shared by the `poc` commands. A parser throws commander's
 * InvalidArgumentError, so commander prints `error: option '--x <n>' argument 'v' is invalid. <what>`.
 */
import { InvalidArgumentError } from "commander";
import { z } from "zod";
import { HEX32_RE, parseRatePpm, type Hex } from "../sampling/index.js";

/**
 * Decoding and sampler defaults of `poc generate` and `poc job open` (greedy, seed 0, sample 1/16 of
 * the positions × 2 layers, scope "all"; see README.md in offchain/generate for the reasoning and the
 * sizes they give).
 */
export const REQUEST_DEFAULTS = Object.freeze({
  seed: "0",
  temperature: 0,
  topK: 0,
  topP: 1,
  sampleRate: "1/16",
  layersPerToken: 2,
  scope: "all" as const,
});

/** A decimal integer >= 0 (digits only, surrounding blanks allowed, at most 2^53 - 1). */
export function nonNegativeInt(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n)) throw new InvalidArgumentError("a non-negative integer");
  return n;
}

/** A decimal integer >= 1 (digits only, surrounding blanks allowed, at most 2^53 - 1). */
export function positiveInt(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError("a positive integer");
  return n;
}

/** A finite number > 0. */
export function positiveNumber(v: string): number {
  const n = Number(v);
  if (v.trim() === "" || !(n > 0) || !Number.isFinite(n)) throw new InvalidArgumentError("a positive number");
  return n;
}

/** A TCP port 0..65535 (decimal digits; 0 = any free port). */
export function port(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n > 65535) throw new InvalidArgumentError("a port number in [0, 65535]");
  return n;
}

/** 0x + 64 hex digits, returned in lower case. */
export function hex32(v: string): Hex {
  if (!HEX32_RE.test(v)) throw new InvalidArgumentError("0x followed by 64 hex digits");
  return v.toLowerCase() as Hex;
}

/** `--sample-rate` as the request and gateway schemas take it: a fraction in (0, 1] that parseRatePpm reads. */
export const sampleRateSchema = z.string().refine((s) => {
  try {
    parseRatePpm(s);
    return true;
  } catch {
    return false;
  }
}, "--sample-rate must be a fraction in (0, 1]: 0.0625, 1/16 or 6.25%");
