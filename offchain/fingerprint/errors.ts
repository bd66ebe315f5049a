import { PocError } from "../errors.js";

/** A bad fingerprint input: a seed that is not a uint64, a fingerprint that is not bytes32, a replay with no KV positions. */
export class FingerprintError extends PocError {
  override name = "FingerprintError";
}
