/**
 * Whether a receipt's samples are exactly the sampler's plan for its tokens (docs/RECEIPT.md
 * "Samplers"). Not a format rule — a receipt with missing, extra or moved samples still decodes —
 * but a verifier must not let the generator choose which positions are checked.
 */
import { type PlannedSample, samplePlan } from "../sampling/kv-sampler.js";
import type { Receipt } from "./schema.js";

export type SamplePlanCheck =
  | { ok: true; plan: PlannedSample[] }
  | { ok: false; plan: PlannedSample[]; index: number; reason: string };

/** The (position, layer) list the receipt's sampler prescribes for its tokens. */
export function expectedSamplePlan(receipt: Pick<Receipt, "sampler" | "promptTokens" | "outputTokens">): PlannedSample[] {
  return samplePlan(receipt.sampler, [...receipt.promptTokens, ...receipt.outputTokens], receipt.promptTokens.length);
}

/** Compare the receipt's samples with the plan; on a difference, the first differing index. */
export function checkSamplePlan(receipt: Pick<Receipt, "sampler" | "promptTokens" | "outputTokens" | "samples">): SamplePlanCheck {
  const plan = expectedSamplePlan(receipt);
  const got = receipt.samples;
  const n = Math.max(plan.length, got.length);
  for (let i = 0; i < n; i++) {
    const e = plan[i];
    const g = got[i];
    if (e && g && e.position === g.position && e.layer === g.layer) continue;
    const reason = !g
      ? `sample ${i} missing: the plan has ${plan.length} samples, the receipt ${got.length}; next expected (${e!.position}, ${e!.layer})`
      : !e
        ? `extra sample ${i} at (${g.position}, ${g.layer}): the plan has ${plan.length} samples`
        : `sample ${i} is at (${g.position}, ${g.layer}), the plan says (${e.position}, ${e.layer})`;
    return { ok: false, plan, index: i, reason };
  }
  return { ok: true, plan };
}
