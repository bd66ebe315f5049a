/**
 * Revert data → a readable reason, through the ABI: the pool's custom errors read like
 * `StakePoolWrongState(job 3, Committed)`, `StakePoolDeadlinePassed(job 7, deadline 2026-11-22T05:00:00Z)`,
 * `StakePoolDeclineTooLate(job 4, until 2026-11-22T05:15:00Z)` or `StakePoolModelUnderserved(modelId 0x…,
 * stake 300, verifiers 3, minStake 500, minVerifiers 5)`.
 */
import { ErrorDescription, type Interface, type ParamType } from "ethers";
import { JobState } from "./state.js";
import { ContractRevertError } from "./errors.js";
import { errorChain, isRevertError } from "./retry.js";

/** The first revert data (0x + selector …) found in an error and its causes. */
export function revertDataOf(e: unknown): string | undefined {
  for (const o of errorChain(e, ["error", "info", "cause", "revert", "payload"]))
    if (typeof o.data === "string" && /^0x([0-9a-fA-F]{2})*$/.test(o.data) && o.data.length >= 10) return o.data;
  return undefined;
}

function formatArg(p: ParamType, v: unknown): string {
  const name = p.name;
  if (name === "jobId") return `job ${String(v)}`;
  if ((name === "state" || name === "outcome") && p.type === "uint8") return JobState[Number(v)] ?? `state ${String(v)}`;
  if ((/deadline|readyAt/i.test(name) || name === "until") && typeof v === "bigint") {
    const d = new Date(Number(v) * 1000);
    return `${name} ${Number.isFinite(d.getTime()) ? d.toISOString().replace(".000Z", "Z") : String(v)}`;
  }
  if (p.type === "string") return `${name} "${String(v)}"`;
  return name ? `${name} ${String(v)}` : String(v);
}

/** `Name(arg, arg, …)` of a decoded custom error. */
export function formatErrorDescription(d: ErrorDescription): string {
  if (d.name === "Error" && d.args.length === 1) return `"${String(d.args[0])}"`;
  if (d.name === "Panic") return `Panic(0x${BigInt(d.args[0] as bigint).toString(16)})`;
  const args = d.fragment.inputs.map((p, i) => formatArg(p, d.args[i]));
  return `${d.name}(${args.join(", ")})`;
}

/** Decode revert data with any of `ifaces`; undefined when no ABI knows the selector. */
export function decodeRevertData(data: string, ifaces: readonly Interface[]): ErrorDescription | undefined {
  for (const iface of ifaces) {
    try {
      const d = iface.parseError(data);
      if (d) return d;
    } catch {
      // try the next ABI
    }
  }
  return undefined;
}

/**
 * If `e` is a revert, a ContractRevertError with the decoded reason; otherwise undefined (the caller
 * rethrows the original error).
 */
export function toRevertError(action: string, e: unknown, ifaces: readonly Interface[]): ContractRevertError | undefined {
  if (e instanceof ContractRevertError) return e;
  const data = revertDataOf(e);
  if (data === undefined && !isRevertError(e)) return undefined;
  if (data !== undefined) {
    const d = decodeRevertData(data, ifaces);
    if (d) {
      const errorArgs: Record<string, unknown> = {};
      d.fragment.inputs.forEach((p, i) => {
        errorArgs[p.name || String(i)] = d.args[i];
      });
      return new ContractRevertError(action, formatErrorDescription(d), { errorName: d.name, errorArgs, data, cause: e });
    }
    return new ContractRevertError(action, `unknown error ${data.slice(0, 10)}`, { data, cause: e, details: `revert data ${data.slice(0, 200)}` });
  }
  const o = e as { shortMessage?: string; reason?: string; message?: string };
  return new ContractRevertError(action, o.reason ?? o.shortMessage ?? "no reason given", { cause: e });
}
