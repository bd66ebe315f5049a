import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildModel, type BuildOptions, type BuildResult } from "../../offchain/model/build.js";

/** A temp directory per test run, removed by `cleanup`. */
export async function tempRoot(): Promise<{ root: string; cleanup: () => Promise<void> }> {
  const root = await mkdtemp(join(tmpdir(), "poc-model-test-"));
  return { root, cleanup: () => rm(root, { recursive: true, force: true }) };
}

export async function buildTiny(root: string, name: string, options: BuildOptions = {}): Promise<BuildResult> {
  return buildModel(join(root, name), { preset: "tiny", ...options });
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}
