/**
 * listJobs: every job of the pool from one eth_getLogs pass, the same picture jobHistory builds from
 * views; nextActions: what can happen next to each, and who may do it.
 */
import { expect } from "chai";
import type { Provider } from "ethers";
import { JobIndex, JobState, PoolClient, jobHistory, listJobs, nextActions, type JobHistory } from "../../offchain/chain/index.js";
import { WORKER_TEST_PARAMS } from "../worker/helpers.js";
import { createJobsFixture, type JobsFixture } from "./fixture.js";

describe("listJobs and nextActions", function () {
  this.timeout(120_000);
  let f: JobsFixture;
  let listed: JobHistory[];
  let logCalls = 0;
  before(async () => {
    f = await createJobsFixture();
    const base = f.ethers.provider;
    const counting = new Proxy(base, {
      get(t, k) {
        if (k === "getLogs") return (q: Parameters<Provider["getLogs"]>[0]) => (logCalls++, base.getLogs(q));
        const v = Reflect.get(t, k, t);
        return typeof v === "function" ? v.bind(t) : v;
      },
    }) as Provider;
    const c = await PoolClient.create({ runner: counting, pool: f.client.address, deployBlock: f.client.deployBlock, logRange: 1_000_000 });
    listed = await listJobs(c);
  });

  const byId = (id: bigint) => {
    const j = listed.find((x) => x.jobId === id);
    if (!j) throw new Error(`job ${id} not listed`);
    return j;
  };

  it("lists every job from one eth_getLogs call, in job order", () => {
    expect(logCalls).to.equal(1);
    expect(listed.map((j) => j.jobId)).to.deep.equal(Object.values(f.jobs).sort((a, b) => (a < b ? -1 : 1)));
  });

  it("derives from the events alone what jobHistory reads from the views: state, deadline, escrow, current stage, stage statuses", async () => {
    for (const j of listed) {
      const h = await jobHistory(f.client, j.jobId, { timestamps: false });
      expect(j, `job ${j.jobId} (${h.stateName})`).to.deep.equal(h);
    }
    expect(byId(f.jobs.open!).state).to.equal(JobState.Open);
    expect(byId(f.jobs.committed!).state).to.equal(JobState.Committed);
    expect(byId(f.jobs.awaiting!).state).to.equal(JobState.AwaitingVerifier);
    expect(byId(f.jobs.verifying!).state).to.equal(JobState.Verifying);
    expect(byId(f.jobs.answering!).state).to.equal(JobState.Answering);
    const upheld = byId(f.jobs.upheld!);
    expect(upheld.state).to.equal(JobState.GeneratorUpheld);
    expect(upheld.stages[0]?.assignments[0]?.agreesWithGenerator).to.equal(true);
    expect(upheld.settlement?.payouts.total).to.be.greaterThan(0n);
    expect(byId(f.jobs.finalized!).settlement?.kind).to.equal("finalized");
    const slashed = byId(f.jobs.slashed!);
    expect(slashed.state).to.equal(JobState.VerifierUpheld);
    expect(slashed.stages.map((st) => st.assignments.map((x) => [x.outcome, x.agreesWithGenerator]))).to.deep.equal([[["submitted", false]], [["submitted", false]]]);
    expect(slashed.settlement).to.deep.include({ kind: "settled", outcome: JobState.VerifierUpheld, stage: 2 });
    expect(slashed.settlement?.payouts.user).to.equal(slashed.view.alphaCg + slashed.view.alphaCv);
    expect(byId(f.jobs.declined!).stages[0]?.assignments.map((x) => x.outcome)).to.deep.equal(["declined", "pending"]);
    expect(byId(f.jobs.timedOut!).stages[0]?.assignments.map((x) => x.outcome)).to.deep.equal(["timedOut", "pending"]);
    expect(byId(f.jobs.timedOut!).state).to.equal(JobState.Verifying);
  });

  it("says what can happen next, who may do it and from or until when", () => {
    const at = (id: bigint) => {
      const j = byId(id);
      return { j, now: j.view.deadline };
    };
    const names = (id: bigint, now: number) => nextActions(byId(id), now).map((a) => `${a.action}:${a.by}:${a.open}`);
    const o = at(f.jobs.open!);
    expect(names(f.jobs.open!, o.now)).to.deep.equal(["commit:generator:true", "cancel:anyone:false"]);
    expect(names(f.jobs.open!, o.now + 1)).to.deep.equal(["commit:generator:false", "cancel:anyone:true"]);
    expect(nextActions(o.j, o.now)[0]).to.include({ account: f.generator, until: o.j.view.deadline });
    const c = at(f.jobs.committed!);
    expect(nextActions(c.j, c.now)).to.deep.include.members([
      { action: "finalize", by: "anyone", after: c.j.view.deadline, open: false, summary: "anyone finalizes: no challenge, the generator is paid" },
    ]);
    expect(names(f.jobs.committed!, c.now)).to.deep.equal(["challenge:user:true", "finalize:anyone:false"]);
    expect(nextActions(c.j, c.now)[0]?.account).to.equal(f.user);
    expect(names(f.jobs.awaiting!, at(f.jobs.awaiting!).now + 1)).to.deep.equal(["drawVerifiers:anyone:false", "timeoutDraw:anyone:true"]);
    const v = at(f.jobs.verifying!);
    const decline = nextActions(v.j, v.now - WORKER_TEST_PARAMS.verifyWindow, { verifyWindow: WORKER_TEST_PARAMS.verifyWindow }).find((a) => a.action === "declineAssignment");
    expect(decline).to.include({ by: "verifier", account: v.j.current.verifier, until: v.j.view.deadline - WORKER_TEST_PARAMS.verifyWindow + WORKER_TEST_PARAMS.verifyWindow / 4, open: true });
    expect(names(f.jobs.verifying!, v.now + 1)).to.deep.equal(["commitResult:verifier:false", "timeoutVerifier:anyone:true"]);
    // answering: the generator has not answered, so the reveal waits for the answer deadline
    const a = at(f.jobs.answering!);
    const answerDeadline = a.j.stages[0]!.assignments[0]!.committed!.answerDeadline;
    expect(names(f.jobs.answering!, answerDeadline)).to.deep.equal(["answerFingerprint:generator:true", "revealResult:verifier:false", "timeoutVerifier:anyone:false"]);
    expect(names(f.jobs.answering!, answerDeadline + 1)).to.deep.equal(["answerFingerprint:generator:false", "revealResult:verifier:true", "timeoutVerifier:anyone:false"]);
    for (const final of [f.jobs.finalized!, f.jobs.cancelled!, f.jobs.upheld!, f.jobs.slashed!]) expect(nextActions(byId(final), 0)).to.deep.equal([]);
  });

  it("a JobIndex reads only the new blocks and refolds only the jobs they touched", async () => {
    const index = new JobIndex(f.client);
    expect((await index.update()).map((j) => j.jobId)).to.deep.equal(listed.map((j) => j.jobId));
    const head = index.lastBlock;
    expect(await index.update()).to.deep.equal([]); // nothing new
    await f.networkHelpers.time.increase(WORKER_TEST_PARAMS.challengeWindow + 1);
    await f.client.connect(await f.ethers.getSigner(f.user)).finalize(f.jobs.committed!);
    const changed = await index.update();
    expect(changed.map((j) => [j.jobId, j.stateName])).to.deep.equal([[f.jobs.committed!, "Finalized"]]);
    expect(index.lastBlock).to.be.greaterThan(head);
    expect(index.jobs).to.deep.equal(await listJobs(f.client));
  });
});
