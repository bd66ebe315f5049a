/**
 * What can happen next to a job, and who may do it: `nextActions(job, now)` over a JobHistory (from
 * `jobHistory` or `listJobs`), following README "A job's life" and contracts/StakePool.sol. Deadlines
 * are inclusive: an action "until" a deadline is allowed at the deadline itself, the permissionless
 * way forward "after" it from one second later (`block.timestamp > deadline`). `now` is chain time
 * (the next block's timestamp); each action says whether it is `open` at `now`. Browser-safe.
 *
 * The keeper (offchain/keeper/advance.ts) moves jobs along with `AFTER_DEADLINE`.
 */
import type { JobHistory } from "./history.js";
import { JobState } from "./state.js";

/** The permissionless step of each state once its deadline has passed. */
export const AFTER_DEADLINE = {
  [JobState.Open]: "cancel",
  [JobState.Committed]: "finalize",
  [JobState.Verifying]: "timeoutVerifier",
  [JobState.Answering]: "timeoutVerifier",
  [JobState.AwaitingVerifier]: "timeoutDraw",
} as const satisfies Partial<Record<JobState, string>>;

export type AfterDeadlineAction = (typeof AFTER_DEADLINE)[keyof typeof AFTER_DEADLINE];

/** The step due after the deadline of `state`, if it has one. */
export function afterDeadlineAction(state: JobState): AfterDeadlineAction | undefined {
  return (AFTER_DEADLINE as Partial<Record<JobState, AfterDeadlineAction>>)[state];
}

export type JobActionName =
  | "commit"
  | "cancel"
  | "challenge"
  | "finalize"
  | "drawVerifiers"
  | "timeoutDraw"
  | "commitResult"
  | "declineAssignment"
  | "timeoutVerifier"
  | "answerFingerprint"
  | "revealResult";

export interface JobAction {
  /** The pool function to call (PoolClient has a method of that name). */
  action: JobActionName;
  /** Who may call it: anyone, or the job's user / generator / a verifier (`account`). */
  by: "anyone" | "user" | "generator" | "verifier";
  /** The one account allowed, when `by` is not "anyone". */
  account?: string;
  /** Allowed only once `now` is past this (unix seconds). */
  after?: number;
  /** Allowed only while `now` is at most this (unix seconds). */
  until?: number;
  /** Whether it can be sent at `now`. */
  open: boolean;
  /** One line for people. */
  summary: string;
}

export interface NextActionsOptions {
  /** The pool's verifyWindow (seconds), for the decline window when the assignment's block time is unknown. */
  verifyWindow?: number;
}

type JobLike = Pick<JobHistory, "state" | "view" | "stages">;

/** What can happen next to `job` (module comment); [] for a final job. */
export function nextActions(job: JobLike, now: number, options: NextActionsOptions = {}): JobAction[] {
  const { view } = job;
  const deadline = view.deadline;
  const out: JobAction[] = [];
  const push = (a: Omit<JobAction, "open">) => {
    const open = (a.after === undefined || now > a.after) && (a.until === undefined || now <= a.until);
    out.push({ ...a, open });
  };
  const afterwards = afterDeadlineAction(job.state);
  const stage = job.stages.find((s) => s.stage === view.stage);
  const assignment = stage?.assignments.at(-1);
  switch (job.state) {
    case JobState.Open:
      push({ action: "commit", by: "generator", account: view.generator, until: deadline, summary: "the generator commits its receipt (staking βCg)" });
      break;
    case JobState.Committed:
      push({ action: "challenge", by: "user", account: view.user, until: deadline, summary: "the user challenges: stage 1 joins the draw queue" });
      break;
    case JobState.AwaitingVerifier:
      push({ action: "drawVerifiers", by: "anyone", until: deadline, summary: `stage ${view.stage} is drawn once the draw epoch's randomness exists: by the pick's own submitResult or commitResult (it replays first), or by anyone's drawVerifiers` });
      break;
    case JobState.Verifying: {
      const verifier = assignment?.verifier;
      const who = verifier ? { account: verifier } : {};
      push({ action: "commitResult", by: "verifier", ...who, until: deadline, summary: `the verifier of stage ${view.stage} commits to its result (or submits it at once with the generator's signed answer: submitResult)` });
      const window = assignment?.assigned.time !== undefined ? deadline - assignment.assigned.time : options.verifyWindow;
      if (window !== undefined) {
        push({ action: "declineAssignment", by: "verifier", ...who, until: deadline - window + Math.floor(window / 4), summary: `the verifier of stage ${view.stage} gives the assignment back (decline fee)` });
      }
      break;
    }
    case JobState.Answering: {
      const committed = assignment?.committed;
      const answerDeadline = committed?.answerDeadline ?? deadline;
      const answered = new Set((assignment?.answers ?? []).map((a) => a.index));
      const parties: { index: number; by: "generator" | "verifier"; account: string }[] = [{ index: 0, by: "generator", account: view.generator }];
      for (let i = 1; i < view.stage; i++) {
        const v = job.stages.find((s) => s.stage === i)?.assignments.at(-1)?.verifier;
        if (v) parties.push({ index: i, by: "verifier", account: v });
      }
      for (const p of parties) {
        if (answered.has(p.index)) continue;
        push({
          action: "answerFingerprint",
          by: p.by,
          account: p.account,
          until: answerDeadline,
          summary:
            p.index === 0
              ? `the generator answers stage ${view.stage}'s fingerprint seed`
              : `the verifier of stage ${p.index} answers stage ${view.stage}'s fingerprint seed (needed only when the generator's answer is missing or far from its replay)`,
        });
      }
      const allAnswered = parties.every((p) => answered.has(p.index));
      const generatorAnswered = answered.has(0);
      push({
        action: "revealResult",
        by: "verifier",
        ...(assignment ? { account: assignment.verifier } : {}),
        ...(allAnswered || generatorAnswered ? {} : { after: answerDeadline }),
        until: deadline,
        summary: `the verifier of stage ${view.stage} reveals its result${
          allAnswered ? "" : generatorAnswered ? " (now if the generator's answer matches its fingerprint, else once every party answered or after the answer deadline)" : " (once the generator answered with its fingerprint or every party answered, or after the answer deadline)"
        }`,
      });
      break;
    }
    default:
      return out;
  }
  if (afterwards) push({ action: afterwards, by: "anyone", after: deadline, summary: AFTER_SUMMARY[afterwards] });
  return out;
}

const AFTER_SUMMARY: Record<AfterDeadlineAction, string> = {
  cancel: "anyone cancels: the generator did not commit, the user is refunded",
  finalize: "anyone finalizes: no challenge, the generator is paid",
  timeoutVerifier: "anyone times the verifier out: its βCv goes to the treasury, the stage is drawn again",
  timeoutDraw: "anyone ends the draw: stage 1 settles as Unverified, later stages as a stalemate",
};
