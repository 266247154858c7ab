import { describe, expect, it } from 'vitest';
import { isNetworkFailure, networkErrorKind } from '../../../src/http/network-errors.js';

const failure = (code: string, message = 'failed') => Object.assign(new Error(message), { code });

describe('network error codes', () => {
  it('retries resets, refusals, timeouts and other undici failures', () => {
    for (const code of ['ECONNRESET', 'EPIPE', 'ECONNREFUSED', 'ETIMEDOUT', 'EAI_AGAIN', 'UND_ERR_SOCKET', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CLOSED']) {
      expect(isNetworkFailure(failure(code)), code).toBe(true);
    }
  });

  it('does not retry what fails the same way every time', () => {
    for (const code of ['ENOTFOUND', 'UND_ERR_ABORTED', 'UND_ERR_INVALID_ARG', 'EACCES']) {
      expect(isNetworkFailure(failure(code)), code).toBe(false);
    }
    expect(isNetworkFailure('ECONNRESET')).toBe(false);
  });

  it('recognises a socket closed under us without a code', () => {
    expect(isNetworkFailure(new Error('other side closed'))).toBe(true);
    expect(isNetworkFailure(new Error('bad input'))).toBe(false);
  });

  it('names the kind the client maps to its errors', () => {
    expect(networkErrorKind('UND_ERR_SOCKET')).toBe('reset');
    expect(networkErrorKind('ECONNREFUSED')).toBe('refused');
    expect(networkErrorKind('ENOTFOUND')).toBe('dns');
    expect(networkErrorKind('UND_ERR_HEADERS_TIMEOUT')).toBe('timeout');
    expect(networkErrorKind('ETIMEDOUT')).toBe('unreachable');
    expect(networkErrorKind('E_SOMETHING')).toBeUndefined();
    expect(networkErrorKind(undefined)).toBeUndefined();
  });
});
