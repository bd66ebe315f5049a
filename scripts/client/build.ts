/**
 * Build packages/client/dist: the JavaScript with esbuild (one ESM file per entry, code shared
 * between them in a chunk; bundled for `platform: "browser"`, so a Node built-in anywhere in the graph
 * fails the build; ethers, zod and @openzeppelin/merkle-tree stay imports: the peer dependency and the dependencies) and the declarations with tsc (`tsconfig.build.json`: no Node types, DOM lib).
 */
import { execFileSync } from "node:child_process";
import { rmSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { join, relative } from "node:path";
import { build } from "esbuild";
import { REPO_ROOT } from "../lib/deployment.js";

export const CLIENT_DIR = join(REPO_ROOT, "packages", "client");
/** What the package imports and does not bundle (its dependencies and peer dependency). */
export const CLIENT_EXTERNALS = ["ethers", "zod", "@openzeppelin/merkle-tree"];

export interface BuiltPackage {
  outDir: string;
  /** The JavaScript files written (path relative to outDir, size in bytes). */
  files: { path: string; bytes: number }[];
}

export async function buildClientPackage(o: { outDir?: string } = {}): Promise<BuiltPackage> {
  const outDir = o.outDir ?? join(CLIENT_DIR, "dist");
  rmSync(outDir, { recursive: true, force: true });
  const r = await build({
    absWorkingDir: CLIENT_DIR,
    entryPoints: { index: "src/index.ts", abis: "src/abis.ts" },
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    outdir: outDir,
    external: CLIENT_EXTERNALS,
    sourcemap: false,
    metafile: true,
    logLevel: "silent",
  });
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  execFileSync(process.execPath, [tsc, "-p", join(CLIENT_DIR, "tsconfig.build.json"), "--outDir", join(outDir, "types")], { stdio: "inherit" });
  const files = Object.keys(r.metafile.outputs).map((f) => {
    const abs = join(CLIENT_DIR, f);
    return { path: relative(outDir, abs), bytes: statSync(abs).size };
  });
  return { outDir, files };
}
