/**
 * The one table of low-level network error codes (Node's socket errnos and undici's `UND_ERR_*`): what each means,
 * and whether another try can help. Retries (retry.ts), the lean range path and the llamafile client read it.
 */
export type NetworkErrorKind = 'reset' | 'refused' | 'unreachable' | 'dns' | 'timeout' | 'aborted' | 'invalid-request';

export const NETWORK_ERROR_CODES: Readonly<Record<string, { kind: NetworkErrorKind; transient: boolean }>> = {
  // The connection was closed or reset under us (on a kept-alive socket: the server had closed it).
  ECONNRESET: { kind: 'reset', transient: true },
  EPIPE: { kind: 'reset', transient: true },
  UND_ERR_SOCKET: { kind: 'reset', transient: true },
  ECONNREFUSED: { kind: 'refused', transient: true },
  // No way to the host, or no answer to the connect.
  ECONNABORTED: { kind: 'unreachable', transient: true },
  ETIMEDOUT: { kind: 'unreachable', transient: true },
  ENETUNREACH: { kind: 'unreachable', transient: true },
  EHOSTUNREACH: { kind: 'unreachable', transient: true },
  // A host that does not exist fails the same way every time; a resolver that is busy may answer next time.
  ENOTFOUND: { kind: 'dns', transient: false },
  EAI_AGAIN: { kind: 'dns', transient: true },
  UND_ERR_CONNECT_TIMEOUT: { kind: 'timeout', transient: true },
  UND_ERR_HEADERS_TIMEOUT: { kind: 'timeout', transient: true },
  UND_ERR_BODY_TIMEOUT: { kind: 'timeout', transient: true },
  UND_ERR_ABORTED: { kind: 'aborted', transient: false },
  // A request undici refuses to send (a bad URL or header) fails the same way every time.
  UND_ERR_INVALID_ARG: { kind: 'invalid-request', transient: false },
};

/** The kind of a network error code, or undefined for a code not in the table. */
export function networkErrorKind(code: string | undefined): NetworkErrorKind | undefined {
  return code === undefined ? undefined : NETWORK_ERROR_CODES[code]?.kind;
}

/** Is this a low-level network failure (reset, refused, socket closed, undici timeouts)? */
export function isNetworkFailure(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    const known = NETWORK_ERROR_CODES[code];
    if (known?.transient) return true;
    // Any other undici failure (closed, destroyed, a body shorter than its length) is worth another try too.
    if (code.startsWith('UND_ERR')) return known === undefined;
  }
  return error.name === 'SocketError' || /other side closed|socket hang up|terminated/i.test(error.message);
}
