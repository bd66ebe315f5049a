import { expect } from "chai";
import { join } from "node:path";
import { runSuite } from "../../offchain/verify/attacks.js";
import type { Architecture } from "../../offchain/model/build.js";
import { buildTiny, tempRoot } from "./helpers.js";

/**
 * The attack and honesty suite on each architecture the builder emits (issue 11, "Done when": honest
 * agrees, the verifier issue's attacks are caught), tiny fp32. Head-only attacks do not apply to tied
 * heads (qwen2, qwen3, gemma2: the head is the embedding).
 */
describe("attack and honesty suite on each architecture (tiny fp32)", function () {
  this.timeout(120_000);
  let root: string;
  let cleanup: () => Promise<void>;
  before(async () => ({ root, cleanup } = await tempRoot()));
  after(async () => cleanup());

  // OPEN, measured (offchain/verify/README.md "Architectures"): the forged-top int8 head is seen by the
  // token check only (as on llama); an fp16 KV cache of qwen3 (q/k-normed keys) stays under the fp32
  // threshold (8.7e-4); gemma2's plan-aware skip of the last layer gives the same greedy tokens under
  // its logit soft-cap, and then its receipt is the honest receipt byte for byte (asserted below)
  const KNOWN_MISSES: Partial<Record<Architecture, string[]>> = {
    llama3: ["lm-head-int8-forged-top"],
    mistral: ["lm-head-int8-forged-top"],
    phi3: ["lm-head-int8-forged-top"],
    qwen3: ["kv-cache-fp16"],
    gemma2: ["plan-aware-skip"],
  };
  const TIED: Architecture[] = ["qwen2", "qwen3", "gemma2"];

  for (const arch of ["qwen2", "qwen3", "llama3", "gemma2", "mistral", "phi3"] as const) {
    it(`${arch}: 8 honest runs agree; every attack but the known misses is caught`, async () => {
      const dir = await buildTiny(root, arch, { architecture: arch });
      const r = await runSuite({ modelDir: dir, workDir: join(root, `${arch}-work`), maxTokens: 48 });
      for (const h of r.honest) expect(h.agrees, `${h.name}: ${h.firstMismatch?.detail}`).to.equal(true);
      expect(r.honestRuns).to.equal(8);
      expect(r.falseAlarms).to.equal(0);
      const names = r.attacks.map((a) => a.name);
      if (TIED.includes(arch)) for (const n of ["lm-head-int8", "lm-head-bf16", "lm-head-int8-forged-top"]) expect(names).to.not.include(n);
      else expect(names).to.include.members(["lm-head-int8", "lm-head-bf16"]);
      const known = KNOWN_MISSES[arch] ?? [];
      for (const a of r.attacks) if (!known.includes(a.name)) expect(a.agrees, `${arch} ${a.name}`).to.equal(false);
      // a plan-aware skip that goes unseen committed the honest receipt itself, byte for byte: the skipped
      // layer kept every greedy argmax and the samples come from real steps, so no check can see it
      const skip = r.attacks.find((a) => a.name === "plan-aware-skip")!;
      expect(skip.sameReceiptAsHonest, "plan-aware-skip is compared with the honest greedy run").to.be.a("boolean");
      if (skip.agrees) expect(skip.sameReceiptAsHonest, `${arch} plan-aware-skip agreed with a receipt other than the honest one`).to.equal(true);
      else expect(skip.sameOutputAsHonest, `${arch} plan-aware-skip was caught on the real model's own tokens`).to.equal(false);
      expect(r.canonical).to.equal(true);
      expect(r.maxHonestError).to.be.below(r.threshold / 20);
    });
  }
});
