import { describe, expect, it } from 'vitest';
import { chooseChunkSize, planChunks, shardOffsets } from '../../../src/store/chunk-plan.js';

const MiB = 1024 * 1024;

describe('planChunks', () => {
  it('covers every byte once, never crossing a shard boundary', () => {
    const sizes = [10, 7, 0, 3];
    const chunks = planChunks(sizes, 4);
    expect(chunks.map((c) => [c.shard, c.start, c.end, c.offset])).toEqual([
      [0, 0, 4, 0],
      [0, 4, 8, 4],
      [0, 8, 10, 8],
      [1, 0, 4, 10],
      [1, 4, 7, 14],
      [3, 0, 3, 17],
    ]);
    expect(chunks.map((c) => c.id)).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('rejects a non-positive chunk size', () => {
    expect(() => planChunks([1], 0)).toThrow(RangeError);
  });

  it('gives shard offsets in the joined file', () => {
    expect(shardOffsets([5, 0, 7])).toEqual([0, 5, 5]);
  });
});

describe('chooseChunkSize', () => {
  it.each([
    [1_000, 8, MiB],
    [64 * MiB, 8, 2 * MiB],
    [2048 * MiB, 8, 16 * MiB],
    [200e9, 8, 16 * MiB],
  ])('%i bytes over %i connections → %i', (total, connections, size) => {
    expect(chooseChunkSize(total, connections)).toBe(size);
  });
});
