import { describe, expect, it } from 'vitest';
import { BatchWriter } from '../../../src/download/batch-writer.js';

const MiB = 1024 * 1024;

/** A file in memory whose writes finish when the test says, recording how many ran at once. */
function memoryFile(size: number) {
  const bytes = Buffer.alloc(size);
  const pending: (() => void)[] = [];
  let running = 0;
  let most = 0;
  return {
    bytes,
    pending,
    get most() {
      return most;
    },
    async write(buffer: Uint8Array, offset: number, length: number, position: number) {
      running++;
      most = Math.max(most, running);
      await new Promise<void>((resolve) => pending.push(resolve));
      bytes.set(buffer.subarray(offset, offset + length), position);
      running--;
      return { bytesWritten: length, buffer };
    },
  };
}

const flushAll = async (file: ReturnType<typeof memoryFile>) => {
  for (let i = 0; i < 100; i++) {
    await new Promise((r) => setTimeout(r, 0));
    file.pending.splice(0).forEach((resolve) => resolve());
  }
};

describe('BatchWriter', () => {
  it('takes bytes read straight into its regions, and writes them at their offset', async () => {
    const file = memoryFile(4 * MiB);
    const source = Buffer.alloc(3 * MiB, 0);
    for (let i = 0; i < source.length; i++) source[i] = (i * 7) & 0xff;
    const writer = new BatchWriter(file as never, MiB, source.length, () => {});
    let at = 0;
    while (at < source.length) {
      const region = writer.region(300 * 1024);
      if (!region) {
        file.pending.splice(0).forEach((resolve) => resolve());
        await new Promise((r) => setTimeout(r, 0));
        continue;
      }
      const n = Math.min(region.length, source.length - at);
      source.copy(region, 0, at, at + n); // what a socket read into the region does
      writer.commit(n);
      at += n;
    }
    await flushAll(file);
    await writer.drained();
    expect(file.bytes.subarray(MiB, 4 * MiB).equals(source)).toBe(true);
    expect(file.bytes.subarray(0, MiB).every((b) => b === 0)).toBe(true);
  });

  it('has no region while the batch being filled is still being written, and refuses a commit beyond one', async () => {
    const file = memoryFile(4 * MiB);
    const writer = new BatchWriter(file as never, 0, 3 * MiB, () => {});
    writer.commit(writer.region(MiB)!.length); // batch 0 full → written
    writer.commit(writer.region(MiB)!.length); // batch 1 full → written
    expect(writer.region(MiB)).toBeUndefined();
    expect(() => writer.commit(1)).toThrow(RangeError);
    await flushAll(file);
    await writer.drained();
    expect(writer.region(2 * MiB)!.length).toBe(MiB);
  });

  it('holds bytes pushed while both batches are being written, in order, up to 1 MiB', async () => {
    const file = memoryFile(4 * MiB);
    const source = Buffer.alloc(3 * MiB);
    for (let i = 0; i < source.length; i++) source[i] = (i * 13) & 0xff;
    const writer = new BatchWriter(file as never, 0, source.length, () => {});
    writer.push(source.subarray(0, 2 * MiB)); // both batches full → both being written
    expect(writer.roomFor(1)).toBe(false);
    for (let at = 2 * MiB; at < 2 * MiB + 4 * 65536; at += 65536) writer.push(source.subarray(at, at + 65536)); // held
    expect(writer.region(MiB)).toBeUndefined();
    expect(() => writer.push(Buffer.alloc(MiB - 4 * 65536 + 1))).toThrow(RangeError); // past 1 MiB held
    await flushAll(file);
    writer.push(source.subarray(2 * MiB + 4 * 65536));
    await flushAll(file);
    await writer.drained();
    expect(file.bytes.subarray(0, source.length).equals(source)).toBe(true);
  });

  it('writes one file one write at a time, from any number of writers', async () => {
    const file = memoryFile(8 * MiB);
    const writers = [0, 1, 2, 3].map((i) => new BatchWriter(file as never, i * 2 * MiB, 2 * MiB, () => {}));
    for (const writer of writers) writer.push(Buffer.alloc(MiB, 1));
    for (const writer of writers) writer.push(Buffer.alloc(MiB, 2));
    await flushAll(file);
    await Promise.all(writers.map((w) => w.drained()));
    expect(file.most).toBe(1);
    for (let i = 0; i < 4; i++) {
      expect(file.bytes.subarray(i * 2 * MiB, i * 2 * MiB + MiB).every((b) => b === 1)).toBe(true);
      expect(file.bytes.subarray(i * 2 * MiB + MiB, (i + 1) * 2 * MiB).every((b) => b === 2)).toBe(true);
    }
  });
});
