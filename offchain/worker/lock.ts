/**
 * One worker per state: a lock file `<stateDir>/<kind>-<account>.lock` holding the holder's pid,
 * created exclusively (O_EXCL) before the worker reads its state and removed when it stops.
 *
 * - A second worker for the same state (same directory, role and account) is refused with
 *   WorkerLockedError naming the holder's pid — in another process or in this one.
 * - A lock left by a process that no longer exists (a crash, `kill -9`, a reboot) is stale: it is
 *   taken over, and the caller is told (`tookOver`) so it can log it.
 * - Several workers of different accounts may share a directory (their state files differ).
 */
import { mkdir, open, readFile, unlink } from "node:fs/promises";
import { hostname } from "node:os";
import { join, resolve } from "node:path";
import { z } from "zod";
import { PocError } from "../errors.js";

export class WorkerLockedError extends PocError {
  override name = "WorkerLockedError";
}

const lockSchema = z.object({ pid: z.number().int().positive(), host: z.string().optional(), since: z.string().optional(), kind: z.string().optional() });
export type LockInfo = z.infer<typeof lockSchema>;

export interface StateLock {
  readonly path: string;
  /** The pid of a dead holder whose lock was taken over, if any. */
  readonly tookOver: number | undefined;
  /** Remove the lock (idempotent; only removes a lock that is still ours). */
  release(): Promise<void>;
}

/** Locks held by this process (a second worker in the same process is refused too). */
const heldHere = new Set<string>();

/** Whether a process with this pid exists (EPERM: it exists but belongs to someone else). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as { code?: string }).code === "EPERM";
  }
}

export function lockFileName(kind: string, account: string): string {
  return `${kind}-${account.toLowerCase()}.lock`;
}

async function readLock(path: string): Promise<LockInfo | undefined> {
  try {
    const r = lockSchema.safeParse(JSON.parse(await readFile(path, "utf8")));
    return r.success ? r.data : undefined;
  } catch {
    return undefined;
  }
}

/** Take the lock of (`kind`, `account`) in `dir` (module comment); WorkerLockedError when it is held. */
export async function acquireStateLock(dir: string, kind: string, account: string): Promise<StateLock> {
  const path = join(resolve(dir), lockFileName(kind, account));
  try {
    await mkdir(resolve(dir), { recursive: true });
  } catch (cause) {
    throw new WorkerLockedError(`cannot create the state directory ${resolve(dir)}`, { cause });
  }
  let tookOver: number | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    if (heldHere.has(path)) throw locked(path, kind, process.pid, dir);
    try {
      const fh = await open(path, "wx");
      try {
        await fh.writeFile(JSON.stringify({ pid: process.pid, host: hostname(), since: new Date().toISOString(), kind }) + "\n");
        await fh.sync();
      } finally {
        await fh.close();
      }
      heldHere.add(path);
      let released = false;
      return {
        path,
        tookOver,
        release: async () => {
          if (released) return;
          released = true;
          heldHere.delete(path);
          const now = await readLock(path);
          if (now?.pid === process.pid) await unlink(path).catch(() => {});
        },
      };
    } catch (e) {
      if ((e as { code?: string }).code !== "EEXIST") throw new WorkerLockedError(`cannot create the lock file ${path}`, { cause: e, details: String((e as Error).message) });
    }
    const info = await readLock(path);
    // A lock of a live process (not this one: ours would be in heldHere) is held.
    if (info && info.pid !== process.pid && processAlive(info.pid)) throw locked(path, kind, info.pid, dir);
    // Stale (dead holder, our own pid from an earlier life, or an unreadable half-written file): take it over.
    tookOver = info?.pid ?? 0;
    await unlink(path).catch(() => {});
  }
  throw new WorkerLockedError(`cannot take the lock ${path}: another worker keeps creating it`);
}

function locked(path: string, kind: string, pid: number, dir: string): WorkerLockedError {
  const here = pid === process.pid ? " in this process" : "";
  return new WorkerLockedError(`another ${kind} worker (pid ${pid}${here}) is already running on the state directory ${resolve(dir)}: stop it first (kill ${pid}; lock ${path})`);
}
