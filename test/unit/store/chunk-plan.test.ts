import { describe, expect, it } from 'vitest';
import { chooseChunkSize, inTurns, planChunks, shardOffsets } from '../../../src/store/chunk-plan.js';

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

  it('puts the chunks in turns across the shards, each shard in its own order', () => {
    const chunks = planChunks([10, 4, 0, 9], 4);
    expect(inTurns(chunks).map((c) => [c.shard, c.start])).toEqual([
      [0, 0], [1, 0], [3, 0],
      [0, 4], [3, 4],
      [0, 8], [3, 8],
    ]);
    expect(inTurns(chunks.filter((c) => c.id % 2 === 0)).map((c) => c.id)).toEqual([0, 4, 2, 6]);
  });

  it('gives shard offsets in the joined file', () => {
    expect(shardOffsets([5, 0, 7])).toEqual([0, 5, 5]);
  });
});

describe('chooseChunkSize', () => {
  it.each([
    [1_000, 8, MiB],
    [64 * MiB, 8, 2 * MiB],
    [256 * MiB, 8, 8 * MiB],
    [2048 * MiB, 8, 8 * MiB],
    [200e9, 8, 8 * MiB],
  ])('%i bytes over %i connections → %i', (total, connections, size) => {
    expect(chooseChunkSize(total, connections)).toBe(size);
  });
});
