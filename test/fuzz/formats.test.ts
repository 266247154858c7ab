/**
 * Property tests: the format readers get valid files mutated at random (and a few hand-made liars). Each must
 * return a value or throw a LlamactlError within its deadline, and read no more than a small multiple of what the
 * file really holds, whatever sizes and counts the bytes claim.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FormatError } from '../../src/errors.js';
import { parseArgsFile } from '../../src/format/args-file.js';
import { GgufType } from '../../src/format/gguf-constants.js';
import { readGguf } from '../../src/format/gguf-reader.js';
import { encodeGgufHeader } from '../../src/demo/gguf-writer.js';
import { readLlamafile } from '../../src/format/llamafile.js';
import { BufferSource, type RandomAccessSource } from '../../src/format/source.js';
import { entryDataOffset, readZipDirectory } from '../../src/format/zip-reader.js';
import { writeZip } from '../../src/demo/zip-writer.js';
import { mutate, property } from './random.js';

/** A BufferSource that counts what is asked of it: a reader must never ask for far more than the file holds. */
class CountingSource implements RandomAccessSource {
  readonly #inner: BufferSource;
  requested = 0;
  constructor(bytes: Uint8Array) {
    this.#inner = new BufferSource(bytes, 'fuzzed input');
  }
  get size(): number {
    return this.#inner.size;
  }
  get description(): string {
    return this.#inner.description;
  }
  read(offset: number, length: number): Promise<Uint8Array> {
    this.requested += length;
    if (this.requested > 64 * this.size + (1 << 20)) {
      throw new Error(`read ${this.requested} bytes of a ${this.size}-byte file`);
    }
    return this.#inner.read(offset, length);
  }
  close(): Promise<void> {
    return this.#inner.close();
  }
}

function ggufSample(): Uint8Array {
  const { header } = encodeGgufHeader({
    kv: [
      { key: 'general.architecture', type: GgufType.STRING, value: 'llama' },
      { key: 'llama.block_count', type: GgufType.UINT32, value: 2 },
      { key: 'llama.context_length', type: GgufType.UINT32, value: 2048 },
      { key: 'general.alignment', type: GgufType.UINT32, value: 32 },
      {
        key: 'tokenizer.ggml.tokens',
        type: GgufType.ARRAY,
        value: { itemType: GgufType.STRING, length: 40, items: Array.from({ length: 40 }, (_, i) => `t${i}`) },
      },
      {
        key: 'nested',
        type: GgufType.ARRAY,
        value: { itemType: GgufType.ARRAY, length: 1, items: [{ itemType: GgufType.INT32, length: 2, items: [1, 2] }] },
      },
    ],
    tensors: [
      { name: 'a', dims: [4, 2], type: 0, data: new Uint8Array(32) },
      { name: 'b', dims: [64], type: 8, data: new Uint8Array(68) },
    ],
  });
  return header;
}

let dir: string;
let zipBytes: Uint8Array;
let ggufBytes: Uint8Array;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'llamactl-fuzz-'));
  ggufBytes = ggufSample();
  const gguf = join(dir, 'm.gguf');
  await writeFile(gguf, Buffer.concat([ggufBytes, Buffer.alloc(100)]));
  const out = join(dir, 'm.llamafile');
  await writeZip(out, [
    { name: 'm.gguf', path: gguf, align: 64 },
    { name: '.args', data: Buffer.from('-m\nm.gguf\n-c 2048 # ctx\n...\n') },
  ], { prefix: Buffer.from("MZqFpD='\n\n#!/bin/sh\nexit 1\n") });
  zipBytes = await readFile(out);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('format readers on hostile bytes', () => {
  it('the GGUF reader returns or throws a LlamactlError, bounded in reads', async () => {
    const cases = await property('gguf', (gen) => {
      let bytes = ggufBytes;
      for (let i = 0, n = 1 + gen.int(4); i < n; i++) bytes = mutate(gen, bytes);
      return bytes;
    }, (bytes) => readGguf(new CountingSource(bytes)));
    expect(cases).toBeGreaterThan(50);
  });

  it('the zip reader and the llamafile reader return or throw a LlamactlError, bounded in reads', async () => {
    const cases = await property('zip', (gen) => {
      let bytes = zipBytes;
      // Mutations near the end hit the directory; elsewhere the local headers and the GGUF.
      for (let i = 0, n = 1 + gen.int(3); i < n; i++) bytes = mutate(gen, bytes);
      return bytes;
    }, async (bytes) => {
      const source = new CountingSource(bytes);
      const directory = await readZipDirectory(source);
      for (const entry of directory.entries.slice(0, 4)) await entryDataOffset(source, entry, directory.tail);
      await readLlamafile(new CountingSource(bytes));
    });
    expect(cases).toBeGreaterThan(50);
  });

  it('a GGUF claiming 2^63 key-values or a 4 GB string fails fast with a FormatError', async () => {
    const view = new DataView(ggufBytes.slice().buffer);
    const bigCount = new Uint8Array(view.buffer.slice(0));
    new DataView(bigCount.buffer).setBigUint64(16, 2n ** 63n, true); // n_kv
    await expect(readGguf(new CountingSource(bigCount))).rejects.toBeInstanceOf(FormatError);
    const bigString = new Uint8Array(view.buffer.slice(0));
    new DataView(bigString.buffer).setBigUint64(24, 2n ** 32n - 1n, true); // length of the first key
    await expect(readGguf(new CountingSource(bigString))).rejects.toBeInstanceOf(FormatError);
  });

  it('the .args splitter returns strings or throws a LlamactlError on any text', async () => {
    const cases = await property('args', (gen) => gen.text(200, ` \t\n\r#'"\\$abc-=.…\u0000`), (text) => {
      const args = parseArgsFile(text);
      if (!Array.isArray(args) || args.some((arg) => typeof arg !== 'string')) throw new Error('not a string[]');
    });
    expect(cases).toBeGreaterThan(100);
  });
});
