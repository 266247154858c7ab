import { describe, expect, it } from 'vitest';
import { NetworkError, UsageError } from '../../../src/errors.js';
import { RetryableError, withRetries } from '../../../src/http/retry.js';

describe('withRetries', () => {
  const fast = { retries: 3, minTimeoutMs: 1, maxTimeoutMs: 2 };

  it('retries a retryable failure a bounded number of times, then gives a NetworkError', async () => {
    let calls = 0;
    const error = await withRetries('Asking', async () => {
      calls++;
      throw new RetryableError('HTTP 503 from the hub');
    }, fast).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NetworkError);
    expect(calls).toBe(4);
  });

  it('does not retry a request undici refuses to send (UND_ERR_INVALID_ARG): a UsageError at once', async () => {
    let calls = 0;
    const error = await withRetries('Asking the hub for a/b', async () => {
      calls++;
      throw Object.assign(new Error('invalid url'), { code: 'UND_ERR_INVALID_ARG' });
    }, fast).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toBe('Asking the hub for a/b failed: invalid url.');
    expect(calls).toBe(1);
  });
});
