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
      watchdog.touch();
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
});
