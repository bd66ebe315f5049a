import { PocError } from "../errors.js";

/** An impossible sampler or decoding configuration, or logits that cannot be sampled from. */
export class SamplingError extends PocError {
  override name = "SamplingError";
}

/** One line per zod issue, `path: message`, joined by "; ". */
export function formatIssues(issues: readonly { path: readonly PropertyKey[]; message: string }[]): string {
  return issues.map((i) => (i.path.length ? `${i.path.map(String).join(".")}: ${i.message}` : i.message)).join("; ");
}
