import { expect } from "chai";
import { copyFile } from "node:fs/promises";
import { join } from "node:path";
import { pocSync as poc } from "../poc-cli.js";
import { tempRoot } from "./helpers.js";

describe("poc model CLI", function () {
  this.timeout(60_000);
  let root: string;
  let cleanup: () => Promise<void>;
  before(async () => ({ root, cleanup } = await tempRoot()));
  after(async () => cleanup());

  it("builds, prints the id, and info shows the same id; errors exit non-zero", () => {
    const out = join(root, "m");
    const b = poc("model", "build", "--preset", "tiny", "--weight-seed", "9", "--layers", "2", "--out", out);
    expect(b.status, b.stderr).to.equal(0);
    const id = /model id\s+(0x[0-9a-f]{64})/.exec(b.stdout)?.[1];
    expect(id).to.be.a("string");
    expect(b.stdout).to.match(/params\s+\S+/);
    const i = poc("model", "info", "--model", out, "--json");
    expect(i.status, i.stderr).to.equal(0);
    const info = JSON.parse(i.stdout);
    expect(info.modelId).to.equal(id);
    expect(info.config.layers).to.equal(2);
    const again = poc("model", "build", "--preset", "tiny", "--out", out);
    expect(again.status).to.equal(1);
    expect(again.stderr).to.include("not empty");
    const missing = poc("model", "info", "--model", join(root, "missing"));
    expect(missing.status).to.equal(1);
    expect(missing.stderr).to.include(join(root, "missing"));
  });

  it("model info DIR lists the variants with precision, context, vocabulary and id; generate needs --variant among several", async () => {
    const dir = join(root, "multi");
    expect(poc("model", "build", "--preset", "tiny", "--layers", "2", "--layout", "onnx", "--out", dir).status).to.equal(0);
    const fp16 = join(root, "fp16");
    const b16 = poc("model", "build", "--preset", "tiny", "--layers", "2", "--layout", "onnx", "--dtype", "fp16", "--variant-name", "fp16", "--out", fp16);
    expect(b16.status, b16.stderr).to.equal(0);
    await copyFile(join(fp16, "onnx", "model_fp16.onnx"), join(dir, "onnx", "model_fp16.onnx"));
    const i = poc("model", "info", dir);
    expect(i.status, i.stderr).to.equal(0);
    expect(i.stdout).to.match(/context\s+1024/).and.match(/vocabulary\s+259/);
    expect(i.stdout).to.match(/variant\s+fp32 \(onnx\/model\.onnx\), model layout: weights fp32, KV fp32, .* model id 0x[0-9a-f]{64}/);
    expect(i.stdout).to.match(/variant\s+fp16 \(onnx\/model_fp16\.onnx\), model layout: weights fp16, KV fp16, .* model id 0x[0-9a-f]{64}/);
    const j = JSON.parse(poc("model", "info", dir, "--variant", "fp16", "--json").stdout);
    expect(j.variants.map((v: { name: string }) => v.name)).to.deep.equal(["fp32", "fp16"]);
    expect(j.modelId).to.equal(j.variants[1].modelId);
    expect(j.config.dtype).to.equal("fp16");
    const out = join(root, "r.pocr");
    const g = poc("generate", "--model", dir, "--prompt", "hi", "--max-tokens", "4", "--out", out);
    expect(g.status).to.equal(1);
    expect(g.stderr).to.include("Several ONNX variants").and.include("--variant").and.include("fp16 (onnx/model_fp16.onnx)");
    const g2 = poc("generate", "--model", dir, "--variant", "fp16", "--graph-opt", "basic", "--prompt", "hi", "--max-tokens", "4", "--out", out);
    expect(g2.status, g2.stderr).to.equal(0);
    const v = poc("verify", "--model", dir, "--variant", "fp16", "--graph-opt", "extended", "--receipt", out);
    expect(v.status, v.stderr).to.equal(0);
    expect(v.stdout).to.include("AGREES");
    const bad = poc("generate", "--model", dir, "--variant", "fp16", "--graph-opt", "most", "--prompt", "hi", "--max-tokens", "4", "--out", out);
    expect(bad.status).to.equal(1);
    expect(bad.stderr).to.include("--graph-opt");
  });
});
