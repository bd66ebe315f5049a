/**
 * `poc … --keystore`: the signer's key comes from Hardhat's keystore (offchain/chain/keystore.ts), the
 * environment still wins, a missing key is a clear error. Each case runs in a child process with its own
 * XDG_CONFIG_HOME (where Hardhat keeps its keystores) and without CI variables (the keystore plugin
 * skips keystores on CI). Only the development keystore is used: the encrypted one asks for a password.
 */
import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { pocSync } from "../poc-cli.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const hardhatBin = join(root, "node_modules", "hardhat", "dist", "src", "cli.js");
const KEY_1 = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
const KEY_2 = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a";
const CI_VARS = ["GITHUB_ACTIONS", "NOW", "DEPLOYMENT_ID", "CODEBUILD_BUILD_NUMBER", "CI", "CONTINUOUS_INTEGRATION", "BUILD_NUMBER", "RUN_ID", "HH_TEST"];

function childEnv(configHome: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, XDG_CONFIG_HOME: configHome, ...extra };
  for (const k of CI_VARS) delete env[k];
  if (!("POC_PRIVATE_KEY" in extra)) delete env.POC_PRIVATE_KEY;
  return env;
}

/** privateKeyFromKeystore() in a child process: its stdout, or the error's message on stderr. */
function readKey(env: NodeJS.ProcessEnv) {
  const script = `import("./offchain/chain/keystore.ts").then((m) => m.privateKeyFromKeystore()).then((k) => console.log(k), (e) => { console.error(e.message); process.exit(1); })`;
  return spawnSync(process.execPath, ["--import", "tsx", "-e", script], { cwd: root, env, encoding: "utf8", timeout: 60_000 });
}

describe("poc --keystore: the key from Hardhat's keystore", function () {
  this.timeout(120_000);
  let home: string;
  let empty: string;

  before(async () => {
    home = await mkdtemp(join(tmpdir(), "poc-keystore-"));
    empty = await mkdtemp(join(tmpdir(), "poc-keystore-empty-"));
    const set = spawnSync(process.execPath, [hardhatBin, "keystore", "set", "POC_PRIVATE_KEY", "--dev"], {
      cwd: root,
      env: childEnv(home),
      input: `${KEY_1}\n`,
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(set.status, set.stderr + set.stdout).to.equal(0);
  });
  after(async () => {
    await rm(home, { recursive: true, force: true });
    await rm(empty, { recursive: true, force: true });
  });

  it("reads POC_PRIVATE_KEY from the development keystore", () => {
    const r = readKey(childEnv(home));
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout.trim()).to.equal(KEY_1);
  });

  it("lets the environment variable win over the keystore, as Hardhat does", () => {
    const r = readKey(childEnv(home, { POC_PRIVATE_KEY: KEY_2 }));
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout.trim()).to.equal(KEY_2);
  });

  it("names the missing key and how to store it when no keystore has it", () => {
    const r = readKey(childEnv(empty));
    expect(r.status).to.equal(1);
    expect(r.stderr).to.match(/cannot read POC_PRIVATE_KEY from Hardhat's keystore/);
    expect(r.stderr).to.match(/npx hardhat keystore set POC_PRIVATE_KEY/);
  });

  it("refuses --keystore together with --account", () => {
    const r = pocSync("verifier", "status", "--keystore", "--account", "1");
    expect(r.status).to.equal(1);
    expect(r.stderr).to.match(/--keystore and --account/);
  });
});
