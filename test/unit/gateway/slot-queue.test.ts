import { describe, expect, test } from 'vitest';
import { AbortError } from '../../../src/errors.js';
import { GatewayError } from '../../../src/gateway/gateway-error.js';
import { SlotQueue } from '../../../src/gateway/slot-queue.js';

describe('SlotQueue', () => {
  test('at most `slots` in flight, the rest first in first out, then 429 when the queue is full', async () => {
    const queue = new SlotQueue({ slots: 2, maxQueue: 2, timeoutMs: 60_000 });
    const first = await queue.acquire();
    await queue.acquire();
    const order: number[] = [];
    const third = queue.acquire().then((release) => (order.push(3), release));
    const fourth = queue.acquire().then((release) => (order.push(4), release));
    const fifth = await queue.acquire().catch((error: unknown) => error);
    expect(fifth).toBeInstanceOf(GatewayError);
    expect((fifth as GatewayError).status).toBe(429);
    expect((fifth as GatewayError).retryAfterS).toBeGreaterThan(0);
    expect([queue.inFlight, queue.queued]).toEqual([2, 2]);
    first();
    first(); // idempotent
    (await third)();
    await fourth;
    expect(order).toEqual([3, 4]);
    expect([queue.inFlight, queue.queued]).toEqual([2, 0]);
  });

  test('a wait past the timeout is a 503 with Retry-After; an aborted wait leaves the queue', async () => {
    const queue = new SlotQueue({ slots: 1, maxQueue: 4, timeoutMs: 20 });
    await queue.acquire();
    const timedOut = await queue.acquire().catch((error: unknown) => error);
    expect((timedOut as GatewayError).status).toBe(503);
    const controller = new AbortController();
    const waiting = queue.acquire(controller.signal).catch((error: unknown) => error);
    expect(queue.queued).toBe(1);
    controller.abort();
    expect(await waiting).toBeInstanceOf(AbortError);
    expect(queue.queued).toBe(0);
  });
});
