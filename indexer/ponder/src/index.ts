/**
 * Handlers: every StakePool event and the GeneratorRegistry's listings, folded into ponder.schema.ts.
 * The state, stage and deadline a job gets here follow offchain/chain/jobs.ts `jobFromEvents` (the table
 * in its module comment): JobOpened Open/commitDeadline; JobCommitted Committed/challengeDeadline;
 * DrawQueued(k) AwaitingVerifier, stage k/drawDeadline; VerifierAssigned Verifying/its deadline;
 * ResultCommitted Answering/revealDeadline; JobCancelled, JobFinalized, JobSettled the final state/0.
 */
import { ponder, type Context } from "ponder:registry";
import { generators, jobs, payouts, pool, stages, verifiers, withdrawals } from "ponder:schema";

/** offchain/chain/state.ts `JobState` (numbers as the contract has them). */
const JobState = {
  None: 0,
  Open: 1,
  Committed: 2,
  Verifying: 3,
  AwaitingVerifier: 4,
  Finalized: 5,
  Cancelled: 6,
  GeneratorUpheld: 7,
  VerifierUpheld: 8,
  Stalemate: 9,
  Unverified: 10,
  Answering: 11,
  GeneratorForfeited: 12,
} as const;
const stateName = (s: number): string =>
  (Object.entries(JobState).find(([, v]) => v === s)?.[0] as string | undefined) ?? `State${s}`;

const ZERO = "0x0000000000000000000000000000000000000000" as const;
const lc = <T extends string>(a: T) => a.toLowerCase() as `0x${string}`;

type Db = Context["db"];

/** Update a job row if it is indexed (a job opened before the start block is not). */
async function updateJob(db: Db, id: bigint, block: bigint, set: Partial<typeof jobs.$inferInsert>) {
  const row = await db.find(jobs, { id });
  if (!row) return undefined;
  // Once settled a job's state is final: an event logged after the settlement in the same transaction
  // (on devnet the ResultSubmitted that decided a stage was indexed after its JobSettled) must not move it back.
  const after = row.settlement !== null && set.settlement === undefined;
  const { state, stateName, deadline, verifier, stage, ...rest } = set;
  await db
    .update(jobs, { id })
    .set(after ? { ...rest, updatedBlock: block } : { ...set, updatedBlock: block });
  void state, stateName, deadline, verifier, stage;
  return row;
}

const emptyGenerator = (address: `0x${string}`, block: bigint) => ({
  address,
  listed: false,
  models: [] as `0x${string}`[],
  pricePerToken: 0n,
  endpoint: "",
  deposit: 0n,
  jobs: 0,
  finalized: 0,
  upheld: 0,
  slashed: 0,
  forfeited: 0,
  skipped: 0,
  stalemate: 0,
  unverified: 0,
  updatedBlock: block,
});

type RecordField = "jobs" | "finalized" | "upheld" | "slashed" | "forfeited" | "skipped" | "stalemate" | "unverified";

/** Count one job outcome in a generator's record (offchain/chain/generator-record.ts). */
async function countRecord(db: Db, generator: `0x${string}`, field: RecordField, block: bigint) {
  await db
    .insert(generators)
    .values({ ...emptyGenerator(generator, block), [field]: 1 })
    .onConflictDoUpdate((row) => ({ [field]: row[field] + 1, updatedBlock: block }));
}

const emptyVerifier = (address: `0x${string}`, block: bigint) => ({
  address,
  bond: 0n,
  pendingBond: 0n,
  weight: 0n,
  models: [] as `0x${string}`[],
  unbondAmount: 0n,
  assigned: 0,
  submitted: 0,
  declined: 0,
  timedOut: 0,
  forfeited: 0n,
  updatedBlock: block,
});

type VerifierRow = typeof verifiers.$inferSelect;

async function upsertVerifier(
  db: Db,
  address: `0x${string}`,
  block: bigint,
  change: (row: VerifierRow) => Partial<VerifierRow>,
) {
  const base = { ...emptyVerifier(address, block), unbondReadyAt: null } as VerifierRow;
  await db
    .insert(verifiers)
    .values({ ...base, ...change(base), updatedBlock: block })
    .onConflictDoUpdate((row) => ({ ...change(row), updatedBlock: block }));
}

async function updateStage(
  db: Db,
  key: { jobId: bigint; stage: number; verifier: `0x${string}` },
  block: bigint,
  set: Partial<typeof stages.$inferInsert>,
) {
  const row = await db.find(stages, key);
  if (!row) return;
  await db.update(stages, key).set({ ...set, updatedBlock: block });
}

async function credit(
  db: Db,
  jobId: bigint,
  role: string,
  account: `0x${string}`,
  amount: bigint,
  block: bigint,
  tx: `0x${string}`,
) {
  if (amount === 0n) return;
  await db
    .insert(payouts)
    .values({ jobId, role, account, amount, block, tx })
    .onConflictDoUpdate((row) => ({ amount: row.amount + amount }));
}

// ---- jobs ---------------------------------------------------------------------------------------

ponder.on("StakePool:JobOpened", async ({ event, context }) => {
  const a = event.args;
  const block = event.block.number;
  await context.db.insert(jobs).values({
    id: a.jobId,
    state: JobState.Open,
    stateName: "Open",
    user: lc(a.user),
    generator: lc(a.generator),
    modelId: a.modelId,
    alphaCg: a.alphaCg,
    alphaCv: a.alphaCv,
    betaCg: a.betaCg,
    betaCv: a.betaCv,
    paramsId: a.paramsId,
    requestHash: a.requestHash,
    requestUri: a.requestUri,
    stage: 0,
    deadline: a.commitDeadline,
    commitDeadline: a.commitDeadline,
    challenged: false,
    openedBlock: block,
    openedTx: event.transaction.hash,
    openedAt: event.block.timestamp,
    updatedBlock: block,
  });
  await countRecord(context.db, lc(a.generator), "jobs", block);
  await context.db
    .insert(pool)
    .values({ id: lc(event.log.address), jobs: 1 })
    .onConflictDoUpdate((row) => ({ jobs: row.jobs + 1 }));
});

ponder.on("StakePool:JobCommitted", async ({ event, context }) => {
  const a = event.args;
  await updateJob(context.db, a.jobId, event.block.number, {
    state: JobState.Committed,
    stateName: "Committed",
    receiptRoot: a.receiptRoot,
    numChecks: a.numChecks,
    receiptUri: a.receiptUri,
    betaCg: a.betaCg,
    challengeDeadline: a.challengeDeadline,
    deadline: a.challengeDeadline,
  });
});

ponder.on("StakePool:JobChallenged", async ({ event, context }) => {
  // The DrawQueued of the same transaction moves it to AwaitingVerifier, stage 1.
  await updateJob(context.db, event.args.jobId, event.block.number, { challenged: true });
});

ponder.on("StakePool:JobCancelled", async ({ event, context }) => {
  const a = event.args;
  const block = event.block.number;
  const job = await updateJob(context.db, a.jobId, block, {
    state: JobState.Cancelled,
    stateName: "Cancelled",
    settlement: "cancelled",
    outcome: JobState.Cancelled,
    userPayout: a.userRefund,
    generatorPayout: 0n,
    treasuryPayout: 0n,
    deadline: 0n,
    settledBlock: block,
  });
  await credit(context.db, a.jobId, "user", lc(a.user), a.userRefund, block, event.transaction.hash);
  if (job) await countRecord(context.db, job.generator, "skipped", block);
});

ponder.on("StakePool:JobFinalized", async ({ event, context }) => {
  const a = event.args;
  const block = event.block.number;
  const job = await updateJob(context.db, a.jobId, block, {
    state: JobState.Finalized,
    stateName: "Finalized",
    settlement: "finalized",
    outcome: JobState.Finalized,
    userPayout: a.userPayout,
    generatorPayout: a.generatorPayout,
    treasuryPayout: 0n,
    deadline: 0n,
    settledBlock: block,
  });
  await credit(context.db, a.jobId, "user", lc(a.user), a.userPayout, block, event.transaction.hash);
  await credit(context.db, a.jobId, "generator", lc(a.generator), a.generatorPayout, block, event.transaction.hash);
  if (job) await countRecord(context.db, job.generator, "finalized", block);
});

const OUTCOME_FIELD: Partial<Record<number, RecordField>> = {
  [JobState.GeneratorUpheld]: "upheld",
  [JobState.VerifierUpheld]: "slashed",
  [JobState.GeneratorForfeited]: "forfeited",
  [JobState.Stalemate]: "stalemate",
  [JobState.Unverified]: "unverified",
};

ponder.on("StakePool:JobSettled", async ({ event, context }) => {
  const a = event.args;
  const block = event.block.number;
  const tx = event.transaction.hash;
  const job = await updateJob(context.db, a.jobId, block, {
    state: a.outcome,
    stateName: stateName(a.outcome),
    settlement: "settled",
    outcome: a.outcome,
    stage: a.stage,
    userPayout: a.userPayout,
    generatorPayout: a.generatorPayout,
    treasuryPayout: a.treasuryPayout,
    deadline: 0n,
    settledBlock: block,
  });
  if (job) {
    await credit(context.db, a.jobId, "user", job.user, a.userPayout, block, tx);
    await credit(context.db, a.jobId, "generator", job.generator, a.generatorPayout, block, tx);
    const field = OUTCOME_FIELD[a.outcome];
    if (field) await countRecord(context.db, job.generator, field, block);
  }
  for (const [i, v] of a.verifiers.entries()) {
    await credit(context.db, a.jobId, "verifier", lc(v), a.verifierPayouts[i] ?? 0n, block, tx);
  }
  if (a.treasuryPayout > 0n) {
    const p = await context.db.find(pool, { id: lc(event.log.address) });
    await credit(context.db, a.jobId, "treasury", p?.treasury ?? ZERO, a.treasuryPayout, block, tx);
  }
});

// ---- stages -------------------------------------------------------------------------------------

ponder.on("StakePool:VerifierAssigned", async ({ event, context }) => {
  const a = event.args;
  const block = event.block.number;
  const verifier = lc(a.verifier);
  const job = await updateJob(context.db, a.jobId, block, {
    state: JobState.Verifying,
    stateName: "Verifying",
    stage: a.stage,
    verifier,
    deadline: a.deadline,
  });
  if (!job) return;
  const row = {
    status: "pending",
    stake: a.stake,
    deadline: a.deadline,
    fingerprintSeed: a.fingerprintSeed,
    commitment: null,
    answerDeadline: null,
    revealDeadline: null,
    generatorFingerprint: null,
    generatorAnswerIndex: null,
    resultHash: null,
    matchBitmap: null,
    fingerprint: null,
    generatorDistance: null,
    declineFee: null,
    declineRefund: null,
    forfeited: null,
    assignedBlock: block,
    updatedBlock: block,
  };
  await context.db
    .insert(stages)
    .values({ jobId: a.jobId, stage: a.stage, verifier, ...row })
    .onConflictDoUpdate(row);
  await upsertVerifier(context.db, verifier, block, (v) => ({ assigned: v.assigned + 1 }));
});

ponder.on("StakePool:ResultCommitted", async ({ event, context }) => {
  const a = event.args;
  const block = event.block.number;
  await updateJob(context.db, a.jobId, block, {
    state: JobState.Answering,
    stateName: "Answering",
    deadline: a.revealDeadline,
  });
  await updateStage(context.db, { jobId: a.jobId, stage: a.stage, verifier: lc(a.verifier) }, block, {
    status: "committed",
    commitment: a.commitment,
    answerDeadline: a.answerDeadline,
    revealDeadline: a.revealDeadline,
  });
});

ponder.on("StakePool:FingerprintAnswered", async ({ event, context }) => {
  const a = event.args;
  const block = event.block.number;
  const job = await context.db.find(jobs, { id: a.jobId });
  if (!job?.verifier) return;
  // The party answering is the generator (its fingerprint of the seeded position); the verifier reveals
  // its own in ResultSubmitted.
  if (lc(a.party) !== job.generator) return;
  await updateStage(context.db, { jobId: a.jobId, stage: a.stage, verifier: job.verifier }, block, {
    generatorFingerprint: a.fingerprint,
    generatorAnswerIndex: a.index,
  });
});

ponder.on("StakePool:ResultSubmitted", async ({ event, context }) => {
  const a = event.args;
  const block = event.block.number;
  const verifier = lc(a.verifier);
  // A reveal that does not settle is followed by a DrawQueued for the next stage in the same transaction.
  await updateStage(context.db, { jobId: a.jobId, stage: a.stage, verifier }, block, {
    status: "submitted",
    resultHash: a.resultHash,
    matchBitmap: a.matchBitmap,
    fingerprint: a.fingerprint,
    generatorDistance: a.generatorDistance,
  });
  await upsertVerifier(context.db, verifier, block, (v) => ({ submitted: v.submitted + 1 }));
});

ponder.on("StakePool:VerifierDeclined", async ({ event, context }) => {
  const a = event.args;
  const block = event.block.number;
  const verifier = lc(a.verifier);
  await updateStage(context.db, { jobId: a.jobId, stage: a.stage, verifier }, block, {
    status: "declined",
    declineFee: a.fee,
    declineRefund: a.refund,
  });
  await upsertVerifier(context.db, verifier, block, (v) => ({ declined: v.declined + 1 }));
});

ponder.on("StakePool:VerifierTimedOut", async ({ event, context }) => {
  const a = event.args;
  const block = event.block.number;
  const verifier = lc(a.verifier);
  await updateStage(context.db, { jobId: a.jobId, stage: a.stage, verifier }, block, {
    status: "timedOut",
    forfeited: a.forfeited,
  });
  await upsertVerifier(context.db, verifier, block, (v) => ({ timedOut: v.timedOut + 1, forfeited: v.forfeited + a.forfeited }));
});

ponder.on("StakePool:VerifierUnavailable", async ({ event, context }) => {
  const a = event.args;
  await updateJob(context.db, a.jobId, event.block.number, {
    state: JobState.AwaitingVerifier,
    stateName: "AwaitingVerifier",
    stage: a.stage,
    verifier: null,
    deadline: a.drawDeadline,
  });
});

ponder.on("StakePool:DrawQueued", async ({ event, context }) => {
  const a = event.args;
  await updateJob(context.db, a.jobId, event.block.number, {
    state: JobState.AwaitingVerifier,
    stateName: "AwaitingVerifier",
    stage: a.stage,
    verifier: null,
    deadline: a.drawDeadline,
  });
});

// DrawEpochStarted carries no job: nothing to fold (the randomness request is visible on chain).
ponder.on("StakePool:DrawEpochStarted", async () => {});

// ---- credits and verifiers ----------------------------------------------------------------------

ponder.on("StakePool:Withdrawn", async ({ event, context }) => {
  await context.db.insert(withdrawals).values({
    id: `${event.transaction.hash}-${event.log.logIndex}`,
    account: lc(event.args.account),
    amount: event.args.amount,
    block: event.block.number,
    tx: event.transaction.hash,
  });
});

ponder.on("StakePool:Bonded", async ({ event, context }) => {
  const a = event.args;
  await upsertVerifier(context.db, lc(a.verifier), event.block.number, () => ({ bond: a.bond, pendingBond: a.pendingBond }));
});

ponder.on("StakePool:UnbondRequested", async ({ event, context }) => {
  const a = event.args;
  await upsertVerifier(context.db, lc(a.verifier), event.block.number, (v) => ({
    bond: a.bond,
    unbondAmount: v.unbondAmount + a.amount,
    unbondReadyAt: a.readyAt,
  }));
});

ponder.on("StakePool:UnbondWithdrawn", async ({ event, context }) => {
  const a = event.args;
  await upsertVerifier(context.db, lc(a.verifier), event.block.number, (v) => ({
    unbondAmount: v.unbondAmount > a.amount ? v.unbondAmount - a.amount : 0n,
    unbondReadyAt: null,
  }));
});

ponder.on("StakePool:ModelsSet", async ({ event, context }) => {
  const a = event.args;
  await upsertVerifier(context.db, lc(a.verifier), event.block.number, () => ({ models: [...a.models] }));
});

ponder.on("StakePool:VerifierSynced", async ({ event, context }) => {
  const a = event.args;
  await upsertVerifier(context.db, lc(a.verifier), event.block.number, () => ({ weight: a.weight }));
});

// ---- pool settings ------------------------------------------------------------------------------

ponder.on("StakePool:ParamsUpdated", async ({ event, context }) => {
  const p = event.args.params;
  const params = Object.fromEntries(Object.entries(p).map(([k, v]) => [k, typeof v === "bigint" ? v.toString() : v]));
  await context.db
    .insert(pool)
    .values({ id: lc(event.log.address), paramsId: event.args.paramsId, params, jobs: 0 })
    .onConflictDoUpdate({ paramsId: event.args.paramsId, params });
});

ponder.on("StakePool:TreasuryUpdated", async ({ event, context }) => {
  const treasury = lc(event.args.current);
  await context.db.insert(pool).values({ id: lc(event.log.address), treasury, jobs: 0 }).onConflictDoUpdate({ treasury });
});

ponder.on("StakePool:RandomnessSourceUpdated", async ({ event, context }) => {
  const randomnessSource = lc(event.args.current);
  await context.db
    .insert(pool)
    .values({ id: lc(event.log.address), randomnessSource, jobs: 0 })
    .onConflictDoUpdate({ randomnessSource });
});

// ---- generator registry -------------------------------------------------------------------------

ponder.on("GeneratorRegistry:GeneratorRegistered", async ({ event, context }) => {
  const a = event.args;
  const block = event.block.number;
  const listing = {
    listed: true,
    models: [...a.models],
    pricePerToken: a.pricePerToken,
    endpoint: a.endpoint,
    deposit: a.deposit,
    updatedBlock: block,
  };
  await context.db
    .insert(generators)
    .values({ ...emptyGenerator(lc(a.generator), block), ...listing })
    .onConflictDoUpdate(listing);
});

ponder.on("GeneratorRegistry:GeneratorUpdated", async ({ event, context }) => {
  const a = event.args;
  const block = event.block.number;
  const listing = { listed: true, models: [...a.models], pricePerToken: a.pricePerToken, endpoint: a.endpoint, updatedBlock: block };
  await context.db
    .insert(generators)
    .values({ ...emptyGenerator(lc(a.generator), block), ...listing })
    .onConflictDoUpdate(listing);
});

ponder.on("GeneratorRegistry:GeneratorUnregistered", async ({ event, context }) => {
  const a = event.args;
  const block = event.block.number;
  const gone = { listed: false, models: [] as `0x${string}`[], deposit: 0n, updatedBlock: block };
  await context.db
    .insert(generators)
    .values({ ...emptyGenerator(lc(a.generator), block), ...gone })
    .onConflictDoUpdate(gone);
});
