import { PocError } from "../errors.js";

/** Base class of every error raised by `offchain/generate`. */
export class GenerateError extends PocError {
  override name = "GenerateError";
}

/** The prompt is unusable: empty, or a token id that is not an integer in [0, vocabSize). */
export class PromptError extends GenerateError {
  override name = "PromptError";
}

/** prompt + maxTokens does not fit the model's context (max_position_embeddings). */
export class ContextLengthError extends GenerateError {
  override name = "ContextLengthError";
  readonly promptLength: number;
  readonly maxTokens: number;
  readonly contextLength: number;
  constructor(promptLength: number, maxTokens: number, contextLength: number) {
    super(`prompt (${promptLength} tokens) + maxTokens (${maxTokens}) exceeds the model's context of ${contextLength} tokens`, {
      details: `shorten the prompt or lower maxTokens to at most ${Math.max(0, contextLength - promptLength)}`,
    });
    this.promptLength = promptLength;
    this.maxTokens = maxTokens;
    this.contextLength = contextLength;
  }
}

/** The decoding or sampler configuration (or kvDtype) is invalid or does not fit the model. */
export class GenerateConfigError extends GenerateError {
  override name = "GenerateConfigError";
}

/** Generation was cancelled through `GenerateRequest.signal`. */
export class GenerateAbortedError extends GenerateError {
  override name = "GenerateAbortedError";
}

/** An internal invariant failed (captured samples differ from the sampler's plan): a bug, not bad input. */
export class GenerateInvariantError extends GenerateError {
  override name = "GenerateInvariantError";
}
