/**
 * Where a draw's gas goes: `npx hardhat run scripts/bench/trace-draw.ts` (POC_TRACE_N verifiers, default 10).
 * Replays the gas bench's draw (one challenged job, drawVerifiers one block later) and prints the
 * opcode gas of the drawVerifiers transaction from debug_traceTransaction, grouped by opcode, with
 * every SSTORE (slot, old→new cost) and the gas spent inside nested calls.
 */
import { network } from "hardhat";
import { DEFAULT_POOL_PARAMS, paramsStruct } from "../lib/params.js";
import { deployStakePool } from "../lib/pool-deploy.js";

const E18 = 10n ** 18n;
const MODEL = "0x" + "cd".repeat(32);
const N = Number(process.env.POC_TRACE_N ?? 10);
const { ethers } = await network.connect();
const [owner, user, generator, spare] = await ethers.getSigners();
const token = await ethers.deployContract("TestToken");
const randomness = await ethers.deployContract("FutureBlockRandomness");
const pool = await deployStakePool(ethers, [await token.getAddress(), owner!.address, paramsStruct(DEFAULT_POOL_PARAMS), await randomness.getAddress(), owner!.address]);
const poolAddress = await pool.getAddress();
for (let i = 0; i < N; i++) {
  const addr = ethers.Wallet.createRandom().address;
  await ethers.provider.send("hardhat_setBalance", [addr, "0x56bc75e2d63100000"]);
  await ethers.provider.send("hardhat_impersonateAccount", [addr]);
  const a = await ethers.getSigner(addr);
  await (await token.connect(a).mint(addr, 1000n * E18)).wait();
  await (await token.connect(a).approve(poolAddress, 1000n * E18)).wait();
  await (await pool.connect(a).setModels([MODEL])).wait();
  await (await pool.connect(a).bond(1000n * E18)).wait();
}
for (const s of [user!, generator!]) {
  await (await token.mint(s.address, 1000n * E18)).wait();
  await (await token.connect(s).approve(poolAddress, ethers.MaxUint256)).wait();
}
const trace = async (label: string, hash: string) => {
  const t = await ethers.provider.send("debug_traceTransaction", [hash, { disableStorage: false, disableMemory: true }]);
  const logs = t.structLogs as { op: string; gasCost: number; depth: number; stack?: string[]; gas: number }[];
  const byOp: Record<string, [number, number]> = {};
  let nested = 0;
  const sstores: string[] = [];
  for (let i = 0; i < logs.length; i++) {
    const l = logs[i]!;
    let cost = l.gasCost;
    // CALL-like opcodes report the gas forwarded; count only the next step's remaining difference
    if (["CALL", "STATICCALL", "DELEGATECALL"].includes(l.op)) {
      const next = logs[i + 1];
      if (next && next.depth > l.depth) {
        // find return to this depth
        let j = i + 1;
        while (j < logs.length && logs[j]!.depth > l.depth) j++;
        const back = logs[j];
        cost = back ? l.gas - back.gas : cost;
        if (l.depth === 1) nested += cost;
        byOp[`${l.op}@${l.depth} (incl. callee)`] = [(byOp[`${l.op}@${l.depth} (incl. callee)`]?.[0] ?? 0) + 1, (byOp[`${l.op}@${l.depth} (incl. callee)`]?.[1] ?? 0) + cost];
        continue;
      }
    }
    const key = `${l.op}@${l.depth}`;
    byOp[key] = [(byOp[key]?.[0] ?? 0) + 1, (byOp[key]?.[1] ?? 0) + cost];
    if (l.op === "SSTORE") sstores.push(`  d${l.depth} SSTORE slot ${l.stack![l.stack!.length - 1]!.slice(-12)} val ${BigInt(l.stack![l.stack!.length - 2]!) === 0n ? "0" : "≠0"} cost ${cost}`);
  }
  const r = await ethers.provider.getTransactionReceipt(hash);
  console.log(`\n== ${label}: gasUsed ${r!.gasUsed} (opcode gas ${t.gas}, ${logs.length} steps)`);
  for (const [op, [c, g]] of Object.entries(byOp).sort((a, b) => b[1][1] - a[1][1]).slice(0, 30)) console.log(`  ${op.padEnd(36)} ×${String(c).padStart(4)}  ${g}`);
  console.log(sstores.join("\n"));
};
for (let round = 0; round < 2; round++) {
  await (await pool.connect(user).openJob(generator!.address, MODEL, E18, 2n * 10n ** 17n, "0x" + "ef".repeat(32), "uri")).wait();
  const jobId = (await pool.nextJobId()) - 1n;
  await (await pool.connect(generator).commit(jobId, "0x" + "ab".repeat(32), 300, "uri")).wait();
  const ch = await (await pool.connect(user).challenge(jobId)).wait();
  await ethers.provider.send("evm_mine", []);
  const d = await (await pool.connect(spare).drawVerifiers(16)).wait();
  if (round === 1) {
    await trace("challenge", ch!.hash);
    await trace("drawVerifiers", d!.hash);
  }
}
