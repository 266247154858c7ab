import { RetryableError } from './retry.js';

/**
 * The one stall/progress watchdog: `onStall` runs once when `touch()` has not been called for `stallMs` (a body that
 * sends nothing). Checked every quarter of `stallMs`, between 50 ms and 1 s, so a stall is noticed within ~25% of it.
 */
export class StallWatchdog {
  readonly stallMs: number;
  #last = Date.now();
  #stalled = false;
  readonly #timer: NodeJS.Timeout;

  constructor(stallMs: number, onStall: () => void) {
    this.stallMs = stallMs;
    this.#timer = setInterval(() => {
      if (Date.now() - this.#last <= stallMs) return;
      this.#stalled = true;
      clearInterval(this.#timer);
      onStall();
    }, Math.max(50, Math.min(1000, stallMs / 4)));
  }

  /** Bytes arrived: the stall clock starts again. */
  touch(): void {
    this.#last = Date.now();
  }

  /** Whether `onStall` has run. */
  get stalled(): boolean {
    return this.#stalled;
  }

  /** The error to report for a stall: retryable, naming who went quiet. */
  error(from: string, cause?: unknown): RetryableError {
    return new RetryableError(`No data for ${Math.round(this.stallMs / 1000)} s from ${from}.`, { cause });
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  [Symbol.dispose](): void {
    this.stop();
  }
}
