import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildModel, type BuildOptions } from "../../offchain/model/index.js";
import type { DecodingConfigInput } from "../../offchain/sampling/index.js";

export async function tempRoot(): Promise<{ root: string; cleanup: () => Promise<void> }> {
  const root = await mkdtemp(join(tmpdir(), "poc-verify-test-"));
  return { root, cleanup: () => rm(root, { recursive: true, force: true }) };
}

export async function buildTiny(root: string, name: string, options: BuildOptions = {}): Promise<string> {
  const dir = join(root, name);
  await buildModel(dir, { preset: "tiny", ...options });
  return dir;
}

export const PROMPT = Array.from({ length: 24 }, (_, i) => 32 + ((i * 37 + 11) % 95));
export const SAMPLER = { seed: "0x" + "3c".repeat(32), ratePpm: 250_000, layersPerToken: 2 };
export const GREEDY: DecodingConfigInput = { seed: 1, temperature: 0, topK: 0, topP: 1, maxTokens: 40 };
export const SAMPLED: DecodingConfigInput = { seed: 5, temperature: 0.8, topK: 40, topP: 0.95, maxTokens: 40 };

/** Expect an async function to reject with an error of class `cls` whose message matches `re`. */
export async function rejectsWith(fn: () => Promise<unknown>, cls: new (...args: never[]) => Error, re: RegExp): Promise<Error> {
  let err: unknown;
  try {
    await fn();
  } catch (e) {
    err = e;
  }
  if (!(err instanceof cls)) throw new Error(`expected ${cls.name}, got ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
  if (!re.test(err.message)) throw new Error(`message "${err.message}" does not match ${re}`);
  return err;
}
