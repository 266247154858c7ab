import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FormatError } from '../../../src/errors.js';
import { BufferSource } from '../../../src/format/source.js';
import { entryDataOffset, readZipDirectory } from '../../../src/format/zip-reader.js';
import { writeZip } from '../../../src/demo/zip-writer.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'llamactl-zip-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const payload = Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 7) % 251));

async function archive(options: { prefix?: Uint8Array; forceZip64?: boolean } = {}): Promise<Buffer> {
  const file = join(dir, 'input.bin');
  await writeFile(file, payload);
  const out = join(dir, `out-${Math.random()}.zip`);
  await writeZip(
    out,
    [
      { name: 'model.gguf', path: file, align: 65536 },
      { name: '.args', data: Buffer.from('-c\n2048\n') },
      { name: 'dir/é.txt', data: Buffer.from('utf-8 name') },
    ],
    options,
  );
  return readFile(out);
}

async function entriesOf(bytes: Uint8Array) {
  const source = new BufferSource(bytes);
  const directory = await readZipDirectory(source);
  return Promise.all(
    directory.entries.map(async (entry) => {
      const offset = await entryDataOffset(source, entry);
      return { ...entry, offset, data: Buffer.from(bytes.subarray(offset, offset + entry.size)), zip64: directory.zip64 };
    }),
  );
}

describe('zip writer + reader', () => {
  it.each([
    { label: 'plain', forceZip64: false },
    { label: 'ZIP64', forceZip64: true },
  ])('round-trips stored entries after a prefix, the GGUF 64 KiB-aligned ($label)', async ({ forceZip64 }) => {
    const bytes = await archive({ prefix: Buffer.from("MZqFpD='\n'\nexit 1\n"), forceZip64 });
    const entries = await entriesOf(bytes);
    expect(entries.map((e) => e.name)).toEqual(['model.gguf', '.args', 'dir/é.txt']);
    expect(entries[0]!.offset % 65536).toBe(0);
    expect(entries[0]!.data.equals(payload)).toBe(true);
    expect(entries[0]!.crc32).toBe(crc32(payload));
    expect(entries[1]!.data.toString()).toBe('-c\n2048\n');
    expect(entries[2]!.data.toString()).toBe('utf-8 name');
    expect(entries.every((e) => e.method === 0 && e.zip64 === forceZip64)).toBe(true);
  });

  it.each([false, true])('finds entries when a prefix was added without fixing offsets (zip64: %s)', async (forceZip64) => {
    const plain = await archive({ forceZip64 });
    const shifted = Buffer.concat([Buffer.alloc(12345, 0x41), plain]);
    const entries = await entriesOf(shifted);
    expect(entries[0]!.data.equals(payload)).toBe(true);
    expect(entries[1]!.data.toString()).toBe('-c\n2048\n');
  });

  it('rejects a file with no end record', async () => {
    await expect(readZipDirectory(new BufferSource(Buffer.alloc(100_000, 1)))).rejects.toThrow(/not a llamafile or zip/);
    await expect(readZipDirectory(new BufferSource(Buffer.alloc(3)))).rejects.toThrow(FormatError);
  });

  it('fails fast on an absurd central directory size', async () => {
    const bytes = Buffer.from(await archive());
    const eocd = bytes.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
    bytes.writeUInt32LE(0xfffffff0, eocd + 12);
    await expect(readZipDirectory(new BufferSource(bytes))).rejects.toThrow(FormatError);
  });

  it.each([false, true])('truncated anywhere: only FormatError (zip64: %s)', async (forceZip64) => {
    const bytes = await archive({ prefix: Buffer.from('#!/bin/sh\n'), forceZip64 });
    // Every few bytes at both ends (headers, directory, end records), sparsely in between.
    const cuts = new Set<number>();
    for (let cut = 0; cut < 400; cut += 7) cuts.add(cut);
    for (let cut = 0; cut < bytes.length; cut += 4099) cuts.add(cut);
    for (let cut = bytes.length - 600; cut < bytes.length; cut += 3) cuts.add(cut);
    for (const cut of cuts) {
      const error = await entriesOf(bytes.subarray(0, cut)).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error, `cut at ${cut}`).toBeInstanceOf(FormatError);
    }
  });

  it('corrupted directory bytes: FormatError or a read, never another error', async () => {
    const bytes = await archive({ forceZip64: true });
    const directoryStart = bytes.lastIndexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]), bytes.length) - 200;
    let seed = 99;
    const random = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
    for (let round = 0; round < 400; round++) {
      const copy = Buffer.from(bytes);
      const at = directoryStart + Math.floor(random() * (copy.length - directoryStart));
      copy[at] = Math.floor(random() * 256);
      const error = await entriesOf(copy).then(
        () => undefined,
        (e: unknown) => e,
      );
      if (error !== undefined) expect(error, `byte ${at}`).toBeInstanceOf(FormatError);
    }
  });
});
