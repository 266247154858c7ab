import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HashWorker } from '../../../src/download/hash-worker.js';

/**
 * The hasher takes written bytes from its stage when they reach the hash position, and reads the rest back from the
 * file. The file here holds zeros and the "written" bytes are random, so each digest shows which bytes came from
 * where.
 */
const PIECE = 64 * 1024;
const sha = (...parts: Uint8Array[]) => {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest('hex');
};

let dir: string;
let path: string;
let hasher: HashWorker | undefined;
const zeros = Buffer.alloc(PIECE);
const pieces = Array.from({ length: 4 }, () => randomBytes(PIECE));

/** As the download's write does it: staged while written, then told. */
const write = (h: HashWorker, index: number, shardOffset = 0) => h.written(shardOffset + index * PIECE, PIECE, h.stage(pieces[index]!));

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'llamactl-hash-'));
  path = join(dir, 'file.part');
  await writeFile(path, Buffer.alloc(8 * PIECE));
});

afterEach(async () => {
  await hasher?.close();
  hasher = undefined;
  await rm(dir, { recursive: true, force: true });
});

describe('HashWorker', () => {
  it('hashes staged pieces in order from memory, out of order as the hash position reaches them, the gaps from disk', async () => {
    hasher = new HashWorker(path, [{ offset: 0, size: 4 * PIECE }]);
    write(hasher, 2);
    write(hasher, 0);
    // Pieces 1 and 3 only reach the disk (which holds zeros): read back, up to where piece 2 starts.
    expect(await hasher.digest(0)).toBe(sha(pieces[0]!, zeros, pieces[2]!, zeros));
  });

  it('keeps the shards apart', async () => {
    hasher = new HashWorker(path, [{ offset: 0, size: 2 * PIECE }, { offset: 2 * PIECE, size: 2 * PIECE }]);
    write(hasher, 3);
    write(hasher, 0);
    expect(await hasher.digest(1)).toBe(sha(zeros, pieces[3]!));
    expect(await hasher.digest(0)).toBe(sha(pieces[0]!, zeros));
  });

  it('a rewrite of bytes already hashed starts the hash again from the disk', async () => {
    hasher = new HashWorker(path, [{ offset: 0, size: 4 * PIECE }]);
    write(hasher, 0);
    write(hasher, 1);
    hasher.written(0, PIECE, -1); // a retried chunk wrote piece 0 again: what the disk holds now counts
    expect(await hasher.digest(0)).toBe(sha(zeros, zeros, zeros, zeros));
  });

  it('a rewrite past the frontier goes back only to the last whole chunk', async () => {
    hasher = new HashWorker(path, [{ offset: 0, size: 4 * PIECE }]);
    write(hasher, 0);
    write(hasher, 1);
    hasher.advance(0, 2 * PIECE); // the chunk [0, 2 pieces) is done: it is never written again
    write(hasher, 2);
    hasher.written(2 * PIECE, PIECE, -1);
    expect(await hasher.digest(0)).toBe(sha(pieces[0]!, pieces[1]!, zeros, zeros));
  });

  it('keeps its checkpoint at the frontier while it hashes on past it', async () => {
    hasher = new HashWorker(path, [{ offset: 0, size: 4 * PIECE }]);
    hasher.advance(0, PIECE);
    write(hasher, 0);
    write(hasher, 1);
    write(hasher, 2);
    hasher.written(PIECE, PIECE, -1); // the chunk [1, 3 pieces) is retried
    expect(await hasher.digest(0)).toBe(sha(pieces[0]!, zeros, zeros, zeros));
  });

  it('frees every stage slot once hashed or reset, and never stages more than it holds', async () => {
    hasher = new HashWorker(path, [{ offset: 0, size: 4 * PIECE }, { offset: 4 * PIECE, size: 4 * PIECE }]);
    for (let round = 0; round < 3; round++) {
      write(hasher, 3, 4 * PIECE); // ahead of shard 1's hash position: held until reset
      hasher.reset(1);
    }
    for (let i = 0; i < 4; i++) write(hasher, i);
    expect(await hasher.digest(0)).toBe(sha(...pieces));
    const slots = Array.from({ length: 40 }, () => hasher!.stage(zeros));
    expect(slots.filter((slot) => slot >= 0)).toHaveLength(32);
    expect(new Set(slots.filter((slot) => slot >= 0)).size).toBe(32);
    expect(slots.slice(32)).toEqual(Array(8).fill(-1));
  });
});
