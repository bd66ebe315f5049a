/**
 * The four rows of the paper's Table 1, with concrete numbers checked literally.
 *
 * α = 0.5 and β = 1.5 (5_000 and 15_000 bps), Cg = 100 and Cv = 20 tokens, so
 *   αCg = 50, αCv = 10, βCg = 150, βCv = 30 (tokens; all amounts below are in whole tokens).
 */
import { expect } from "chai";
import { createPoolContext, E18, claim, miss, HOUR, TEST_PARAMS } from "./helpers.js";
import { JobState } from "../../scripts/lib/state.js";

const T = (n: number | bigint) => BigInt(n) * E18;

const ctx = await createPoolContext();
const { networkHelpers, deployFixture, openAndCommit, challenged, submit, withdrawAll, totalBonds } = ctx;
const load = () => networkHelpers.loadFixture(deployFixture);

describe("StakePool: Table 1 payouts, to the wei", function () {
  it("settles without challenge: generator gets (α+β)Cg = 200, user recovers αCv = 10, pool empties", async function () {
    const f = await load();
    const jobId = await openAndCommit(f);
    expect(await f.pool.escrowOf(jobId)).to.equal(T(50 + 10 + 150));
    await networkHelpers.time.increase(HOUR + 1);
    await expect(f.pool.connect(f.stranger).finalize(jobId))
      .to.emit(f.pool, "JobFinalized")
      .withArgs(jobId, f.generator.address, f.user.address, T(200), T(10));
    expect(await f.pool.creditOf(f.generator.address)).to.equal(T(200));
    expect(await f.pool.creditOf(f.user.address)).to.equal(T(10));
    expect(await f.pool.escrowOf(jobId)).to.equal(0n);
    expect((await f.pool.getJob(jobId)).state).to.equal(JobState.Finalized);
    await withdrawAll(f);
    expect(await f.token.balanceOf(f.poolAddress)).to.equal(await totalBonds(f));
    expect(await f.token.balanceOf(f.poolAddress)).to.equal(T(500)); // the five bonds of 100
  });

  it("settles one-stage verification when G and V agree: generator 200, V1 (α+β)Cv = 40, user pays αCv", async function () {
    const f = await load();
    const userBefore = await f.token.balanceOf(f.user.address);
    const jobId = await challenged(f, f.v1);
    expect(await f.pool.escrowOf(jobId)).to.equal(T(50 + 10 + 150 + 30));
    expect((await f.pool.bondOf(f.v1.address)).bond).to.equal(T(70)); // 30 locked in the job
    await expect(submit(f, jobId, claim))
      .to.emit(f.pool, "JobSettled")
      .withArgs(jobId, JobState.GeneratorUpheld, 1, 0n, T(200), [f.v1.address], [T(40)], 0n);
    expect(await f.pool.creditOf(f.generator.address)).to.equal(T(200));
    expect(await f.pool.creditOf(f.v1.address)).to.equal(T(40));
    expect(await f.pool.creditOf(f.user.address)).to.equal(0n);
    expect(await f.pool.escrowOf(jobId)).to.equal(0n);
    await withdrawAll(f);
    // the user paid αCg = 50 for the inference and αCv = 10 for the verification, nothing more
    expect(userBefore - (await f.token.balanceOf(f.user.address))).to.equal(T(60));
    expect(await f.token.balanceOf(f.poolAddress)).to.equal(await totalBonds(f));
  });

  it("settles k-stage when V_k confirms G, k = 2: generator 200, V2 (α+2β)Cv = 70, V1 loses its 30", async function () {
    const f = await load();
    const jobId = await challenged(f, f.v1);
    await submit(f, jobId, miss(0), f.v2);
    expect((await f.pool.getJob(jobId)).stage).to.equal(2n);
    expect(await f.pool.escrowOf(jobId)).to.equal(T(50 + 10 + 150 + 2 * 30));
    await expect(submit(f, jobId, claim))
      .to.emit(f.pool, "JobSettled")
      .withArgs(jobId, JobState.GeneratorUpheld, 2, 0n, T(200), [f.v1.address, f.v2.address], [0n, T(70)], 0n);
    expect(await f.pool.creditOf(f.generator.address)).to.equal(T(200));
    expect(await f.pool.creditOf(f.v2.address)).to.equal(T(70));
    expect(await f.pool.creditOf(f.v1.address)).to.equal(0n);
    expect(await f.pool.creditOf(f.user.address)).to.equal(0n);
    await withdrawAll(f);
    expect(await f.token.balanceOf(f.poolAddress)).to.equal(await totalBonds(f));
    // stakes leave the bonds when locked; payouts are credits: bonds are now 70, 70, 100, 100, 100
    expect(await f.token.balanceOf(f.poolAddress)).to.equal(T(440));
  });

  it("settles k-stage when V_k confirms G, k = 3: generator 200, V3 (α+3β)Cv = 100, V1 and V2 lose their stakes", async function () {
    const f = await load();
    const jobId = await challenged(f, f.v1);
    await submit(f, jobId, miss(0), f.v2);
    await submit(f, jobId, miss(1), f.v3);
    expect(await f.pool.escrowOf(jobId)).to.equal(T(50 + 10 + 150 + 3 * 30));
    await expect(submit(f, jobId, claim))
      .to.emit(f.pool, "JobSettled")
      .withArgs(
        jobId,
        JobState.GeneratorUpheld,
        3,
        0n,
        T(200),
        [f.v1.address, f.v2.address, f.v3.address],
        [0n, 0n, T(100)],
        0n,
      );
    expect(await f.pool.creditOf(f.generator.address)).to.equal(T(200));
    expect(await f.pool.creditOf(f.v3.address)).to.equal(T(100));
    expect(await f.pool.creditOf(f.v1.address)).to.equal(0n);
    expect(await f.pool.creditOf(f.v2.address)).to.equal(0n);
    expect(await f.pool.creditOf(f.user.address)).to.equal(0n);
    await withdrawAll(f);
    expect(await f.token.balanceOf(f.poolAddress)).to.equal(await totalBonds(f));
  });

  it("settles k-stage when V_k matches V_j, k = 2: user α(Cg+Cv) = 60, V1 (α+β)Cv = 40, V2 βCg+(β−α)Cv = 170, generator loses 150", async function () {
    const f = await load();
    const userBefore = await f.token.balanceOf(f.user.address);
    const generatorBefore = await f.token.balanceOf(f.generator.address);
    const jobId = await challenged(f, f.v1);
    await submit(f, jobId, miss(0), f.v2);
    await expect(submit(f, jobId, miss(0)))
      .to.emit(f.pool, "JobSettled")
      .withArgs(jobId, JobState.VerifierUpheld, 2, T(60), 0n, [f.v1.address, f.v2.address], [T(40), T(170)], 0n);
    expect(await f.pool.creditOf(f.user.address)).to.equal(T(60));
    expect(await f.pool.creditOf(f.v1.address)).to.equal(T(40));
    expect(await f.pool.creditOf(f.v2.address)).to.equal(T(170));
    expect(await f.pool.creditOf(f.generator.address)).to.equal(0n);
    expect((await f.pool.getJob(jobId)).state).to.equal(JobState.VerifierUpheld);
    await withdrawAll(f);
    expect(await f.token.balanceOf(f.user.address)).to.equal(userBefore); // the user lost nothing
    expect(generatorBefore - (await f.token.balanceOf(f.generator.address))).to.equal(T(150));
    expect(await f.token.balanceOf(f.poolAddress)).to.equal(await totalBonds(f));
  });

  it("settles k-stage when V_k matches V_j, k = 3, j = 1: user 60, V1 40, V3 βCg+(2β−α)Cv = 200, V2 loses its stake", async function () {
    const f = await load();
    const jobId = await challenged(f, f.v1);
    await submit(f, jobId, miss(0), f.v2);
    await submit(f, jobId, miss(1), f.v3);
    await expect(submit(f, jobId, miss(0)))
      .to.emit(f.pool, "JobSettled")
      .withArgs(
        jobId,
        JobState.VerifierUpheld,
        3,
        T(60),
        0n,
        [f.v1.address, f.v2.address, f.v3.address],
        [T(40), 0n, T(200)],
        0n,
      );
    expect(await f.pool.creditOf(f.user.address)).to.equal(T(60));
    expect(await f.pool.creditOf(f.v1.address)).to.equal(T(40));
    expect(await f.pool.creditOf(f.v2.address)).to.equal(0n);
    expect(await f.pool.creditOf(f.v3.address)).to.equal(T(200));
    expect(await f.pool.creditOf(f.generator.address)).to.equal(0n);
    await withdrawAll(f);
    expect(await f.token.balanceOf(f.poolAddress)).to.equal(await totalBonds(f));
  });

  it("settles k-stage when V_k matches V_j, k = 3, j = 2: user 60, V2 40, V3 200, V1 loses its stake", async function () {
    const f = await load();
    const jobId = await challenged(f, f.v1);
    await submit(f, jobId, miss(0), f.v2);
    await submit(f, jobId, miss(1), f.v3);
    await expect(submit(f, jobId, miss(1)))
      .to.emit(f.pool, "JobSettled")
      .withArgs(
        jobId,
        JobState.VerifierUpheld,
        3,
        T(60),
        0n,
        [f.v1.address, f.v2.address, f.v3.address],
        [0n, T(40), T(200)],
        0n,
      );
    expect(await f.pool.creditOf(f.v1.address)).to.equal(0n);
    expect(await f.pool.creditOf(f.v2.address)).to.equal(T(40));
    expect(await f.pool.creditOf(f.v3.address)).to.equal(T(200));
    await withdrawAll(f);
    expect(await f.token.balanceOf(f.poolAddress)).to.equal(await totalBonds(f));
  });

  it("pays out exactly the pool when basis-point rounding truncates every amount", async function () {
    const f = await load();
    // α = 0.3333, β = 0.7777 and costs that are not multiples of 10_000 wei
    await f.pool.connect(f.owner).setParams({ ...TEST_PARAMS, alphaBps: 3_333, betaBps: 7_777 });
    const cg = 1_000_000_000_000_000_007n;
    const cv = 123_456_789_012_345n;
    const aG = (cg * 3_333n) / 10_000n;
    const aV = (cv * 3_333n) / 10_000n;
    const bG = (cg * 7_777n) / 10_000n;
    const bV = (cv * 7_777n) / 10_000n;
    const userBefore = await f.token.balanceOf(f.user.address);
    const jobId = await challenged(f, f.v1, cg, cv);
    const j = await f.pool.getJob(jobId);
    expect([j.alphaCg, j.alphaCv, j.betaCg, j.betaCv]).to.deep.equal([aG, aV, bG, bV]);
    await submit(f, jobId, miss(3), f.v2);
    await submit(f, jobId, miss(3)); // V2 agrees with V1
    const credits = {
      user: await f.pool.creditOf(f.user.address),
      v1: await f.pool.creditOf(f.v1.address),
      v2: await f.pool.creditOf(f.v2.address),
      generator: await f.pool.creditOf(f.generator.address),
    };
    expect(credits).to.deep.equal({ user: aG + aV, v1: aV + bV, v2: bG + bV - aV, generator: 0n });
    expect(credits.user + credits.v1 + credits.v2 + credits.generator).to.equal(aG + aV + bG + 2n * bV);
    await withdrawAll(f);
    expect(await f.token.balanceOf(f.user.address)).to.equal(userBefore);
    expect(await f.token.balanceOf(f.poolAddress)).to.equal(await totalBonds(f));
  });
});
