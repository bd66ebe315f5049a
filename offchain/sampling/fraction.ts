/**
 * The top-p slack fraction of decode.ts (`slackSets`): `shifted(A, B, lf)` = A e^{lf} / (A e^{lf} + B),
 * computed as 1 / (1 + exp(ln B − ln A − lf)) — that expression *is* the definition the check uses — and
 * `shiftedBelow`, the comparison `shifted(A, B, lf) < target` decided without the two logarithms and
 * the exponential when the answer is clear.
 *
 * ## Why `shiftedBelow` always equals `shifted(A, B, lf) < target`
 * On its fast path (1e-200 ≤ A ≤ 1e15, B = 0 or 1e-200 ≤ B ≤ 1e15, |lf| ≤ 200, e = Math.exp(lf)) every
 * intermediate is a normal double and:
 * - the quotient f = fl(fl(A·e) / fl(fl(A·e) + B)) is within 5·2^-53 relative of the exact F (four
 *   correctly rounded operations and e within one ulp of e^{lf});
 * - `shifted` computes d = fl(fl(ln B − ln A) − lf) with |ln A|, |ln B| ≤ 461 and |d| ≤ 698, so
 *   |d − d_exact| ≤ 2·ulp(461) + ulp(1122) ≈ 3.4e-13 (Math.log and Math.exp are within one ulp); then
 *   exp, the + 1 and the division add a few ulps, so |shifted − F| ≤ F(1 − F)·4e-13 + 2^-51 < 1e-12.
 *   (B = 0: both are exactly 1.)
 * Hence |f − shifted| < 2e-12, and when f is more than MARGIN = 1e-9 away from the target, both lie on
 * the same side of it. Only otherwise (a token within 1e-9 of the top-p boundary, or arguments outside
 * the fast range) is `shifted` itself evaluated, so the decision is the reference one bit for bit.
 */

/** Fraction A/(A+B) after multiplying A by e^{lf} (0 when A = 0, 1 when B = 0). */
export function shifted(A: number, B: number, lf: number): number {
  if (!(A > 0)) return 0;
  return 1 / (1 + Math.exp(Math.log(B) - Math.log(A) - lf));
}

const TINY = 1e-200;
const HUGE = 1e15;
const MAX_LF = 200;
/** Decision margin of the fast path (module comment: its error is < 2e-12). */
export const SHIFTED_MARGIN = 1e-9;

/** `shifted(A, B, lf) < target`, exactly (module comment); `e` must be `Math.exp(lf)`. */
export function shiftedBelow(A: number, B: number, lf: number, e: number, target: number): boolean {
  if (!(A > 0)) return 0 < target;
  if (A >= TINY && A <= HUGE && (B === 0 || (B >= TINY && B <= HUGE)) && Math.abs(lf) <= MAX_LF) {
    const ae = A * e;
    const f = ae / (ae + B);
    if (f < target - SHIFTED_MARGIN) return true;
    if (f > target + SHIFTED_MARGIN) return false;
  }
  return shifted(A, B, lf) < target;
}
