import { describe, expect, it } from 'vitest';
import { planChunks } from '../../../src/store/chunk-plan.js';
import { ShardProgress } from '../../../src/download/shard-progress.js';

describe('ShardProgress', () => {
  const sizes = [25, 10];
  const chunks = planChunks(sizes, 10); // shard 0: [0,10) [10,20) [20,25); shard 1: [0,10)

  it('counts done chunks per shard and the contiguous frontier from the start', () => {
    const progress = new ShardProgress(sizes, chunks);
    expect(progress.markDone(chunks[1]!)).toBe(true);
    expect(progress.markDone(chunks[1]!)).toBe(false);
    expect(progress.frontier(0)).toBe(0);
    progress.markDone(chunks[0]!);
    expect(progress.frontier(0)).toBe(20);
    expect(progress.complete(0)).toBe(false);
    progress.markDone(chunks[2]!);
    expect(progress.complete(0)).toBe(true);
    expect(progress.doneBytes()).toBe(25);
    progress.reset(0);
    expect(progress.doneBytes()).toBe(0);
    expect(progress.frontier(0)).toBe(0);
    expect(progress.isDone(chunks[0]!.id)).toBe(false);
  });

  it('shows in-flight bytes in their own shard only, until the job ends', () => {
    const progress = new ShardProgress(sizes, chunks);
    const a = progress.flight(0);
    const b = progress.flight(0);
    const c = progress.flight(1);
    a.add(3);
    a.add(4);
    b.set(5);
    c.add(2);
    expect(progress.shown()).toEqual([12, 2]);
    a.end();
    a.add(100); // a late report of an ended job counts for nothing
    expect(progress.shown()).toEqual([5, 2]);
    progress.markDone(chunks[3]!);
    c.end();
    expect(progress.shown()).toEqual([5, 10]);
  });
});
