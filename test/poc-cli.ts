/** Run the `poc` CLI as a user does (`node bin/poc.js …`), for the CLI tests. */
import { spawn, spawnSync, type SpawnSyncReturns } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const POC_BIN = join(dirname(fileURLToPath(import.meta.url)), "..", "bin", "poc.js");

export interface PocRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Blocking run (60 s limit). */
export function pocSync(...args: string[]): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [POC_BIN, ...args], { encoding: "utf8", timeout: 60_000 });
}

/** Non-blocking run (several at once, or beside an in-process chain); killed after 90 s. `env` adds to POC_DEBUG="". */
export function poc(args: string[], env: Record<string, string> = {}): Promise<PocRun> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [POC_BIN, ...args], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, POC_DEBUG: "", ...env } });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), 90_000);
    child.on("error", reject);
    child.on("close", (status) => {
      clearTimeout(timer);
      resolvePromise({ status, stdout, stderr });
    });
  });
}
