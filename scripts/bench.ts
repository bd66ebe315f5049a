/**
 * Benchmark runner: `npm run bench -- --out FILE [--only gas,replay]`.
 *
 * Runs the sections registered in scripts/bench/index.ts, prints one table per result and writes a
 * JSON document `{ meta, <section name>: data, ... }` to FILE (default: $BENCH_OUT, else
 * bench-out/bench.json). Works both as `tsx scripts/bench.ts --out FILE` (what the npm script does,
 * after `hardhat build`) and as `hardhat run scripts/bench.ts` (which passes no arguments: use
 * BENCH_OUT and BENCH_ONLY then).
 */
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { sections } from "./bench/index.js";
import type { BenchTable } from "./bench/types.js";

function parseCli(argv: string[]) {
  let out = process.env.BENCH_OUT;
  let only = process.env.BENCH_ONLY;
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--out") out = argv[++i];
    else if (a.startsWith("--out=")) out = a.slice(6);
    else if (a === "--only") only = argv[++i];
    else if (a.startsWith("--only=")) only = a.slice(7);
    else rest.push(a);
  }
  return { out: resolve(out ?? "bench-out/bench.json"), only: only ? only.split(",").map((s) => s.trim()) : undefined, rest };
}

// Under `hardhat run`, argv is [node, hardhat, run, script, ...]: only consider what follows the script.
const scriptIdx = process.argv.findIndex((a) => /bench\.ts$/.test(a));
const cli = parseCli(process.argv.slice(scriptIdx >= 0 ? scriptIdx + 1 : 2));

function toJson(value: unknown): unknown {
  return JSON.parse(
    JSON.stringify(value, (_k, v) =>
      typeof v === "bigint" ? (v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= -BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString()) : v,
    ),
  );
}

function printTable(t: BenchTable) {
  const cells = t.rows.map((r) => r.map((c) => (typeof c === "number" ? c.toLocaleString("en-US") : String(c))));
  const widths = t.columns.map((c, i) => Math.max(c.length, ...cells.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  console.log(`\n${t.title}`);
  console.log(line(t.columns));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const r of cells) console.log(line(r));
  for (const n of t.notes ?? []) console.log(`  ${n}`);
}

const selected = cli.only ? sections.filter((s) => cli.only!.includes(s.name)) : sections.filter((s) => !s.optIn);
if (!cli.only) for (const s of sections.filter((x) => x.optIn)) console.log(`(not run: ${s.name}, ${s.description}; --only ${s.name} runs it)`);
if (cli.only) {
  const unknown = cli.only.filter((n) => !sections.some((s) => s.name === n));
  if (unknown.length) throw new Error(`unknown bench section(s): ${unknown.join(", ")}; known: ${sections.map((s) => s.name).join(", ")}`);
}

const doc: Record<string, unknown> = {
  meta: { date: new Date().toISOString(), node: process.version, platform: `${process.platform}-${process.arch}`, sections: selected.map((s) => s.name) },
};
for (const section of selected) {
  console.log(`== ${section.name}: ${section.description}`);
  const started = Date.now();
  const result = await section.run({ args: cli.rest, log: (l) => console.log(`  ${l}`) });
  doc[section.name] = toJson({ ...result.data, elapsedMs: Date.now() - started });
  for (const t of result.tables) printTable(t);
}
await mkdir(dirname(cli.out), { recursive: true });
await writeFile(cli.out, JSON.stringify(doc, null, 2) + "\n");
console.log(`\nwrote ${cli.out}`);
