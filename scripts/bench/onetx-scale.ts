/**
 * One-transaction stages at scale: `POC_N=1000 POC_GAMES=8 npx hardhat run scripts/bench/onetx-scale.ts`.
 * Bonds POC_N verifiers (impersonated fresh addresses, one model), then plays POC_GAMES three-stage
 * games in which every stage is the pick's `submitResult` (a dissent, another dissent, a
 * confirmation of the first: VerifierUpheld at stage 3) with the generator's answer signed
 * off-chain, and prints each stage's gas. The final stage pays the verifiers of stages 1 and 3; it is
 * marked "first pay" when either is credited for the first time (a fresh credit slot: about 17,100
 * more each), "warm" otherwise. The pick is
 * found from a drawVerifiers simulated in a snapshot (the pool's draw, cheaper than probing every
 * address). Every party withdraws after each game.
 */
import { network } from "hardhat";
import { DEFAULT_POOL_PARAMS, paramsStruct } from "../lib/params.js";
import { bondFreshVerifiers, deployStakePool } from "../lib/pool-deploy.js";
import { bitmapWithMisses } from "../lib/state.js";
import { answerStatement, resultCommitment } from "../../offchain/chain/commitment.js";

const E18 = 10n ** 18n;
const MODEL = "0x" + "cd".repeat(32);
const N = Number(process.env.POC_N ?? 7);
const GAMES = Number(process.env.POC_GAMES ?? 20);
const NUM_CHECKS = 300;
const FP = "0x" + "5a".repeat(32);
const SALT = "0x" + "77".repeat(32);

const { ethers } = await network.connect();
const [owner, user, generator] = await ethers.getSigners();
const token = await ethers.deployContract("TestToken");
const randomness = await ethers.deployContract("FutureBlockRandomness");
const pool = await deployStakePool(ethers, [await token.getAddress(), owner!.address, paramsStruct(DEFAULT_POOL_PARAMS), await randomness.getAddress(), owner!.address]);
const poolAddress = await pool.getAddress();
const chainId = (await ethers.provider.getNetwork()).chainId;
const verifiers = await bondFreshVerifiers(ethers, token, pool, N, [MODEL], 1000n * E18);
for (const a of [user!, generator!]) {
  await (await token.mint(a.address, 100_000n * E18)).wait();
  await (await token.connect(a).approve(poolAddress, ethers.MaxUint256)).wait();
}
const pickOf = async (jobId: bigint) => {
  const snap = await ethers.provider.send("evm_snapshot", []);
  await (await pool.connect(owner).drawVerifiers(16)).wait();
  const [, v] = await pool.currentStage(jobId);
  await ethers.provider.send("evm_revert", [snap]);
  const pick = verifiers.find((s) => s.address === v);
  if (!pick) throw new Error(`job ${jobId}: nobody is picked`);
  return pick;
};
const paid = new Set<string>();
console.log(`${N} verifiers, ${GAMES} three-stage games, one transaction per stage (gas per stage)`);
for (let g = 0; g < GAMES; g++) {
  await (await pool.connect(user).openJob(generator!.address, MODEL, E18, 2n * 10n ** 17n, "0x" + "ef".repeat(32), "uri")).wait();
  const jobId = (await pool.nextJobId()) - 1n;
  await (await pool.connect(generator).commit(jobId, "0x" + "ab".repeat(32), NUM_CHECKS, "uri")).wait();
  await (await pool.connect(user).challenge(jobId)).wait();
  const bitmaps = [bitmapWithMisses(NUM_CHECKS, [1]), bitmapWithMisses(NUM_CHECKS, [2]), bitmapWithMisses(NUM_CHECKS, [1])];
  const row: string[] = [];
  let first = "";
  for (let k = 1; k <= 3; k++) {
    await ethers.provider.send("evm_mine", []);
    await ethers.provider.send("evm_mine", []);
    const pick = await pickOf(jobId);
    const bitmap = bitmaps[k - 1]!;
    const commitment = resultCommitment({ jobId, stage: k, verifier: pick.address, matchBitmap: bitmap, fingerprint: FP, salt: SALT });
    const signature = await generator!.signMessage(ethers.getBytes(answerStatement({ chainId, pool: poolAddress, jobId, stage: k, commitment, answer: FP })));
    const r = await (await pool.connect(pick).submitResult(jobId, bitmap, FP, SALT, FP, signature)).wait();
    if (k === 1) first = pick.address;
    const fresh = k === 3 ? [first, pick.address].filter((a) => !paid.has(a)).length : 0;
    row.push(`k=${k} ${r!.gasUsed}${k === 3 ? (fresh ? ` (first pay: ${fresh})` : " (warm)") : ""}`);
    if (k === 3) for (const a of [first, pick.address]) paid.add(a);
  }
  console.log(`game ${g}: ${row.join(", ")}`);
  for (const s of [user!, generator!, ...verifiers]) if ((await pool.creditOf(s.address)) > 0n) await (await pool.connect(s).withdraw()).wait();
}
