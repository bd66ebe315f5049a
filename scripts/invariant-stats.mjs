#!/usr/bin/env node
// Sums the per-run handler counters that test/solidity/StakePoolInvariant.t.sol appends (afterInvariant)
// to cache/invariant-stats.csv when POC_INVARIANT_STATS=1, and prints the call distribution and the
// final states of the jobs:
//   rm -f cache/invariant-stats.csv
//   POC_INVARIANT_STATS=1 npx hardhat test solidity test/solidity/StakePoolInvariant.t.sol
//   node scripts/invariant-stats.mjs [cache/invariant-stats.csv]
import { readFileSync } from "node:fs";

const ACTIONS = [
  "openJob", "commit", "cancel", "finalize", "challenge", "drawVerifiers", "commitResult",
  "answerFingerprint", "revealResult", "declineAssignment", "timeoutVerifier", "timeoutDraw",
  "bond", "bondFromCredit", "requestUnbond", "withdrawUnbonded", "sync", "setModels", "withdraw", "warp",
  "setParams",
];
const FINALS = ["Finalized", "Cancelled", "GeneratorUpheld", "VerifierUpheld", "Stalemate", "Unverified", "(Answering)", "GeneratorForfeited"];

const file = process.argv[2] ?? "cache/invariant-stats.csv";
const rows = readFileSync(file, "utf8").trim().split("\n").filter(Boolean).map((l) => l.split(",").map(Number));
const width = ACTIONS.length * 5 + 1 + FINALS.length + 1;
const sum = new Array(width).fill(0);
for (const r of rows) {
  if (r.length !== width) throw new Error(`a line with ${r.length} columns, expected ${width}`);
  r.forEach((v, i) => (sum[i] += v));
}
console.log(`${rows.length} runs`);
console.log("action               calls       ok  skipped  expected-revert  unexpected-revert");
let total = 0;
ACTIONS.forEach((name, a) => {
  const [c, ok, sk, ex, un] = sum.slice(a * 5, a * 5 + 5);
  total += c;
  console.log(`${name.padEnd(18)}${String(c).padStart(8)}${String(ok).padStart(9)}${String(sk).padStart(9)}${String(ex).padStart(17)}${String(un).padStart(19)}`);
});
console.log(`handler actions ${total}`);
const base = ACTIONS.length * 5;
console.log(`jobs opened ${sum[base]}, verifiers drawn ${sum[base + 1 + FINALS.length]}`);
FINALS.forEach((name, i) => {
  if (name !== "(Answering)") console.log(`final ${name}: ${sum[base + 1 + i]}`);
});
