import pRetry from 'p-retry';
import { AbortError, HubError, LlamactlError, NetworkError } from '../errors.js';
import { isNetworkFailure } from './network-errors.js';

/**
 * A failure worth another try: connection reset, timeout, stall, truncated body, 408/429/5xx.
 * @internal Control flow inside the retry loop: it never leaves the library (the last try's failure is mapped to a
 * LlamactlError), so it is not part of the error hierarchy.
 */
export class RetryableError extends Error {
  override name = 'RetryableError';
  /** How long the server asked us to wait (Retry-After / RateLimit), in ms. */
  readonly retryAfterMs: number | undefined;
  readonly status: number | undefined;
  constructor(message: string, options: { cause?: unknown; retryAfterMs?: number | undefined; status?: number } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.retryAfterMs = options.retryAfterMs;
    this.status = options.status;
  }
}

export interface RetryOptions {
  /** Tries after the first one. @default 6 */
  retries?: number;
  /** First backoff in ms (doubles each try, randomized ×1–2). @default 500 */
  minTimeoutMs?: number;
  /** Longest backoff in ms. @default 15000 */
  maxTimeoutMs?: number;
  /** Longest Retry-After we honour, in ms. @default 120000 */
  maxRetryAfterMs?: number;
}

export const RETRYABLE_STATUS = new Set([408, 425, 429, 500, 502, 503, 504]);

/** Parses `Retry-After` (seconds or HTTP date) or the hub's `RateLimit: "api";r=0;t=55` into ms. */
export function retryAfterMs(headers: Record<string, string | string[] | undefined>, now = Date.now()): number | undefined {
  const value = first(headers['retry-after']);
  if (value !== undefined) {
    if (/^\d+(\.\d+)?$/.test(value.trim())) return Math.round(Number(value) * 1000);
    const date = Date.parse(value);
    if (!Number.isNaN(date)) return Math.max(0, date - now);
  }
  const rateLimit = first(headers.ratelimit);
  const t = rateLimit === undefined ? undefined : /(?:^|;)\s*t=(\d+)/.exec(rateLimit)?.[1];
  return t === undefined ? undefined : Number(t) * 1000;
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

const sleep = (ms: number, signal: AbortSignal | undefined) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(done, ms);
    function done() {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }
    function onAbort() {
      clearTimeout(timer);
      reject(signal!.reason);
    }
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/**
 * The error for a request given up because `signal` fired: a deadline (`AbortSignal.timeout`, e.g. the pull's fit
 * check) is a NetworkError saying so; the caller's own abort (Ctrl-C) is an AbortError.
 */
export function abortedError(what: string, signal: AbortSignal): LlamactlError {
  const reason: unknown = signal.reason;
  if (reason instanceof Error && reason.name === 'TimeoutError') {
    return new NetworkError(`${what} took too long and was given up.`, { cause: reason });
  }
  return new AbortError(`${what} interrupted.`, { cause: reason });
}

/**
 * Runs `attempt` with exponential backoff and jitter (p-retry). Only `RetryableError`s and network failures are
 * retried; a server's Retry-After is waited out before the backoff. Exhaustion becomes a `NetworkError`.
 */
export async function withRetries<T>(
  what: string,
  attempt: (attemptNumber: number) => Promise<T>,
  options: RetryOptions & { signal?: AbortSignal | undefined; onRetry?: (info: { error: Error; attempt: number; delayMs: number }) => void } = {},
): Promise<T> {
  const { retries = 6, minTimeoutMs = 500, maxTimeoutMs = 15_000, maxRetryAfterMs = 120_000, signal, onRetry } = options;
  try {
    return await pRetry(attempt, {
      retries,
      minTimeout: minTimeoutMs,
      maxTimeout: maxTimeoutMs,
      randomize: true,
      signal,
      shouldRetry: ({ error }) => !signal?.aborted && (error instanceof RetryableError || isNetworkFailure(error)),
      onFailedAttempt: async ({ error, attemptNumber, retriesLeft }) => {
        if (signal?.aborted || retriesLeft <= 0) return;
        if (!(error instanceof RetryableError || isNetworkFailure(error))) return;
        const wait = error instanceof RetryableError ? Math.min(error.retryAfterMs ?? 0, maxRetryAfterMs) : 0;
        onRetry?.({ error, attempt: attemptNumber, delayMs: wait });
        if (wait > 0) await sleep(wait, signal);
      },
    });
  } catch (error) {
    if (signal?.aborted) throw abortedError(what, signal);
    if (error instanceof LlamactlError) throw error;
    // What the user gives (the hub URL, the token) is checked before any request; a request undici still refuses
    // was made from what a server sent, so it is the server's fault, not bad usage.
    if ((error as { code?: unknown }).code === 'UND_ERR_INVALID_ARG') {
      throw new HubError(`${what} failed: a server sent what no request can be made from (${(error as Error).message.replace(/[.!?\s]+$/, '')}).`, {
        cause: error,
        hint: 'The hub or its download server is misbehaving; try again later.',
      });
    }
    if (error instanceof RetryableError || isNetworkFailure(error)) {
      throw new NetworkError(`${what} failed after ${retries + 1} tries: ${(error as Error).message}`, {
        cause: error,
        hint: 'Check your connection and run the same command again; finished parts are kept.',
      });
    }
    throw error;
  }
}
