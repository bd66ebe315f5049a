/**
 * Structured logs for the workers: one record per event with a level, an event name, a message and
 * fields. `--log json` writes one JSON object per line on stderr (time, level, event, msg, fields:
 * bigints as decimal strings); `--log plain` (default) a concise line; `silent` nothing. Every
 * record also goes to `onRecord` (tests and the demo watch a worker through it).
 */
export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFormat = "json" | "plain" | "silent";

export interface LogRecord {
  time: string;
  level: LogLevel;
  event: string;
  msg: string;
  [field: string]: unknown;
}

export interface Logger {
  log(level: LogLevel, event: string, msg: string, fields?: Record<string, unknown>): void;
  debug(event: string, msg: string, fields?: Record<string, unknown>): void;
  info(event: string, msg: string, fields?: Record<string, unknown>): void;
  warn(event: string, msg: string, fields?: Record<string, unknown>): void;
  error(event: string, msg: string, fields?: Record<string, unknown>): void;
  /** A logger that adds `fields` to every record. */
  child(fields: Record<string, unknown>): Logger;
}

export interface LoggerOptions {
  format?: LogFormat;
  /** Default: process.stderr. */
  stream?: { write(s: string): unknown };
  /** Records below this level are dropped (default "info"). */
  minLevel?: LogLevel;
  /** Receives every record (whatever the format and level). */
  onRecord?: (r: LogRecord) => void;
  /** Prefix of plain lines (e.g. a worker's short address). */
  name?: string;
}

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

function jsonSafe(_k: string, v: unknown): unknown {
  if (typeof v === "bigint") return v.toString();
  if (v instanceof Uint8Array) return `0x${Buffer.from(v).toString("hex")}`;
  if (v instanceof Error) return { name: v.name, message: v.message };
  return v;
}

export function createLogger(o: LoggerOptions = {}, base: Record<string, unknown> = {}): Logger {
  const format = o.format ?? "plain";
  const stream = o.stream ?? process.stderr;
  const min = RANK[o.minLevel ?? "info"];
  const log = (level: LogLevel, event: string, msg: string, fields: Record<string, unknown> = {}) => {
    const rec: LogRecord = { time: new Date().toISOString(), level, event, msg, ...base, ...fields };
    o.onRecord?.(rec);
    if (format === "silent" || RANK[level] < min) return;
    if (format === "json") {
      stream.write(JSON.stringify(rec, jsonSafe) + "\n");
      return;
    }
    const t = rec.time.slice(11, 19);
    const lvl = level === "info" ? "" : `${level.toUpperCase()} `;
    stream.write(`${t} ${o.name ? `[${o.name}] ` : ""}${lvl}${msg}\n`);
  };
  return {
    log,
    debug: (e, m, f) => log("debug", e, m, f),
    info: (e, m, f) => log("info", e, m, f),
    warn: (e, m, f) => log("warn", e, m, f),
    error: (e, m, f) => log("error", e, m, f),
    child: (fields) => createLogger(o, { ...base, ...fields }),
  };
}

/** A logger that drops everything (but still calls onRecord when given). */
export function silentLogger(onRecord?: (r: LogRecord) => void): Logger {
  return createLogger({ format: "silent", ...(onRecord ? { onRecord } : {}) });
}
