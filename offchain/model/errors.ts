import { PocError } from "../errors.js";

/** Base class of every error raised by `offchain/model`. */
export class ModelError extends PocError {
  override name = "ModelError";
}

/** A model directory or one of its files is missing, unreadable or corrupt. Names the file. */
export class ModelFileError extends ModelError {
  override name = "ModelFileError";
  readonly file: string;
  /** onnxruntime refused or failed the graph: another optimisation level may work (load.ts retries). */
  readonly retryable: boolean;
  constructor(file: string, shortMessage: string, options: { details?: string; cause?: unknown; retryable?: boolean } = {}) {
    super(`${shortMessage}: ${file}`, { ...(options.details !== undefined ? { details: options.details } : {}), cause: options.cause });
    this.file = file;
    this.retryable = options.retryable ?? false;
  }
}

/** config.json is invalid, or disagrees with the ONNX graph. */
export class ModelConfigError extends ModelError {
  override name = "ModelConfigError";
}

/** The requested execution provider cannot run on this machine / in this onnxruntime-node build. */
export class ExecutionProviderError extends ModelError {
  override name = "ExecutionProviderError";
  readonly provider: string;
  constructor(provider: string, shortMessage: string, options: { details?: string; cause?: unknown } = {}) {
    super(shortMessage, options);
    this.provider = provider;
  }
}

/** A forward call or a build was asked for something impossible (bad tokens, bad past, bad options). */
export class ModelInputError extends ModelError {
  override name = "ModelInputError";
}
