import { describe, expect, it } from 'vitest';
import { runJobs } from '../../../src/download/job-queue.js';

const tick = () => new Promise((resolve) => setTimeout(resolve, 1));

describe('runJobs', () => {
  it('runs every job once, in queue order, never more than `workers` at a time', async () => {
    const started: number[] = [];
    let running = 0;
    let most = 0;
    await runJobs([1, 2, 3, 4, 5, 6, 7], {
      workers: 3,
      run: async (job) => {
        started.push(job);
        most = Math.max(most, ++running);
        await tick();
        running--;
      },
    });
    expect(started).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(most).toBe(3);
  });

  it('picks up jobs added to the queue while it runs', async () => {
    const queue = [1];
    const done: number[] = [];
    await runJobs(queue, {
      workers: 2,
      run: async (job) => {
        await tick();
        done.push(job);
        if (job < 4) queue.push(job + 1);
      },
    });
    expect(done).toEqual([1, 2, 3, 4]);
  });

  it('throws the first failure, aborts the signal the other jobs run with, and starts no more jobs', async () => {
    const boom = new Error('boom');
    const started: number[] = [];
    let sawAbort: unknown;
    const run = runJobs([1, 2, 3, 4, 5], {
      workers: 2,
      run: async (job, signal) => {
        started.push(job);
        if (job === 1) {
          await tick();
          throw boom;
        }
        // A long job that ends when the run is stopped.
        await new Promise<void>((_, reject) => signal.addEventListener('abort', () => reject(new Error('stopped')), { once: true }));
        sawAbort = signal.reason;
      },
    });
    await expect(run).rejects.toBe(boom);
    expect(started).toEqual([1, 2]);
    expect(sawAbort).toBeUndefined(); // the other job ended by rejecting, not by finishing
  });

  it("stops when the caller's signal aborts", async () => {
    const controller = new AbortController();
    const reason = new Error('interrupted');
    const run = runJobs([1, 2, 3], {
      workers: 1,
      signal: controller.signal,
      run: (_, signal) =>
        new Promise<void>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true })),
    });
    controller.abort(reason);
    await expect(run).rejects.toBe(reason);
  });
});
