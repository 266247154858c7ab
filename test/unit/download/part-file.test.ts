/**
 * The `.part` write path on a real file: whole pages go straight to the disk (O_DIRECT, so they are not in the page
 * cache afterwards, as `fincore` shows), the partial pages at a range's edges through the cache, and the bytes are
 * right either way, including two ranges that share an edge page. The hasher reads them back (O_DIRECT too).
 * `fincore` (util-linux-extra) double-checks the page cache where it is installed.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, constants, openSync } from 'node:fs';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatchWriter } from '../../../src/download/batch-writer.js';
import { HashWorker } from '../../../src/download/hash-worker.js';
import { PartFile } from '../../../src/download/part-file.js';

const MiB = 1024 * 1024;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'llamactl-part-file-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** Whether this filesystem takes O_DIRECT at all (tmpfs before Linux 6.6 does not). */
function directSupported(path: string): boolean {
  try {
    closeSync(openSync(path, constants.O_RDONLY | constants.O_DIRECT));
    return true;
  } catch {
    return false;
  }
}

/** Bytes of `path` in the page cache, or undefined without `fincore`. */
function cachedBytes(path: string): number | undefined {
  try {
    return Number(execFileSync('fincore', ['--bytes', '--noheadings', '--output', 'RES', path], { encoding: 'utf8' }).trim());
  } catch {
    return undefined;
  }
}

async function partFile(name: string, size: number) {
  const path = join(dir, name);
  const file = await open(path, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL, 0o644);
  await file.truncate(size);
  return { path, part: await PartFile.open(file, path) };
}

/** Writes `source` at `offset` through a BatchWriter, in reads of odd sizes straight into its regions. */
async function writeRange(part: PartFile, offset: number, source: Buffer): Promise<void> {
  const writer = new BatchWriter(part, offset, source.length, () => {});
  for (let at = 0; at < source.length; ) {
    await writer.room(1);
    const region = writer.region(77_777)!;
    const n = Math.min(region.length, source.length - at);
    source.copy(region, 0, at, at + n);
    writer.commit(n);
    at += n;
  }
  await writer.drained();
  writer.release();
}

describe('PartFile', () => {
  it('writes ranges at unaligned offsets exactly, whole pages past the page cache', async () => {
    const size = 9 * MiB + 4321;
    const { path, part } = await partFile('unaligned.part', size);
    const expected = randomBytes(size);
    // Two ranges meeting at an unaligned boundary share an edge page; the first starts part-way into a page.
    const cut = 4 * MiB + 1234;
    await writeRange(part, 999, expected.subarray(999, cut));
    await writeRange(part, cut, expected.subarray(cut));
    await part.file.write(expected.subarray(0, 999), 0, 999, 0);
    await part.sync();
    await part.close();
    expect(createHash('sha256').update(await readFile(path)).digest('hex')).toBe(createHash('sha256').update(expected).digest('hex'));
  });

  it('leaves only the edge pages in the page cache where the filesystem takes O_DIRECT', async () => {
    const { path, part } = await partFile('resident.part', 8 * MiB + 100);
    const supported = directSupported(path);
    expect(part.direct).toBe(supported);
    await writeRange(part, 100, randomBytes(8 * MiB));
    await part.sync();
    const directBytes = part.directBytes;
    await part.close();
    expect(directBytes).toBe(supported ? 8 * MiB - 4096 : 0);
    const cached = cachedBytes(path);
    if (cached === undefined) return;
    if (supported) expect(cached).toBeLessThanOrEqual(2 * 4096);
    else expect(cached).toBeGreaterThan(0);
  });

  it('writes a plain (unaligned) buffer through the page cache, bytes intact', async () => {
    const { path, part } = await partFile('plain.part', 3 * MiB);
    const bytes = randomBytes(3 * MiB);
    await part.write(bytes, 0, bytes.length, 0);
    await part.sync();
    expect(part.directBytes).toBe(0);
    await part.close();
    expect((await readFile(path)).equals(bytes)).toBe(true);
    expect(cachedBytes(path) ?? Infinity).toBeGreaterThan(2 * MiB);
  });

  it('the hasher reads shards at unaligned offsets back to their sha256', async () => {
    const sizes = [1_000_003, 2 * MiB + 17, 4096, 5];
    const total = sizes.reduce((a, b) => a + b, 0);
    const { path, part } = await partFile('hashed.part', total);
    const bytes = randomBytes(total);
    await writeRange(part, 0, bytes);
    await part.sync();
    const layout = sizes.map((size, i) => ({ offset: sizes.slice(0, i).reduce((a, b) => a + b, 0), size }));
    const hasher = new HashWorker(path, layout);
    try {
      for (const [i, { offset, size }] of layout.entries()) {
        hasher.advance(i, Math.floor(size / 2));
        const sha = await hasher.digest(i);
        expect(sha).toBe(createHash('sha256').update(bytes.subarray(offset, offset + size)).digest('hex'));
      }
    } finally {
      await hasher.close();
      await part.close();
    }
  });
});
