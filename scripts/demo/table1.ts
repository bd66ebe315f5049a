/**
 * The paper's Table 1 (section 3.3.4), computed on its own from α, β, Cg, Cv and the stage k — not
 * read from the pool — so that the demo can compare what the pool credited with what the paper says.
 *
 * Amounts are token base units. α and β are basis points (10_000 = 1.0); each product αCg, αCv, βCg,
 * βCv is rounded down on its own, as the pool does when a job is opened (IStakePool.sol), and every
 * payout below is a sum or difference of those four numbers.
 *
 *   row 1, no challenge:                generator (α+β)Cg, user αCv
 *   row 2/3, verifier k confirms G:     generator (α+β)Cg, V_k (α+kβ)Cv, V_1..V_{k−1} 0, user 0 (paid αCv)
 *   row 4, verifier k confirms V_j:     user α(Cg+Cv), V_j (α+β)Cv, V_k βCg + ((k−1)β − α)Cv,
 *                                       generator 0 (loses βCg), the other verifiers 0
 */
export const BPS = 10_000n;

export interface Table1Inputs {
  alphaBps: bigint | number;
  betaBps: bigint | number;
  cg: bigint;
  cv: bigint;
}

export type Table1Row = { kind: "noChallenge" } | { kind: "generatorUpheld"; k: number } | { kind: "verifierUpheld"; k: number; j: number };

/** Payout of each party: `user`, `generator` and `verifiers[i]` = the verifier of stage i + 1. */
export interface Table1Payouts {
  user: bigint;
  generator: bigint;
  verifiers: bigint[];
  /** The row's formulas, in words, one per party (same keys), for printing. */
  formulas: { user: string; generator: string; verifiers: string[] };
}

/** What the paper's Table 1 pays each party for `row`. */
export function table1(p: Table1Inputs, row: Table1Row): Table1Payouts {
  const a = BigInt(p.alphaBps);
  const b = BigInt(p.betaBps);
  const aCg = (p.cg * a) / BPS;
  const aCv = (p.cv * a) / BPS;
  const bCg = (p.cg * b) / BPS;
  const bCv = (p.cv * b) / BPS;
  switch (row.kind) {
    case "noChallenge":
      return {
        user: aCv,
        generator: aCg + bCg,
        verifiers: [],
        formulas: { user: "αCv (gets its verification payment back)", generator: "(α+β)Cg", verifiers: [] },
      };
    case "generatorUpheld": {
      const k = row.k;
      if (!Number.isInteger(k) || k < 1) throw new RangeError(`stage k must be a positive integer (got ${k})`);
      const verifiers = Array.from({ length: k }, (_, i) => (i === k - 1 ? aCv + BigInt(k) * bCv : 0n));
      return {
        user: 0n,
        generator: aCg + bCg,
        verifiers,
        formulas: {
          user: "0 (it paid αCv for the verification)",
          generator: "(α+β)Cg",
          verifiers: verifiers.map((_, i) => (i === k - 1 ? `(α+${k === 1 ? "" : k}β)Cv` : "0 (loses its stake βCv)")),
        },
      };
    }
    case "verifierUpheld": {
      const { k, j } = row;
      if (!Number.isInteger(k) || k < 2 || !Number.isInteger(j) || j < 1 || j >= k) throw new RangeError(`need 1 <= j < k (got j = ${j}, k = ${k})`);
      // βCg + ((k−1)β − α)Cv, as a sum/difference of the stored amounts
      const vk = bCg + BigInt(k - 1) * bCv - aCv;
      const verifiers = Array.from({ length: k }, (_, i) => (i === k - 1 ? vk : i === j - 1 ? aCv + bCv : 0n));
      return {
        user: aCg + aCv,
        generator: 0n,
        verifiers,
        formulas: {
          user: "α(Cg+Cv) (gets everything it paid back)",
          generator: "0 (loses its stake βCg)",
          verifiers: verifiers.map((_, i) =>
            i === k - 1 ? `βCg + (${k - 1 === 1 ? "" : k - 1}β − α)Cv` : i === j - 1 ? "(α+β)Cv" : "0 (loses its stake βCv)"
          ),
        },
      };
    }
  }
}
