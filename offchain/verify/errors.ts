import { PocError } from "../errors.js";

/** Base class of every error raised by `offchain/verify`. */
export class VerifyError extends PocError {
  override name = "VerifyError";
}

/**
 * The receipt names another model than the one loaded: the verifier refuses to give a verdict (the
 * caller loaded the wrong model; a verdict would be meaningless either way).
 */
export class ModelMismatchError extends VerifyError {
  override name = "ModelMismatchError";
  readonly receiptModelId: string;
  readonly modelId: string;
  constructor(receiptModelId: string, modelId: string) {
    super(`the receipt is for model ${receiptModelId}, the loaded model is ${modelId}`, {
      details: "load the model directory whose id the receipt names (poc model info --model DIR prints a model's id)",
    });
    this.receiptModelId = receiptModelId;
    this.modelId = modelId;
  }
}

/**
 * A decodable receipt of the right model id whose content cannot be an honest receipt of that model
 * (vector length, layer count, token ids, context, stop rule, or samples that are not the sampler's
 * plan). Thrown only with `strict: true`; by default such a receipt gets the canonical all-unmatched
 * verdict with `malformed` set (see verify.ts).
 */
export class ReceiptStructureError extends VerifyError {
  override name = "ReceiptStructureError";
  readonly problem: StructureProblem;
  constructor(problem: StructureProblem) {
    super(`receipt does not fit the model: ${problem.message}`, problem.details === undefined ? {} : { details: problem.details });
    this.problem = problem;
  }
}

/** What is wrong with a receipt's structure, with the field concerned. */
export interface StructureProblem {
  kind: "vectorLength" | "numLayers" | "token" | "context" | "stop" | "plan";
  message: string;
  details?: string;
}

/** Bad verifier options (chunk size, tolerances). */
export class VerifyOptionsError extends VerifyError {
  override name = "VerifyOptionsError";
}

/** Verification was cancelled through `VerifyOptions.signal`. */
export class VerifyAbortedError extends VerifyError {
  override name = "VerifyAbortedError";
}
