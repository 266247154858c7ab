/**
 * What the CLI exits with: one row per error `code` (src/errors.ts, and the gateway's GatewayError), so a script can
 * tell failures apart. The rows are checked against the error classes at compile time: a new error class with a code
 * of its own does not typecheck until it has a row here. The README's "Environment and exit codes" section is this
 * table for people.
 */
import type * as errors from '../errors.js';
import type { LlamactlError } from '../errors.js';
import type * as gatewayErrors from '../gateway/gateway-error.js';

/** The literal `code` of every error class a module exports (the base class' open `string` left out). */
type CodesOf<M> = {
  [K in keyof M]: M[K] extends abstract new (...args: never) => infer E
    ? E extends LlamactlError
      ? string extends E['code'] ? never : E['code']
      : never
    : never;
}[keyof M];
type ErrorCode = CodesOf<typeof errors> | CodesOf<typeof gatewayErrors>;

export const EXIT_OK = 0;
/** A bug: anything thrown that is not a LlamactlError, and a LlamactlError with a code of its own. */
export const EXIT_UNEXPECTED = 1;
/** Bad usage, also for what commander rejects (an unknown option, a missing argument). */
export const EXIT_USAGE = 2;

export const EXIT_CODES = {
  E_USAGE: EXIT_USAGE,
  E_NOT_FOUND: 3,
  E_HUB_NOT_FOUND: 3,
  E_HUB_AUTH: 4,
  E_INTEGRITY: 5,
  E_FORMAT: 5,
  E_DISK_SPACE: 6,
  E_INSUFFICIENT_MEMORY: 6,
  E_HUB: 7,
  E_NETWORK: 7,
  E_RUNTIME: 8,
  E_SERVER_START: 8,
  E_SERVER_TIMEOUT: 8,
  E_SERVER_EXIT: 8,
  E_PORT_IN_USE: 8,
  E_CLIENT: 9,
  E_API: 9,
  E_API_AUTH: 9,
  E_API_UNAVAILABLE: 9,
  E_CONNECTION: 9,
  E_TIMEOUT: 9,
  E_RPC_UNREACHABLE: 7,
  E_RPC_PROTOCOL: 8,
  E_RPC_VERSION: 8,
  E_RPC_WORKER_LOST: 8,
  E_GATEWAY: 8,
  E_ABORTED: 130,
} as const satisfies Record<ErrorCode, number>;

export function exitCodeOf(error: LlamactlError): number {
  return (EXIT_CODES as Record<string, number>)[error.code] ?? EXIT_UNEXPECTED;
}
