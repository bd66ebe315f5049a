/**
 * Base error of the off-chain code: a short message, optional details shown on their own line,
 * and an optional cause (modelled on viem's BaseError). Subclasses name their domain.
 */
export class PocError extends Error {
  override name = "PocError";
  readonly shortMessage: string;
  readonly details: string | undefined;

  constructor(shortMessage: string, options: { details?: string; cause?: unknown } = {}) {
    const lines = [shortMessage];
    if (options.details) lines.push(`Details: ${options.details}`);
    super(lines.join("\n"), options.cause === undefined ? undefined : { cause: options.cause });
    this.shortMessage = shortMessage;
    this.details = options.details;
  }
}
