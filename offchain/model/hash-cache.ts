/**
 * sha256 of model files, cached next to the model in `.poc-hashes.json` keyed by (path, size, mtime):
 * hashing a multi-GB export takes a while, and the workers index their models directory on start.
 *
 * The cache trusts size + mtime: a file changed in place with its mtime restored is not noticed (pass
 * `cache: false` to hash everything). A cache that cannot be read or written (read-only directory,
 * corrupt file) is ignored; it is never part of the model.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readFile, rename, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { ModelFileError } from "./errors.js";

export const HASH_CACHE_FILE = ".poc-hashes.json";

const CacheSchema = z.object({
  version: z.literal(1),
  files: z.record(z.string(), z.object({ size: z.number(), mtimeMs: z.number(), sha256: z.string().regex(/^[0-9a-f]{64}$/) })),
});
type CacheData = z.infer<typeof CacheSchema>;

/** Progress of hashing: bytes done and to do over the files not found in the cache. */
export type HashProgress = (p: { file: string; doneBytes: number; totalBytes: number }) => void;

export interface HashOptions {
  /** Use and update the cache (default true). */
  cache?: boolean;
  onProgress?: HashProgress;
}

export interface FileHash {
  path: string;
  bytes: number;
  sha256: string;
}

async function readCache(dir: string): Promise<CacheData> {
  try {
    const r = CacheSchema.safeParse(JSON.parse(await readFile(join(dir, HASH_CACHE_FILE), "utf8")));
    if (r.success) return r.data;
  } catch {
    // missing or unreadable: start afresh
  }
  return { version: 1, files: {} };
}

async function writeCache(dir: string, data: CacheData): Promise<void> {
  const path = join(dir, HASH_CACHE_FILE);
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    await writeFile(tmp, `${JSON.stringify(data, null, 1)}\n`);
    await rename(tmp, path);
  } catch {
    // a read-only model directory: no cache
  }
}

/** sha256 hex of each relative path in `dir` (from the cache where size and mtime still match). */
export async function hashFiles(dir: string, paths: readonly string[], o: HashOptions = {}): Promise<FileHash[]> {
  const useCache = o.cache ?? true;
  const cache = useCache ? await readCache(dir) : { version: 1 as const, files: {} };
  const stats = new Map<string, { size: number; mtimeMs: number }>();
  for (const p of new Set(paths)) {
    try {
      const st = await stat(join(dir, p));
      stats.set(p, { size: st.size, mtimeMs: st.mtimeMs });
    } catch (cause) {
      throw new ModelFileError(join(dir, p), "Cannot read model file", { cause });
    }
  }
  const todo = [...stats].filter(([p, s]) => {
    const c = cache.files[p];
    return !(c && c.size === s.size && c.mtimeMs === s.mtimeMs);
  });
  const totalBytes = todo.reduce((a, [, s]) => a + s.size, 0);
  let doneBytes = 0;
  for (const [p, s] of todo) {
    const h = createHash("sha256");
    try {
      for await (const chunk of createReadStream(join(dir, p), { highWaterMark: 1 << 22 })) {
        h.update(chunk as Buffer);
        doneBytes += (chunk as Buffer).length;
        o.onProgress?.({ file: p, doneBytes, totalBytes });
      }
    } catch (cause) {
      throw new ModelFileError(join(dir, p), "Cannot read model file", { cause });
    }
    cache.files[p] = { size: s.size, mtimeMs: s.mtimeMs, sha256: h.digest("hex") };
  }
  if (useCache && todo.length > 0) await writeCache(dir, cache);
  return paths.map((p) => ({ path: p, bytes: stats.get(p)!.size, sha256: cache.files[p]!.sha256 }));
}
