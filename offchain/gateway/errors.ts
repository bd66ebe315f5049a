/**
 * Errors of the gateway, each with the HTTP status and OpenAI error `type`/`code` it is answered
 * with (`{"error":{"message","type","param","code"}}`, see openai-schema.ts `errorBody`).
 */
import { PocError } from "../errors.js";

export type OpenAiErrorType = "invalid_request_error" | "authentication_error" | "permission_error" | "not_found_error" | "server_error";

export class GatewayError extends PocError {
  override name = "GatewayError";
  readonly status: number;
  readonly type: OpenAiErrorType;
  readonly code: string | null;
  readonly param: string | null;
  constructor(
    status: number,
    message: string,
    o: { type?: OpenAiErrorType; code?: string; param?: string; details?: string; cause?: unknown } = {}
  ) {
    super(message, { ...(o.details ? { details: o.details } : {}), ...(o.cause !== undefined ? { cause: o.cause } : {}) });
    this.status = status;
    this.type = o.type ?? (status >= 500 ? "server_error" : status === 404 ? "not_found_error" : "invalid_request_error");
    this.code = o.code ?? null;
    this.param = o.param ?? null;
  }
}

/** 400: the request body or a parameter is invalid. */
export const badRequest = (message: string, param?: string, code = "invalid_request") =>
  new GatewayError(400, message, { type: "invalid_request_error", code, ...(param ? { param } : {}) });

/** The generator did not take the request, failed, or did not commit in time (fallback material). */
export class GeneratorLinkError extends PocError {
  override name = "GeneratorLinkError";
}

/** The gateway's configuration (CLI flags, directory entries) is unusable. */
export class GatewayConfigError extends PocError {
  override name = "GatewayConfigError";
}
