import { expect } from "chai";
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
});
