import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FormatError, NotFoundError } from '../../../src/errors.js';
import { LocalShardSource } from '../../../src/format/shard-source.js';
import { BufferSource, FileSource, PrefetchSource, SliceSource } from '../../../src/format/source.js';
import type { RandomAccessSource } from '../../../src/format/source.js';

const bytes = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 256));
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'llamactl-sources-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('sources', () => {
  it('LocalShardSource reads across shard boundaries, empty shards included', async () => {
    const cuts = [0, 100, 100, 101, 600, 1000];
    const paths: string[] = [];
    for (let i = 0; i < cuts.length - 1; i++) {
      paths.push(join(dir, `s.cat${i}.gguf`));
      await writeFile(paths[i]!, bytes.subarray(cuts[i], cuts[i + 1]));
    }
    const source = await LocalShardSource.open(paths);
    try {
      expect(source.size).toBe(1000);
      for (const [offset, length] of [[0, 1000], [99, 3], [100, 1], [550, 100], [999, 1], [0, 0]] as const) {
        expect(Buffer.from(await source.read(offset, length)).equals(bytes.subarray(offset, offset + length))).toBe(true);
      }
      await expect(source.read(990, 11)).rejects.toBeInstanceOf(FormatError);
    } finally {
      await source.close();
    }
    await expect(LocalShardSource.open([paths[0]!, join(dir, 'missing')])).rejects.toBeInstanceOf(NotFoundError);
  });

  it('FileSource and SliceSource stay inside their bounds', async () => {
    const path = join(dir, 'f.bin');
    await writeFile(path, bytes);
    const file = await FileSource.open(path);
    const slice = new SliceSource(file, 200, 300);
    expect(Buffer.from(await slice.read(0, 10)).equals(bytes.subarray(200, 210))).toBe(true);
    await expect(slice.read(295, 10)).rejects.toThrow(/truncated/);
    await expect(slice.read(-1, 1)).rejects.toBeInstanceOf(FormatError);
    await slice.close();
    await expect(FileSource.open(dir)).rejects.toBeInstanceOf(FormatError);
  });

  it('PrefetchSource turns small sequential reads into few large ones', async () => {
    const reads: [number, number][] = [];
    const inner = new BufferSource(bytes);
    const counting: RandomAccessSource = {
      size: inner.size,
      description: 'counting',
      read: (offset, length) => {
        reads.push([offset, length]);
        return inner.read(offset, length);
      },
      close: async () => {},
    };
    const source = new PrefetchSource(counting, 256);
    const got: number[] = [];
    for (let offset = 10; offset < 700; offset += 30) got.push(...(await source.read(offset, 30)));
    expect(Buffer.from(got).equals(bytes.subarray(10, 700))).toBe(true);
    // Each fetch continues where the cached block ends: no byte is fetched twice.
    expect(reads.length).toBeLessThanOrEqual(4);
    expect(reads).toEqual([
      [10, 256],
      [266, 256],
      [522, 256],
    ]);
    expect(Buffer.from(await source.read(900, 100)).equals(bytes.subarray(900))).toBe(true);
  });
});
