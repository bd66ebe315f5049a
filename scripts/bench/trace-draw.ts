/**
 * Where a draw's gas goes: `npx hardhat run scripts/bench/trace-draw.ts` (POC_TRACE_N verifiers, default 10).
 * Replays the gas bench's draw (one challenged job, drawVerifiers one block later) and prints the
 * opcode gas of the drawVerifiers transaction from debug_traceTransaction, grouped by opcode, with
 * every SSTORE (slot, old→new cost) and the gas spent inside nested calls. POC_TRACE_FLOW=self traces
 * the pick's commitResult that draws its own stage instead; POC_TRACE_FLOW=game two whole stages;
 * POC_TRACE_FLOW=onetx two one-transaction stages (submitResult: a dissent, then its confirmation).
 */
import { network } from "hardhat";
import { DEFAULT_POOL_PARAMS, paramsStruct } from "../lib/params.js";
import { bondFreshVerifiers, deployStakePool } from "../lib/pool-deploy.js";
import { bitmapWithMisses } from "../lib/state.js";
import { DRAW_PROBE, answerStatement, resultCommitment } from "../../offchain/chain/commitment.js";

const E18 = 10n ** 18n;
const MODEL = "0x" + "cd".repeat(32);
const N = Number(process.env.POC_TRACE_N ?? 10);
const { ethers } = await network.connect();
const [owner, user, generator, spare] = await ethers.getSigners();
const token = await ethers.deployContract("TestToken");
const randomness = await ethers.deployContract("FutureBlockRandomness");
const pool = await deployStakePool(ethers, [await token.getAddress(), owner!.address, paramsStruct(DEFAULT_POOL_PARAMS), await randomness.getAddress(), owner!.address]);
const poolAddress = await pool.getAddress();
const byAddr = new Map((await bondFreshVerifiers(ethers, token, pool, N, [MODEL], 1000n * E18)).map((a) => [a.address.toLowerCase(), a] as const));
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
    if (l.op === "SLOAD") sstores.push(`  d${l.depth} SLOAD  slot ${l.stack![l.stack!.length - 1]!.slice(-12)} cost ${cost} pc ${(l as { pc?: number }).pc}`);
    if (l.op === "SSTORE") sstores.push(`  d${l.depth} SSTORE slot ${l.stack![l.stack!.length - 1]!.slice(-12)} val ${BigInt(l.stack![l.stack!.length - 2]!) === 0n ? "0" : "≠0"} cost ${cost}`);
  }
  const r = await ethers.provider.getTransactionReceipt(hash);
  console.log(`\n== ${label}: gasUsed ${r!.gasUsed} (opcode gas ${t.gas}, ${logs.length} steps)`);
  for (const [op, [c, g]] of Object.entries(byOp).sort((a, b) => b[1][1] - a[1][1]).slice(0, 30)) console.log(`  ${op.padEnd(36)} ×${String(c).padStart(4)}  ${g}`);
  console.log(sstores.join("\n"));
};
const FP = "0x" + "5a".repeat(32);
const SALT = "0x" + "77".repeat(32);
/** The pick of the job's ready draw: the verifier whose simulated commitResult does not revert. */
const pickOf = async (jobId: bigint) => {
  for (const a of byAddr.values()) {
    try {
      await pool.connect(a).commitResult.staticCall(jobId, DRAW_PROBE);
      return a;
    } catch {
      // not the pick
    }
  }
  throw new Error("nobody is picked");
};
const signerOf = async (a: string) => byAddr.get(a.toLowerCase()) ?? (await ethers.getSigner(a));
/** One stage: commitResult, the answers, revealResult with `bitmap`; traced when `show`. */
const stage = async (jobId: bigint, bitmap: Uint8Array, show: boolean) => {
  const [k, v] = await pool.currentStage(jobId);
  const verifier = await signerOf(v);
  const c = resultCommitment({ jobId, stage: Number(k), verifier: v, matchBitmap: bitmap, fingerprint: FP, salt: SALT });
  const txs: [string, string][] = [[`commitResult k=${k}`, (await (await pool.connect(verifier).commitResult(jobId, c)).wait())!.hash]];
  txs.push([`answerFingerprint k=${k} generator`, (await (await pool.connect(generator).answerFingerprint(jobId, FP)).wait())!.hash]);
  for (let i = 1; i < Number(k); i++) {
    const [earlier] = await pool.getStage(jobId, i);
    txs.push([`answerFingerprint k=${k} verifier ${i}`, (await (await pool.connect(await signerOf(earlier)).answerFingerprint(jobId, FP)).wait())!.hash]);
  }
  txs.push([`revealResult k=${k}`, (await (await pool.connect(verifier).revealResult(jobId, bitmap, FP, SALT)).wait())!.hash]);
  if (show) for (const [l, h] of txs) await trace(l, h);
};
const FLOW = process.env.POC_TRACE_FLOW ?? "draw";
for (let round = 0; round < 2; round++) {
  await (await pool.connect(user).openJob(generator!.address, MODEL, E18, 2n * 10n ** 17n, "0x" + "ef".repeat(32), "uri")).wait();
  const jobId = (await pool.nextJobId()) - 1n;
  await (await pool.connect(generator).commit(jobId, "0x" + "ab".repeat(32), 300, "uri")).wait();
  const ch = await (await pool.connect(user).challenge(jobId)).wait();
  await ethers.provider.send("evm_mine", []);
  if (FLOW === "onetx") {
    // each stage: the pick submits its result with the generator's answer signed off-chain
    const chainId = (await ethers.provider.getNetwork()).chainId;
    const dissent = bitmapWithMisses(300, [1]);
    for (const k of [1, 2]) {
      await ethers.provider.send("evm_mine", []);
      await ethers.provider.send("evm_mine", []);
      const pick = await pickOf(jobId);
      const c = resultCommitment({ jobId, stage: k, verifier: pick.address, matchBitmap: dissent, fingerprint: FP, salt: SALT });
      const sig = await generator!.signMessage(ethers.getBytes(answerStatement({ chainId, pool: poolAddress, jobId, stage: k, commitment: c, answer: FP })));
      const r = await (await pool.connect(pick).submitResult(jobId, dissent, FP, SALT, FP, sig)).wait();
      if (round === 1) await trace(`submitResult k=${k}`, r!.hash);
    }
    for (const s of [user!, generator!, ...byAddr.values()]) if ((await pool.creditOf(s.address)) > 1n) await (await pool.connect(s).withdraw()).wait();
    continue;
  }
  if (FLOW === "self") {
    // the pick draws its own stage in commitResult (found by simulating the call from each verifier)
    await ethers.provider.send("evm_mine", []);
    const pick = await pickOf(jobId);
    const c = resultCommitment({ jobId, stage: 1, verifier: pick.address, matchBitmap: bitmapWithMisses(300, []), fingerprint: FP, salt: SALT });
    const r = await (await pool.connect(pick).commitResult(jobId, c)).wait();
    if (round === 1) await trace("commitResult drawing its own stage", r!.hash);
    await (await pool.connect(generator).answerFingerprint(jobId, FP)).wait();
    await (await pool.connect(pick).revealResult(jobId, bitmapWithMisses(300, []), FP, SALT)).wait();
    for (const s of [user!, generator!, pick]) if ((await pool.creditOf(s.address)) > 0n) await (await pool.connect(s).withdraw()).wait();
    continue;
  }
  const d = await (await pool.connect(spare).drawVerifiers(16)).wait();
  if (round === 1 && FLOW === "draw") {
    await trace("challenge", ch!.hash);
    await trace("drawVerifiers", d!.hash);
  }
  if (FLOW === "game") {
    await stage(jobId, bitmapWithMisses(300, [1]), round === 1);
    await ethers.provider.send("evm_mine", []);
    await (await pool.connect(spare).drawVerifiers(16)).wait();
    await stage(jobId, bitmapWithMisses(300, [1]), round === 1);
  }
  for (const s of [user!, generator!]) if ((await pool.creditOf(s.address)) > 0n) await (await pool.connect(s).withdraw()).wait();
}
