/**
 * Per-model concurrency: at most `slots` requests in flight (the engine's `-np`), the rest wait first in, first out
 * in a queue of at most `maxQueue`. A full queue is refused at once (429); a wait longer than `timeoutMs` ends with
 * 503; an aborted wait leaves the queue at once.
 */
import { AbortError } from '../errors.js';
import { GatewayError } from './gateway-error.js';

interface Waiter {
  resolve: (release: () => void) => void;
  reject: (error: unknown) => void;
}

export class SlotQueue {
  readonly slots: number;
  readonly maxQueue: number;
  readonly timeoutMs: number;
  #inFlight = 0;
  readonly #waiting: Waiter[] = [];
  /** Called whenever the number of requests in flight or waiting changes. */
  onChange: (() => void) | undefined;

  constructor(options: { slots: number; maxQueue: number; timeoutMs: number }) {
    this.slots = options.slots;
    this.maxQueue = options.maxQueue;
    this.timeoutMs = options.timeoutMs;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  get queued(): number {
    return this.#waiting.length;
  }

  /** Waits for a slot; resolves with the function that gives it back (idempotent). */
  acquire(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(new AbortError('The request was cancelled.'));
    if (this.#inFlight < this.slots && this.#waiting.length === 0) return Promise.resolve(this.#take());
    if (this.#waiting.length >= this.maxQueue) {
      return Promise.reject(
        new GatewayError(429, 'queue_full', `All ${this.slots} slot(s) of this model are busy and ${this.maxQueue} request(s) are already waiting.`, {
          retryAfterS: 1,
        }),
      );
    }
    return new Promise((resolve, reject) => {
      const cleanup = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        const index = this.#waiting.indexOf(waiter);
        if (index !== -1) this.#waiting.splice(index, 1);
        this.onChange?.();
      };
      const waiter: Waiter = {
        resolve: (release) => {
          cleanup();
          resolve(release);
        },
        reject: (error) => {
          cleanup();
          reject(error);
        },
      };
      const onAbort = () => waiter.reject(new AbortError('The request was cancelled while it waited for a slot.'));
      const timer = setTimeout(
        () => waiter.reject(new GatewayError(503, 'queue_timeout', `No slot of this model came free within ${Math.round(this.timeoutMs / 1000)} s.`, { retryAfterS: 5 })),
        this.timeoutMs,
      );
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiting.push(waiter);
      this.onChange?.();
    });
  }

  /** Refuses every waiting request (the gateway is shutting down). */
  rejectAll(error: unknown): void {
    for (const waiter of [...this.#waiting]) waiter.reject(error);
  }

  #take(): () => void {
    this.#inFlight++;
    this.onChange?.();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#inFlight--;
      const next = this.#waiting[0];
      if (next) next.resolve(this.#take());
      else this.onChange?.();
    };
  }
}
