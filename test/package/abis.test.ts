/**
 * The generated sources of the package: offchain/chain/abis.ts and addresses.ts are what
 * `npm run build:abis` writes from the compiled artifacts (`hardhat test` builds them first), and
 * the deployment records are validated.
 */
import { expect } from "chai";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { getAddress, Interface } from "ethers";
import { ChainConfigError, addresses, deploymentFor, deploymentFromRecord, erc20Abi, stakePoolAbi, testTokenAbi } from "../../offchain/chain/index.js";
import { REPO_ROOT } from "../../scripts/lib/deployment.js";
import { renderAbis, renderAddresses } from "../../scripts/client/generate.js";

describe("the package's generated ABIs and addresses", () => {
  it("abis.ts and addresses.ts are up to date with the artifacts (else: npm run build:abis)", () => {
    const abis = renderAbis(join(REPO_ROOT, "artifacts"), join(REPO_ROOT, "contracts"));
    expect(readFileSync(join(REPO_ROOT, "offchain", "chain", "abis.ts"), "utf8") === abis, "offchain/chain/abis.ts is stale: run `npm run build:abis`").to.equal(true);
    expect(readFileSync(join(REPO_ROOT, "offchain", "chain", "addresses.ts"), "utf8")).to.equal(renderAddresses(REPO_ROOT));
  });

  it("the ABIs are the compiled ones: every StakePool function, event and error of the artifact", () => {
    const artifact = JSON.parse(readFileSync(join(REPO_ROOT, "artifacts", "contracts", "StakePool.sol", "StakePool.json"), "utf8")) as { abi: unknown[] };
    expect(stakePoolAbi).to.deep.equal(artifact.abi);
    const pool = new Interface(stakePoolAbi);
    for (const f of ["openJob", "commit", "challenge", "commitResult", "answerFingerprint", "revealResult", "getJob"]) expect(pool.getFunction(f), f).to.not.equal(null);
    expect(new Interface(testTokenAbi).getFunction("mint")).to.not.equal(null);
    expect(erc20Abi.map((e) => e.name)).to.include.members(["balanceOf", "allowance", "approve", "decimals"]);
  });

  it("validates a deployment record and says which field is wrong", () => {
    const record = { chainId: 11155111, network: "sepolia", stakePool: "0x" + "ab".repeat(20), token: "0x" + "cd".repeat(20), randomness: "0x" + "ef".repeat(20), deployBlock: 42, deployedAt: "2026-12-01T00:00:00Z", params: { alphaBps: 10000 } };
    const d = deploymentFromRecord(record);
    expect(d.stakePool).to.equal(getAddress(record.stakePool)); // checksummed
    expect(d.deployBlock).to.equal(42);
    expect(() => deploymentFromRecord({ ...record, stakePool: "0x12" })).to.throw(ChainConfigError, /stakePool: must be an address/);
    expect(() => deploymentFromRecord({ ...record, deployBlock: -1 })).to.throw(ChainConfigError, /deployBlock/);
    expect(Object.keys(addresses).every((k) => k !== "31337")).to.equal(true);
    expect(() => deploymentFor(999_999)).to.throw(ChainConfigError, /no StakePool deployment recorded for chain 999999/);
  });
});
