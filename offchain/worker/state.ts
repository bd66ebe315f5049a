/**
 * The verifier worker's progress on disk: one JSON file per (chain, pool, verifier) in the state
 * directory, `verifier-<chainId>-<pool>-<verifier>.json`, rewritten atomically (temp file, fsync,
 * rename) after every change that matters, so a crash leaves either the old or the new file.
 *
 * ```json
 * { "version": 1, "kind": "verifier", "chainId": "31337", "pool": "0x…", "verifier": "0x…",
 *   "lastBlock": 123, "lastBlockHash": "0x…",
 *   "jobs": { "7:1": { "jobId": "7", "stage": 1, "deadline": 1790000000, "status": "queued",
 *                      "committed": { … }, "result": { "bitmap": "0x…", "kind": "replay", … },
 *                      "txs": [ { "nonce": 4, "hash": "0x…", "action": "revealResult(job 7, 0x…)", "at": "…" } ] } } }
 * ```
 *
 * - `lastBlock`/`lastBlockHash`: the last block whose assignments were all recorded. A restart scans
 *   from `lastBlock + 1 − reorgOverlap`; if that block's hash changed (a deeper re-org, or a restarted
 *   dev node) it rescans from the deployment block — safe, since every assignment is checked on-chain.
 * - `jobs`: one record per assignment `jobId:stage`. `status` is "queued" (to do), "waiting-model"
 *   (the model is not in the models directory) or "done" (`outcome` says how). `result` is the bitmap
 *   once computed (a restart submits it without replaying again). `txs` lists every commitResult / revealResult
 *   sent (commitResult, revealResult, answerFingerprint): the nonce is written before the send, the hash as soon as it is known; a restart waits for
 *   a recorded transaction instead of sending another, and checks the stage on-chain first.
 * - Done records are pruned once they are more than PRUNE_BLOCKS behind the scan (the re-org overlap
 *   never reaches them).
 */
import { mkdir, readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { z } from "zod";
import { PocError } from "../errors.js";
import { writeFileAtomic } from "../receipt/store.js";
import { Mutex } from "./queue.js";
import { chainIdentitySchema } from "./chain-identity.js";

export class WorkerStateError extends PocError {
  override name = "WorkerStateError";
}

export const STATE_VERSION = 1;
/** Done job records older than this many blocks behind the scan are dropped. */
export const PRUNE_BLOCKS = 50_000;

const hex = z.string().regex(/^0x[0-9a-fA-F]*$/);

const txSchema = z.object({
  nonce: z.number().int().min(0),
  hash: hex.optional(),
  action: z.string(),
  at: z.string(),
});

const jobSchema = z.object({
  jobId: z.string().regex(/^\d+$/),
  stage: z.number().int().min(1),
  deadline: z.number().int().min(0),
  stake: z.string().regex(/^\d+$/),
  /** The stage's fingerprint seed (VerifierAssigned), decimal. */
  fingerprintSeed: z.string().regex(/^\d+$/).default("0"),
  assignedBlock: z.number().int().min(0),
  assignedTx: hex,
  /** waiting-answers: committed, waiting for the generator's and earlier verifiers' answers. */
  status: z.enum(["queued", "waiting-model", "waiting-answers", "done"]),
  opened: z.object({ modelId: hex, requestHash: hex, requestUri: z.string() }).optional(),
  committed: z.object({ receiptRoot: hex, numChecks: z.number().int().min(1), receiptUri: z.string() }).optional(),
  result: z
    .object({
      bitmap: hex,
      /** replay: the verifier's verdict; generator-fault: the all-zero bitmap (reason says why). */
      kind: z.enum(["replay", "generator-fault"]),
      reason: z.string(),
      agrees: z.boolean().optional(),
      replayMs: z.number().optional(),
      /** The replay's fingerprint for the stage's seed (the zero hash when nothing could be replayed). */
      fingerprint: hex.default("0x" + "00".repeat(32)),
    })
    .optional(),
  /**
   * The commitment, written before commitResult is sent (the salt is needed to reveal: losing it
   * forfeits the stake). `answerDeadline`/`revealDeadline` once the commit is mined.
   */
  commit: z
    .object({
      salt: hex,
      commitment: hex,
      answerDeadline: z.number().int().optional(),
      revealDeadline: z.number().int().optional(),
      /**
       * One-transaction stage (submitResult): the generator's signed answer to this commitment, or
       * `declined` when it could not be had or does not match (then commit and reveal). Once the
       * commitment was sent to the generator, only this commitment may be made on-chain.
       */
      oneTx: z.union([z.object({ answer: hex, signature: hex }), z.literal("declined")]).optional(),
    })
    .optional(),
  /** Later stages of the job whose fingerprint seed we dealt with (stage → tx hash, "answered" when seen on-chain, "not-needed" when the generator's answer matched ours, "no-receipt"). */
  answered: z.record(z.string(), z.string()).default({}),
  /** While waiting-answers: the generator has not answered yet (idle() waits for it, not for earlier verifiers). */
  awaitingGenerator: z.boolean().optional(),
  /**
   * Made from our own pick of a pending draw (a simulated commitResult, PoolClient `drawPick`) before
   * the stage was drawn on-chain: our commitResult draws it. Cleared once the draw is on-chain.
   */
  selfDraw: z.boolean().optional(),
  /** The job reached a final state (no answers owed any more). */
  final: z.boolean().default(false),
  txs: z.array(txSchema).default([]),
  outcome: z.string().optional(),
  detail: z.string().optional(),
  attempts: z.number().int().min(0).default(0),
  updatedAt: z.string(),
});

const stateSchema = z.object({
  version: z.literal(STATE_VERSION),
  kind: z.literal("verifier"),
  chainId: z.string().regex(/^\d+$/),
  pool: hex,
  verifier: hex,
  lastBlock: z.number().int().min(0).nullable(),
  lastBlockHash: hex.nullable(),
  /** The chain and deployment this state belongs to (chain-identity.ts); absent in files of older versions. */
  identity: chainIdentitySchema.optional(),
  jobs: z.record(z.string(), jobSchema),
  /** Stages waiting for a draw (DrawQueued), `jobId:stage`, looked at for our own picks until they are drawn. */
  queued: z.record(z.string(), z.object({ jobId: z.string().regex(/^\d+$/), stage: z.number().int().min(1), block: z.number().int().min(0) })).default({}),
});

export type JobRecord = z.infer<typeof jobSchema>;
export type TxRecord = z.infer<typeof txSchema>;
export type VerifierState = z.infer<typeof stateSchema>;

export function stateFileName(chainId: bigint, pool: string, verifier: string): string {
  return `verifier-${chainId}-${pool.toLowerCase()}-${verifier.toLowerCase()}.json`;
}

export class VerifierStateFile {
  readonly path: string;
  readonly data: VerifierState;
  readonly #mutex = new Mutex();
  #frozen = false;

  private constructor(path: string, data: VerifierState) {
    this.path = path;
    this.data = data;
  }

  /** Open (or create) the state of `verifier` on `pool` in `dir`. WorkerStateError for a corrupt file. */
  static async open(dir: string, id: { chainId: bigint; pool: string; verifier: string }): Promise<VerifierStateFile> {
    const d = resolve(dir);
    try {
      await mkdir(d, { recursive: true });
    } catch (cause) {
      throw new WorkerStateError(`cannot create the state directory ${d}`, { cause });
    }
    const path = join(d, stateFileName(id.chainId, id.pool, id.verifier));
    let raw: string | undefined;
    try {
      raw = await readFile(path, "utf8");
    } catch (e) {
      if ((e as { code?: string }).code !== "ENOENT") throw new WorkerStateError(`cannot read ${path}`, { cause: e });
    }
    if (raw === undefined) {
      const fresh: VerifierState = {
        version: STATE_VERSION,
        kind: "verifier",
        chainId: id.chainId.toString(),
        pool: id.pool.toLowerCase(),
        verifier: id.verifier.toLowerCase(),
        lastBlock: null,
        lastBlockHash: null,
        jobs: {},
        queued: {},
      };
      const f = new VerifierStateFile(path, fresh);
      await f.save();
      return f;
    }
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch (cause) {
      throw corrupt(path, "not JSON", cause);
    }
    const r = stateSchema.safeParse(json);
    if (!r.success) throw corrupt(path, r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; "));
    const s = r.data;
    if (s.chainId !== id.chainId.toString() || s.pool !== id.pool.toLowerCase() || s.verifier !== id.verifier.toLowerCase()) {
      throw corrupt(path, `it belongs to verifier ${s.verifier} on pool ${s.pool}, chain ${s.chainId}`);
    }
    return new VerifierStateFile(path, s);
  }

  /** Write the state atomically (writes are serialised; a frozen file writes nothing). */
  save(): Promise<void> {
    return this.#mutex.run(async () => {
      if (this.#frozen) return;
      const text = JSON.stringify(this.data, null, 2) + "\n";
      try {
        await writeFileAtomic(this.path, new TextEncoder().encode(text));
      } catch (cause) {
        throw new WorkerStateError(`cannot write the state file ${this.path}`, { cause });
      }
    });
  }

  /** Stop writing (a simulated crash: whatever happens afterwards is not recorded). */
  freeze(): void {
    this.#frozen = true;
  }
  get frozen(): boolean {
    return this.#frozen;
  }

  /** Drop done records far behind the scan. */
  prune(): void {
    const last = this.data.lastBlock;
    if (last === null) return;
    for (const [k, j] of Object.entries(this.data.jobs)) {
      if (j.status === "done" && j.assignedBlock < last - PRUNE_BLOCKS) delete this.data.jobs[k];
    }
    for (const [k, q] of Object.entries(this.data.queued)) {
      if (q.block < last - PRUNE_BLOCKS) delete this.data.queued[k];
    }
  }
}

function corrupt(path: string, why: string, cause?: unknown): WorkerStateError {
  return new WorkerStateError(`the worker state file ${path} is unusable: ${why}`, {
    details:
      "move it away to start afresh: the worker then rescans its assignments from the deployment block and checks each one on-chain before acting, so nothing is submitted twice",
    cause,
  });
}
