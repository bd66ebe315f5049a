/** zod-validated fingerprint inputs: a seed (uint64, as bigint, decimal or 0x-hex string, or safe integer) and a fingerprint (bytes32). */
import * as z from "zod"; // the namespace import lets bundlers drop what is unused (zod 4)
import type { Hex } from "../sampling/bytes.js";
import { formatIssues } from "../sampling/errors.js";
import { FingerprintError } from "./errors.js";

const UINT64_MAX = (1n << 64n) - 1n;

export const fingerprintSeedSchema = z
  .union([
    z.bigint(),
    z.number().int().nonnegative().refine(Number.isSafeInteger, "not a safe integer").transform((n) => BigInt(n)),
    z
      .string()
      .regex(/^(0x[0-9a-fA-F]{1,16}|[0-9]{1,20})$/, "not a decimal or 0x-hex integer")
      .transform((s) => BigInt(s)),
  ])
  .refine((v) => v >= 0n && v <= UINT64_MAX, "not a uint64");

export const fingerprintSchema = z
  .string()
  .regex(/^0x[0-9a-fA-F]{64}$/, "not a bytes32 (0x + 64 hex digits)")
  .transform((s) => s.toLowerCase() as Hex);

/** A uint64 fingerprint seed (FingerprintError otherwise). */
export function parseFingerprintSeed(input: unknown): bigint {
  const r = fingerprintSeedSchema.safeParse(input);
  if (!r.success) throw new FingerprintError("invalid fingerprint seed", { details: formatIssues(r.error.issues), cause: r.error });
  return r.data;
}

/** A bytes32 fingerprint, lowercased (FingerprintError otherwise). */
export function parseFingerprint(input: unknown): Hex {
  const r = fingerprintSchema.safeParse(input);
  if (!r.success) throw new FingerprintError("invalid fingerprint", { details: formatIssues(r.error.issues), cause: r.error });
  return r.data;
}
