import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RetryableError } from '../../../src/http/retry.js';
import { StallWatchdog } from '../../../src/http/watchdog.js';

describe('StallWatchdog', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('fires once when nothing arrives for stallMs, within a quarter of it', () => {
    const onStall = vi.fn();
    const watchdog = new StallWatchdog(1000, onStall);
    vi.advanceTimersByTime(1000);
    expect(onStall).not.toHaveBeenCalled();
    vi.advanceTimersByTime(250);
    expect(onStall).toHaveBeenCalledTimes(1);
    expect(watchdog.stalled).toBe(true);
    vi.advanceTimersByTime(10_000);
    expect(onStall).toHaveBeenCalledTimes(1);
  });

  it('does not fire while bytes keep arriving, and fires after they stop', () => {
    const onStall = vi.fn();
    const watchdog = new StallWatchdog(400, onStall);
    for (let i = 0; i < 20; i++) {
      vi.advanceTimersByTime(300);
      watchdog.touch(64 * 1024);
    }
    expect(onStall).not.toHaveBeenCalled();
    expect(watchdog.stalled).toBe(false);
    vi.advanceTimersByTime(500);
    expect(onStall).toHaveBeenCalledTimes(1);
  });

  it('never fires once stopped', () => {
    const onStall = vi.fn();
    const watchdog = new StallWatchdog(100, onStall);
    watchdog.stop();
    vi.advanceTimersByTime(10_000);
    expect(onStall).not.toHaveBeenCalled();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('reports a stall as a retryable error naming the silent side and the time', () => {
    const cause = new Error('aborted');
    const error = new StallWatchdog(30_000, () => {}).error('the download server', cause);
    vi.clearAllTimers();
    expect(error).toBeInstanceOf(RetryableError);
    expect(error.message).toBe('No data for 30 s from the download server.');
    expect(error.cause).toBe(cause);
  });

  it('waits answerMs for the answer to begin (10 s at most by default), then stallMs between bytes', () => {
    const onStall = vi.fn();
    const watchdog = new StallWatchdog({ stallMs: 30_000 }, onStall);
    expect(watchdog.answerMs).toBe(10_000);
    vi.advanceTimersByTime(11_000);
    expect(onStall).toHaveBeenCalledWith('no-answer');
    expect(watchdog.error('the hub').message).toBe('No answer for 10 s from the hub.');

    const quiet = vi.fn();
    const answered = new StallWatchdog({ stallMs: 2000 }, quiet);
    answered.answered();
    vi.advanceTimersByTime(2600);
    expect(quiet).toHaveBeenCalledWith('no-data');
    expect(answered.error('the hub').message).toBe('No data for 2 s from the hub.');
  });

  // Issue 10 defect 2: every byte resets the idle timer, so a trickle must be caught by the progress window.
  it('gives up on a trickle: bytes every 100 ms never stall it, but a window short of minBytes does', () => {
    const onStall = vi.fn();
    const watchdog = new StallWatchdog({ stallMs: 500, progressMs: 1000, minBytes: 1000 }, onStall);
    for (let i = 0; i < 9; i++) {
      vi.advanceTimersByTime(100);
      watchdog.touch(1);
    }
    expect(onStall).not.toHaveBeenCalled();
    for (let i = 0; i < 5; i++) {
      vi.advanceTimersByTime(100);
      watchdog.touch(1);
    }
    expect(onStall).toHaveBeenCalledWith('too-slow');
    expect(watchdog.error('the download server').message).toMatch(/^Too slow: \d+ bytes in 1 s from the download server \(the least accepted is 1000\)\.$/);
  });

  it('asks a window for no more than what is left of the answer, and keeps going while each window brings enough', () => {
    const onStall = vi.fn();
    const watchdog = new StallWatchdog({ stallMs: 500, progressMs: 1000, minBytes: 1000, expected: 2005 }, onStall);
    watchdog.answered();
    vi.advanceTimersByTime(50);
    for (let i = 0; i < 20; i++) {
      watchdog.touch(100);
      vi.advanceTimersByTime(100);
    }
    // Two windows of 1000 bytes each; the last 5 bytes trickle in, all the third window has to bring.
    for (let i = 0; i < 5; i++) {
      vi.advanceTimersByTime(180);
      watchdog.touch(1);
    }
    vi.advanceTimersByTime(100);
    expect(onStall).not.toHaveBeenCalled();
    watchdog.stop();
  });
});
