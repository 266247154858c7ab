import { describe, expect, it } from 'vitest';
import { AbortError, HubError, NetworkError } from '../../../src/errors.js';
import { RetryableError, abortedError, withRetries } from '../../../src/http/retry.js';

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

  // Issue 10 defect 12: what the user gives is checked before any request, so a request undici still refuses was
  // made from what a server sent: the server's fault (exit 7), with no HF_ENDPOINT hint and no doubled stop.
  it('does not retry a request undici refuses to send (UND_ERR_INVALID_ARG): the server\'s fault at once', async () => {
    let calls = 0;
    const error = await withRetries('Asking the hub for a/b', async () => {
      calls++;
      throw Object.assign(new Error('Invalid URL protocol: the URL must start with `http:` or `https:`.'), { code: 'UND_ERR_INVALID_ARG' });
    }, fast).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HubError);
    expect((error as HubError).exitCode).toBe(7);
    expect((error as Error).message).not.toMatch(/\.\./);
    expect((error as HubError).hint).not.toMatch(/HF_ENDPOINT/);
    expect(calls).toBe(1);
  });

  // Issue 10 defect 15: a deadline (the pull's fit check) is not the user's Ctrl-C: never "Download interrupted".
  it('reports a deadline as a NetworkError that says so, and only the caller\'s own abort as an AbortError', async () => {
    const signal = AbortSignal.timeout(30);
    // An attempt ends when its signal fires (as undici's request does).
    const attempt = () => new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));
    const timedOut = await withRetries('Reading X from the hub', attempt, { ...fast, signal }).catch((e: unknown) => e);
    expect(timedOut).toBeInstanceOf(NetworkError);
    expect((timedOut as Error).message).toBe('Reading X from the hub took too long and was given up.');
    const controller = new AbortController();
    controller.abort();
    expect(abortedError('Downloading X', controller.signal)).toBeInstanceOf(AbortError);
    expect(abortedError('Downloading X', controller.signal).message).toBe('Downloading X interrupted.');
  });
});
