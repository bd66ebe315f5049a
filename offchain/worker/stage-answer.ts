/**
 * The generator's side of a one-transaction stage (IStakePool `submitResult`, docs/PROTOCOL.md
 * "One-transaction stages"): the stage's verifier sends its commitment with its signed statement of
 * it; the generator answers once per stage and verifier with its own replay fingerprint for the
 * stage's seed, signed over that commitment. The answer is recorded (with the verifier's statement)
 * before it is returned, so a verifier that then commits another result on-chain can be reported
 * (`reportEquivocation`), and a second request for another commitment is refused.
 */
import { getAddress } from "ethers";
import { PocError } from "../errors.js";
import { ChainError, JobState, answerStatement, commitmentStatement, statementSigner, type PoolClient } from "../chain/index.js";

/** What the verifier sends (`POST /v1/jobs/{jobId}/answer`). */
export interface StageAnswerRequest {
  stage: number;
  commitment: string;
  /** The verifier's EIP-191 signature of `commitmentStatement`. */
  signature: string;
}

/** What the generator returns: its fingerprint and its EIP-191 signature of `answerStatement`. */
export interface StageAnswer {
  answer: string;
  signature: string;
}

/** One answer given, as the generator's state file keeps it. */
export interface SignedAnswerRecord {
  stage: number;
  verifier: string;
  commitment: string;
  verifierSignature: string;
  answer: string;
  signature: string;
  /** The reportEquivocation transaction, once sent. */
  reported?: string;
}

/** The request is refused; `status` and `code` are the HTTP answer's. */
export class AnswerRefusedError extends PocError {
  override name = "AnswerRefusedError";
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export interface StageAnswerDeps {
  client: PoolClient;
  /** The answers already given for the job (created when missing), or undefined: not our job / not committed. */
  answersOf(jobId: bigint): Record<string, SignedAnswerRecord> | undefined;
  /** Our replay fingerprint of the job's receipt for `seed`. */
  fingerprint(jobId: bigint, seed: bigint): Promise<string>;
  /** Persist the state (the answer must be on disk before it is returned). */
  save(): Promise<void>;
}

/** The key of an answer in the job's record: one per stage and verifier. */
export function answerKey(stage: number, verifier: string): string {
  return `${stage}:${getAddress(verifier)}`;
}

/**
 * Answer `req` for job `jobId`, or throw AnswerRefusedError. The caller serialises calls (one at a
 * time), so two requests of one verifier cannot both be answered.
 */
export async function answerStage(deps: StageAnswerDeps, jobId: bigint, req: StageAnswerRequest): Promise<StageAnswer> {
  const { client } = deps;
  const answers = deps.answersOf(jobId);
  if (!answers) throw new AnswerRefusedError(404, "unknown_job", `job ${jobId} is not one this generator committed`);
  let verifier: string;
  try {
    verifier = statementSigner(commitmentStatement({ chainId: client.chainId, pool: client.address, jobId, stage: req.stage, commitment: req.commitment }), req.signature);
  } catch (e) {
    if (e instanceof ChainError) throw new AnswerRefusedError(400, "bad_signature", `the commitment's signature is not valid: ${e.shortMessage}`);
    throw e;
  }
  const key = answerKey(req.stage, verifier);
  const given = answers[key];
  if (given) {
    if (given.commitment.toLowerCase() === req.commitment.toLowerCase()) return { answer: given.answer, signature: given.signature };
    throw new AnswerRefusedError(409, "already_answered", `stage ${req.stage} of job ${jobId} was answered for another commitment of ${verifier}: one answer per stage`);
  }
  const job = await client.getJob(jobId);
  if (job.stage !== req.stage) throw new AnswerRefusedError(409, "wrong_stage", `job ${jobId} is at stage ${job.stage}, not ${req.stage}`);
  let seed: bigint;
  if (job.state === JobState.Verifying) {
    const st = await client.getStage(jobId, job.stage);
    if (getAddress(st.verifier) !== verifier) throw new AnswerRefusedError(403, "not_the_verifier", `${verifier} is not the verifier of stage ${job.stage} of job ${jobId}`);
    seed = (await client.stageRound(jobId, job.stage)).fingerprintSeed;
  } else if (job.state === JobState.AwaitingVerifier) {
    const pick = await client.drawPick(jobId, verifier);
    if (!pick) throw new AnswerRefusedError(403, "not_the_verifier", `${verifier} is not the pick of stage ${job.stage} of job ${jobId}`);
    seed = pick.seed;
  } else {
    throw new AnswerRefusedError(409, "wrong_state", `job ${jobId} is not waiting for a stage result (state ${JobState[job.state]})`);
  }
  const answer = await deps.fingerprint(jobId, seed);
  const signature = await client.signStatement(answerStatement({ chainId: client.chainId, pool: client.address, jobId, stage: req.stage, commitment: req.commitment, answer }));
  answers[key] = { stage: req.stage, verifier, commitment: req.commitment.toLowerCase(), verifierSignature: req.signature, answer, signature };
  await deps.save();
  return { answer, signature };
}
