import { describe, expect, it } from 'vitest';
import { ConnectionController } from '../../../src/download/connection-controller.js';

const MB = 1e6;

/** Feeds the controller one warm-up and one measured sample per level from `rateAt(connections)`; the levels it ran. */
function drive(controller: ConnectionController, rateAt: (connections: number) => number, rounds = 10): number[] {
  const levels = [controller.target];
  for (let i = 0; i < rounds && !controller.settled; i++) {
    controller.sample(rateAt(controller.target)); // warm-up, ignored
    const decision = controller.sample(rateAt(controller.target));
    if (decision) levels.push(decision.connections);
  }
  return levels;
}

describe('ConnectionController', () => {
  it('ignores the first sample after a change (connections still opening)', () => {
    const c = new ConnectionController({ start: 8, max: 32 });
    expect(c.sample(1 * MB)).toBeUndefined();
    expect(c.target).toBe(8);
    expect(c.sample(500 * MB)).toEqual({ connections: 16, reason: 'grow' });
    expect(c.sample(5 * MB)).toBeUndefined(); // warm-up of the new level: a slow start is not held against it
    expect(c.target).toBe(16);
  });

  it('doubles up to the cap while a per-connection limit makes throughput grow with the connections', () => {
    const c = new ConnectionController({ start: 8, max: 32 });
    expect(drive(c, (n) => n * 64 * MB)).toEqual([8, 16, 32]);
    expect(c.settled).toBe(true);
  });

  it('goes back to the last level that helped when more connections bring less than 20 %', () => {
    // 64 MB/s per connection, but the disk takes 600 MB/s: 16 connections bring 17 % more than 8, not worth them.
    const c = new ConnectionController({ start: 8, max: 32 });
    expect(drive(c, (n) => Math.min(n * 64 * MB, 600 * MB))).toEqual([8, 16, 8]);
    expect(c.target).toBe(8);
    expect(c.settled).toBe(true);
    expect(c.sample(10_000 * MB)).toBeUndefined(); // settled: no more probing
  });

  it('keeps a level that brought at least the gain, and settles on it when the next one does not', () => {
    // The disk takes 900 MB/s: 16 connections (1 GB/s offered) help, 32 add nothing.
    expect(drive(new ConnectionController({ start: 8, max: 32 }), (n) => Math.min(n * 64 * MB, 900 * MB))).toEqual([8, 16, 32, 16]);
    const c = new ConnectionController({ start: 8, max: 64 });
    const rates: Record<number, number> = { 8: 500 * MB, 16: 800 * MB, 32: 850 * MB, 64: 2000 * MB };
    expect(drive(c, (n) => rates[n]!)).toEqual([8, 16, 32, 16]);
  });

  it('stays at the start when the first doubling adds nothing (a link or CPU limit)', () => {
    const c = new ConnectionController({ start: 8, max: 32 });
    expect(drive(c, () => 700 * MB)).toEqual([8, 16, 8]);
  });

  it('never goes above max, and does not probe when it starts at max', () => {
    expect(drive(new ConnectionController({ start: 8, max: 12 }), (n) => n * MB)).toEqual([8, 12]);
    const fixed = new ConnectionController({ start: 4, max: 4 });
    expect(fixed.settled).toBe(true);
    expect(drive(fixed, (n) => n * MB)).toEqual([4]);
    expect(new ConnectionController({ start: 8, max: 2 }).target).toBe(2);
  });

  it('halves on a slow-down answer, once per cooldown, and stops growing', () => {
    const c = new ConnectionController({ start: 8, max: 32, cooldownMs: 1000 });
    c.sample(100 * MB);
    c.sample(100 * MB); // → 16
    expect(c.target).toBe(16);
    expect(c.throttled(10_000)).toEqual({ connections: 8, reason: 'back-off' });
    // The other connections' 429s for the same overload arrive together: one halving.
    expect(c.throttled(10_200)).toBeUndefined();
    expect(c.target).toBe(8);
    expect(c.throttled(11_500)).toEqual({ connections: 4, reason: 'back-off' });
    expect(c.settled).toBe(true);
    expect(drive(c, (n) => n * 64 * MB)).toEqual([4]);
    expect(c.throttled(20_000)).toEqual({ connections: 2, reason: 'back-off' });
    expect(c.throttled(30_000)).toEqual({ connections: 1, reason: 'back-off' });
    expect(c.throttled(40_000)).toBeUndefined();
    expect(c.target).toBe(1);
  });
});
