/**
 * The plug-in shape of a benchmark section. `scripts/bench.ts` runs every registered section (see
 * `./index.ts`), stores each section's `data` under its `name` in the output JSON, and prints its
 * tables. A section is a module under `scripts/bench/` that exports one `BenchSection`.
 */
export interface BenchTable {
  title: string;
  columns: string[];
  rows: (string | number | bigint)[][];
  /** Lines printed under the table. */
  notes?: string[];
}

export interface BenchSectionResult {
  /** JSON-serialisable (bigints are written as numbers when safe, else as strings). */
  data: Record<string, unknown>;
  tables: BenchTable[];
}

export interface BenchContext {
  /** Arguments after the script name that bench.ts did not consume itself. */
  args: string[];
  log: (line: string) => void;
}

export interface BenchSection {
  /** Key in the output JSON, and the name `--only` selects. */
  name: string;
  description: string;
  /** Run only when named in `--only` (sections that take tens of minutes). */
  optIn?: boolean;
  run(ctx: BenchContext): Promise<BenchSectionResult>;
}
