/**
 * Tables of the pool's events (StakePool) and of the GeneratorRegistry's listings.
 *
 * Amounts are stake-token base units (bigint, numeric in SQL); deadlines are unix seconds; addresses
 * and hashes are lower-case hex. `jobs.state` is the JobState number of offchain/chain/state.ts as the
 * events imply it (the contract's `jobState(jobId)` stays authoritative: a deadline passing changes
 * what may be called next without any event).
 */
import { index, onchainTable, primaryKey, relations } from "ponder";

/** One row per job (JobOpened), updated by every event that names the job. */
export const jobs = onchainTable(
  "jobs",
  (t) => ({
    id: t.bigint().primaryKey(),
    state: t.integer().notNull(),
    stateName: t.text().notNull(),
    // parties
    user: t.hex().notNull(),
    generator: t.hex().notNull(),
    /** The verifier of the current stage (latest VerifierAssigned); null before a challenge. */
    verifier: t.hex(),
    modelId: t.hex().notNull(),
    // amounts (JobOpened; betaCg again at JobCommitted)
    alphaCg: t.bigint().notNull(),
    alphaCv: t.bigint().notNull(),
    betaCg: t.bigint().notNull(),
    betaCv: t.bigint().notNull(),
    paramsId: t.integer().notNull(),
    requestHash: t.hex().notNull(),
    requestUri: t.text().notNull(),
    // stage and deadline
    /** Current verification stage (0 until the first VerifierAssigned / DrawQueued / VerifierUnavailable). */
    stage: t.integer().notNull(),
    /** The deadline that matters now: commit, challenge, verifier, answer or draw deadline (unix s). */
    deadline: t.bigint().notNull(),
    commitDeadline: t.bigint().notNull(),
    challengeDeadline: t.bigint(),
    // receipt (JobCommitted)
    receiptRoot: t.hex(),
    numChecks: t.integer(),
    receiptUri: t.text(),
    challenged: t.boolean().notNull(),
    // settlement (JobCancelled / JobFinalized / JobSettled)
    settlement: t.text(), // "cancelled" | "finalized" | "settled"
    outcome: t.integer(),
    userPayout: t.bigint(),
    generatorPayout: t.bigint(),
    treasuryPayout: t.bigint(),
    // where
    openedBlock: t.bigint().notNull(),
    openedTx: t.hex().notNull(),
    openedAt: t.bigint().notNull(),
    updatedBlock: t.bigint().notNull(),
    settledBlock: t.bigint(),
  }),
  (t) => ({
    userIdx: index().on(t.user),
    generatorIdx: index().on(t.generator),
    stateIdx: index().on(t.state),
    modelIdx: index().on(t.modelId),
  }),
);

/**
 * One row per verifier assignment: (job, stage, verifier). A verifier assigned the same stage of the
 * same job again (after a redraw) overwrites its row.
 */
export const stages = onchainTable(
  "stages",
  (t) => ({
    jobId: t.bigint().notNull(),
    stage: t.integer().notNull(),
    verifier: t.hex().notNull(),
    /** pending | committed | submitted | declined | timedOut */
    status: t.text().notNull(),
    stake: t.bigint().notNull(),
    deadline: t.bigint().notNull(),
    fingerprintSeed: t.bigint().notNull(),
    // ResultCommitted
    commitment: t.hex(),
    answerDeadline: t.bigint(),
    revealDeadline: t.bigint(),
    // FingerprintAnswered (the generator's answer to the seed; the verifier's own if it answered)
    generatorFingerprint: t.hex(),
    generatorAnswerIndex: t.integer(),
    // ResultSubmitted
    resultHash: t.hex(),
    matchBitmap: t.hex(),
    fingerprint: t.hex(),
    /** Bits between the revealed fingerprint and the generator's answer (65535: no answer). */
    generatorDistance: t.integer(),
    // VerifierDeclined / VerifierTimedOut
    declineFee: t.bigint(),
    declineRefund: t.bigint(),
    forfeited: t.bigint(),
    assignedBlock: t.bigint().notNull(),
    updatedBlock: t.bigint().notNull(),
  }),
  (t) => ({
    pk: primaryKey({ columns: [t.jobId, t.stage, t.verifier] }),
    verifierIdx: index().on(t.verifier),
  }),
);

/** What a settlement credited, one row per (job, role, account); role: user | generator | verifier | treasury. */
export const payouts = onchainTable(
  "payouts",
  (t) => ({
    jobId: t.bigint().notNull(),
    role: t.text().notNull(),
    account: t.hex().notNull(),
    amount: t.bigint().notNull(),
    block: t.bigint().notNull(),
    tx: t.hex().notNull(),
  }),
  (t) => ({
    pk: primaryKey({ columns: [t.jobId, t.role, t.account] }),
    accountIdx: index().on(t.account),
  }),
);

/** Credits taken out of the pool (Withdrawn). */
export const withdrawals = onchainTable(
  "withdrawals",
  (t) => ({
    id: t.text().primaryKey(), // `${tx}-${logIndex}`
    account: t.hex().notNull(),
    amount: t.bigint().notNull(),
    block: t.bigint().notNull(),
    tx: t.hex().notNull(),
  }),
  (t) => ({ accountIdx: index().on(t.account) }),
);

/** One row per verifier that ever bonded: its bond, draw weight, models and what its assignments came to. */
export const verifiers = onchainTable("verifiers", (t) => ({
  address: t.hex().primaryKey(),
  bond: t.bigint().notNull(),
  pendingBond: t.bigint().notNull(),
  /** Draw weight (VerifierSynced). */
  weight: t.bigint().notNull(),
  models: t.hex().array().notNull(),
  unbondAmount: t.bigint().notNull(),
  unbondReadyAt: t.bigint(),
  assigned: t.integer().notNull(),
  submitted: t.integer().notNull(),
  declined: t.integer().notNull(),
  timedOut: t.integer().notNull(),
  forfeited: t.bigint().notNull(),
  updatedBlock: t.bigint().notNull(),
}));

/**
 * One row per generator: its registry listing (GeneratorRegistered / Updated / Unregistered) and its
 * record over its jobs, counted as offchain/chain/generator-record.ts counts them.
 */
export const generators = onchainTable("generators", (t) => ({
  address: t.hex().primaryKey(),
  // listing
  listed: t.boolean().notNull(),
  models: t.hex().array().notNull(),
  pricePerToken: t.bigint().notNull(),
  endpoint: t.text().notNull(),
  deposit: t.bigint().notNull(),
  // record
  jobs: t.integer().notNull(),
  finalized: t.integer().notNull(),
  upheld: t.integer().notNull(),
  slashed: t.integer().notNull(),
  forfeited: t.integer().notNull(),
  skipped: t.integer().notNull(),
  stalemate: t.integer().notNull(),
  unverified: t.integer().notNull(),
  updatedBlock: t.bigint().notNull(),
}));

/** Pool-wide settings seen in events (one row, id = the pool's address). */
export const pool = onchainTable("pool", (t) => ({
  id: t.hex().primaryKey(),
  paramsId: t.integer(),
  params: t.json(),
  treasury: t.hex(),
  randomnessSource: t.hex(),
  jobs: t.integer().notNull(),
}));

export const jobsRelations = relations(jobs, ({ many }) => ({
  stages: many(stages),
  payouts: many(payouts),
}));
export const stagesRelations = relations(stages, ({ one }) => ({
  job: one(jobs, { fields: [stages.jobId], references: [jobs.id] }),
}));
export const payoutsRelations = relations(payouts, ({ one }) => ({
  job: one(jobs, { fields: [payouts.jobId], references: [jobs.id] }),
}));
