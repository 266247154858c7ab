/**
 * An error the gateway answers a request with: an HTTP status, a stable code, a message for people, and what each
 * API's error shape needs (Retry-After, the engine's last log lines). The API modules render it in their own shape.
 * It lives with the gateway rather than in src/errors.ts because only the gateway's HTTP answers carry it; the CLI's
 * exit-code table covers it all the same (exit 8, should one ever reach the command line).
 */
import { LlamactlError, type LlamactlErrorOptions } from '../errors.js';

/** The APIs the gateway speaks: each has its own error shape (see api-errors.ts). */
export type Api = 'openai' | 'anthropic' | 'replicate' | 'workers-ai';

export interface GatewayErrorOptions extends LlamactlErrorOptions {
  /** Seconds for the Retry-After header (429/503). */
  retryAfterS?: number | undefined;
  /** The parameter at fault (OpenAI's `param`). */
  param?: string | undefined;
}

export class GatewayError extends LlamactlError {
  override name = 'GatewayError';
  override readonly code = 'E_GATEWAY' as const;
  override readonly exitCode: number = 8;
  readonly status: number;
  /** A short machine-readable reason: `model_not_found`, `queue_full`, `engine_crashed`, … */
  readonly reason: string;
  readonly retryAfterS: number | undefined;
  readonly param: string | undefined;

  constructor(status: number, reason: string, message: string, options: GatewayErrorOptions = {}) {
    super(message, options);
    this.status = status;
    this.reason = reason;
    this.retryAfterS = options.retryAfterS;
    this.param = options.param;
  }
}

/** Any error as a GatewayError: a UsageError from the library is the client's fault (400), anything else 500. */
export function toGatewayError(error: unknown): GatewayError {
  if (error instanceof GatewayError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof LlamactlError && error.code === 'E_USAGE') return new GatewayError(400, 'invalid_request', message, { cause: error });
  if (error instanceof LlamactlError && error.code === 'E_ABORTED') return new GatewayError(499, 'cancelled', message, { cause: error });
  return new GatewayError(500, 'internal_error', message, { cause: error });
}
