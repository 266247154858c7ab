import { RetryableError } from './retry.js';

/** How long to wait for an answer's head when nothing says otherwise (huggingface_hub waits 10 s too). */
export const DEFAULT_ANSWER_MS = 10_000;
/** Bytes each progress window must bring (or the rest of the answer): about 1 KiB/s over the default 60 s window. */
export const DEFAULT_MIN_BYTES = 64 * 1024;

export interface WatchdogOptions {
  /** No byte for this long, once the answer has begun, is a stall. */
  stallMs: number;
  /** No answer at all (no byte of its head) for this long is a stall too. @default min(stallMs, 10 s) */
  answerMs?: number | undefined;
  /**
   * Forward progress: from the first byte, each window of this length must bring `minBytes` (or the rest of the
   * `expected` bytes), else the answer is too slow, however often its bytes trickle in. @default 2 × stallMs
   */
  progressMs?: number | undefined;
  /** @default 64 KiB */
  minBytes?: number | undefined;
  /** Body bytes the answer should bring, when known: a window never asks for more than what is left. */
  expected?: number | undefined;
}

export type StallReason = 'no-answer' | 'no-data' | 'too-slow';

/**
 * The one stall/progress watchdog, for every request the hub or its CDN answers. `onStall` runs once when the
 * answer does not begin within `answerMs`, when it goes quiet for `stallMs` (each `touch()` restarts that clock), or
 * when a window of `progressMs` brings fewer than `minBytes` (counted by `touch(bytes)`): a server trickling one byte
 * every few seconds is as stuck as a silent one. Checked every quarter of the shortest limit (50 ms–1 s).
 */
export class StallWatchdog {
  readonly stallMs: number;
  readonly answerMs: number;
  readonly progressMs: number;
  readonly minBytes: number;
  #expected: number | undefined;
  #last = Date.now();
  #answered = false;
  #reason: StallReason | undefined;
  #received = 0;
  #windowStart = 0;
  #windowBytes = 0;
  #windowAt = Date.now();
  readonly #timer: NodeJS.Timeout;

  constructor(options: WatchdogOptions | number, onStall: (reason: StallReason) => void) {
    const o = typeof options === 'number' ? { stallMs: options } : options;
    this.stallMs = o.stallMs;
    this.answerMs = o.answerMs ?? Math.min(o.stallMs, DEFAULT_ANSWER_MS);
    this.progressMs = o.progressMs ?? 2 * o.stallMs;
    this.minBytes = o.minBytes ?? DEFAULT_MIN_BYTES;
    this.#expected = o.expected;
    const every = Math.max(50, Math.min(1000, Math.min(this.stallMs, this.answerMs) / 4));
    this.#timer = setInterval(() => {
      const reason = this.#check(Date.now());
      if (reason === undefined) return;
      this.#reason = reason;
      clearInterval(this.#timer);
      onStall(reason);
    }, every);
  }

  #check(now: number): StallReason | undefined {
    if (!this.#answered) return now - this.#last > this.answerMs ? 'no-answer' : undefined;
    if (now - this.#last > this.stallMs) return 'no-data';
    if (now - this.#windowAt < this.progressMs) return undefined;
    const left = this.#expected === undefined ? Infinity : this.#expected - this.#windowStart;
    const need = Math.min(this.minBytes, left);
    this.#windowBytes = this.#received - this.#windowStart;
    if (this.#windowBytes < need) return 'too-slow';
    this.#windowStart = this.#received;
    this.#windowAt = now;
    return undefined;
  }

  /** The answer's head arrived (undici's `request` resolved): from now on the stall and progress limits apply. */
  answered(): void {
    if (this.#answered) return;
    this.#answered = true;
    this.#last = this.#windowAt = Date.now();
  }

  /** `bytes` of the answer arrived: the stall clock starts again, and they count for the progress window. */
  touch(bytes = 0): void {
    if (!this.#answered) this.answered();
    this.#last = Date.now();
    this.#received += bytes;
  }

  /** Whether `onStall` has run. */
  get stalled(): boolean {
    return this.#reason !== undefined;
  }

  /** Why `onStall` ran. */
  get reason(): StallReason | undefined {
    return this.#reason;
  }

  /** The error to report for a stall: retryable, naming who went quiet (or slow) and for how long. */
  error(from: string, cause?: unknown): RetryableError {
    const message =
      this.#reason === 'no-answer'
        ? `No answer for ${seconds(this.answerMs)} from ${from}.`
        : this.#reason === 'too-slow'
          ? `Too slow: ${this.#windowBytes} bytes in ${seconds(this.progressMs)} from ${from} (the least accepted is ${this.minBytes}).`
          : `No data for ${seconds(this.stallMs)} from ${from}.`;
    return new RetryableError(message, { cause });
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  [Symbol.dispose](): void {
    this.stop();
  }
}

/** `30 s`, `2.5 s`, `0.4 s`. */
function seconds(ms: number): string {
  return ms >= 10_000 ? `${Math.round(ms / 1000)} s` : `${Number((ms / 1000).toFixed(1))} s`;
}
