import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pocSync as poc } from "../poc-cli.js";
import { loadModel } from "../../offchain/model/index.js";
import { generate } from "../../offchain/generate/index.js";
import { encodeReceipt, parseReceipt } from "../../offchain/receipt/index.js";
import { GREEDY, PROMPT, SAMPLER, buildTiny, tempRoot } from "./helpers.js";

describe("poc verify / poc calibrate CLI", function () {
  this.timeout(60_000);
  let root: string;
  let cleanup: () => Promise<void>;
  let realDir: string;
  let honestFile: string;
  let foreignFile: string;
  let relabelledFile: string;
  let honestRoot: string;

  before(async () => {
    ({ root, cleanup } = await tempRoot());
    realDir = await buildTiny(root, "real");
    const otherDir = await buildTiny(root, "other", { weightSeed: 4 });
    const real = await loadModel(realDir, { threads: 1 });
    const other = await loadModel(otherDir, { threads: 1 });
    try {
      const h = await generate(real, { promptTokens: PROMPT, decoding: GREEDY, sampler: SAMPLER });
      const f = await generate(other, { promptTokens: PROMPT, decoding: GREEDY, sampler: SAMPLER });
      honestRoot = h.root;
      honestFile = join(root, "honest.pocr");
      foreignFile = join(root, "foreign.pocr");
      relabelledFile = join(root, "relabelled.pocr");
      await writeFile(honestFile, h.bytes);
      await writeFile(foreignFile, f.bytes);
      await writeFile(relabelledFile, encodeReceipt(parseReceipt({ ...f.receipt, modelId: real.modelId })));
    } finally {
      await real.release();
      await other.release();
    }
  });
  after(async () => cleanup());

  it("prints an agreeing verdict in words and as JSON (exit 0)", () => {
    const t = poc("verify", "--model", realDir, "--receipt", honestFile, "--threads", "2");
    expect(t.status, t.stderr).to.equal(0);
    expect(t.stdout).to.match(/verdict\s+AGREES: all \d+ checks matched/);
    const j = poc("verify", "--model", realDir, "--receipt", honestFile, "--json", "--root", honestRoot);
    expect(j.status, j.stderr).to.equal(0);
    const v = JSON.parse(j.stdout);
    expect(v.agrees).to.equal(true);
    expect(v.matched).to.equal(v.checks);
    expect(v.matchBitmap).to.match(/^0x(ff)+[0-9a-f]{0,2}$/);
    expect(v.replayMs).to.be.a("number");
    expect(v.root).to.equal(honestRoot);
  });

  it("prints a disagreeing verdict with the first mismatch (exit 0), the same bitmap without early stop", () => {
    const j = poc("verify", "--model", realDir, "--receipt", relabelledFile, "--json");
    expect(j.status, j.stderr).to.equal(0);
    const v = JSON.parse(j.stdout);
    expect(v.agrees).to.equal(false);
    expect(v.firstMismatch).to.include({ layer: 0 });
    expect(["key", "value"]).to.include(v.firstMismatch.kind);
    expect(v.firstMismatch.position).to.be.a("number");
    expect(v.firstMismatch.error).to.be.greaterThan(v.firstMismatch.threshold);
    expect(v.earlyStopped).to.equal(true);
    const full = JSON.parse(poc("verify", "--model", realDir, "--receipt", relabelledFile, "--json", "--no-early-stop").stdout);
    expect(full.earlyStopped).to.equal(false);
    expect(full.matchBitmap).to.equal(v.matchBitmap);
    const t = poc("verify", "--model", realDir, "--receipt", relabelledFile);
    expect(t.status).to.equal(0);
    expect(t.stdout).to.match(/verdict\s+DISAGREES/);
    expect(t.stdout).to.match(/first\s+(key|value) of the sample at position \d+, layer 0/);
  });

  it("exits non-zero with a clear message on bad input", () => {
    const wrong = poc("verify", "--model", realDir, "--receipt", foreignFile);
    expect(wrong.status).to.equal(1);
    expect(wrong.stderr).to.match(/receipt is for model 0x[0-9a-f]{64}, the loaded model is 0x[0-9a-f]{64}/);
    const missing = poc("verify", "--model", realDir, "--receipt", join(root, "nope.pocr"));
    expect(missing.status).to.equal(1);
    expect(missing.stderr).to.include("cannot read the receipt file");
    const garbage = join(root, "garbage.pocr");
    spawnSync("sh", ["-c", `printf 'POCRxx' > ${garbage}`]);
    const bad = poc("verify", "--model", realDir, "--receipt", garbage);
    expect(bad.status).to.equal(1);
    expect(bad.stderr).to.match(/error: .*(receipt|truncated|version)/i);
    const root2 = poc("verify", "--model", realDir, "--receipt", honestFile, "--root", "0x" + "00".repeat(32));
    expect(root2.status).to.equal(1);
    expect(root2.stderr).to.include("not the committed root");
  });

  it("calibrate prints the distributions, margins and thresholds", () => {
    const c = poc("calibrate", "--model", realDir, "--tokens", "16", "--prompt-len", "12", "--json");
    expect(c.status, c.stderr).to.equal(0);
    const r = JSON.parse(c.stdout);
    expect(r.threshold).to.equal(1e-3);
    expect(r.suite.falseAlarms).to.equal(0);
    // every attack is caught but the known miss of issue 9 (an int8 LM head with forged top samples: only
    // the token check can see it, and a 16-token receipt gives it little chance; verify README "Top of the model")
    const missed = r.attacks.filter((a: { ok: boolean }) => !a.ok).map((a: { name: string }) => a.name);
    expect(missed.filter((n: string) => n !== "lm-head-int8-forged-top")).to.deep.equal([]);
    expect(r.suite.missed).to.equal(missed.length);
    expect(r.margins.sampleSeparation).to.be.greaterThan(10);
    expect(r.probes.map((p: { name: string }) => p.name)).to.deep.equal(["gpu-tf32-proxy"]);
    expect(r.honest.length).to.equal(8);
  });
});
