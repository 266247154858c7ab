import { describe, expect, it } from 'vitest';
import { FormatError } from '../../../src/errors.js';
import { GgufType } from '../../../src/format/gguf-constants.js';
import { readGguf, kvNumber, kvString } from '../../../src/format/gguf-reader.js';
import type { GgufKv } from '../../../src/format/gguf-reader.js';
import { encodeGgufHeader } from '../../../src/demo/gguf-writer.js';
import { BufferSource } from '../../../src/format/source.js';
import type { RandomAccessSource } from '../../../src/format/source.js';

const sampleKv: GgufKv[] = [
  { key: 'general.architecture', type: GgufType.STRING, value: 'llama' },
  { key: 'u8', type: GgufType.UINT8, value: 200 },
  { key: 'i8', type: GgufType.INT8, value: -5 },
  { key: 'u16', type: GgufType.UINT16, value: 65000 },
  { key: 'i16', type: GgufType.INT16, value: -32000 },
  { key: 'u32', type: GgufType.UINT32, value: 4_000_000_000 },
  { key: 'i32', type: GgufType.INT32, value: -2_000_000_000 },
  { key: 'f32', type: GgufType.FLOAT32, value: 0.5 },
  { key: 'bool', type: GgufType.BOOL, value: true },
  { key: 'u64', type: GgufType.UINT64, value: 2n ** 63n },
  { key: 'i64', type: GgufType.INT64, value: -(2n ** 40n) },
  { key: 'f64', type: GgufType.FLOAT64, value: Math.PI },
  { key: 'unicode', type: GgufType.STRING, value: 'héllo ✓' },
  {
    key: 'small',
    type: GgufType.ARRAY,
    value: { itemType: GgufType.STRING, length: 2, items: ['a', 'bc'] },
  },
  {
    key: 'nested',
    type: GgufType.ARRAY,
    value: {
      itemType: GgufType.ARRAY,
      length: 2,
      items: [
        { itemType: GgufType.INT32, length: 2, items: [1, 2] },
        { itemType: GgufType.INT32, length: 1, items: [3] },
      ],
    },
  },
  {
    key: 'tokenizer.ggml.tokens',
    type: GgufType.ARRAY,
    value: { itemType: GgufType.STRING, length: 1000, items: Array.from({ length: 1000 }, (_, i) => `tok${i}`) },
  },
  {
    key: 'tokenizer.ggml.scores',
    type: GgufType.ARRAY,
    value: { itemType: GgufType.FLOAT32, length: 1000, items: Array.from({ length: 1000 }, (_, i) => i / 2) },
  },
];

function sampleGguf(): Uint8Array {
  const { header } = encodeGgufHeader({
    kv: sampleKv,
    tensors: [
      { name: 'a', dims: [4, 2], type: 0, data: new Uint8Array(32) },
      { name: 'b', dims: [64], type: 8 /* Q8_0: 32 per block, 34 bytes */, data: new Uint8Array(68) },
    ],
  });
  const file = new Uint8Array(header.length + 32 + 68);
  file.set(header);
  return file;
}

/** Counts reads and bytes, to check the read-ahead window. */
class CountingSource implements RandomAccessSource {
  reads = 0;
  bytes = 0;
  constructor(private readonly inner: RandomAccessSource) {}
  get size() {
    return this.inner.size;
  }
  get description() {
    return this.inner.description;
  }
  read(offset: number, length: number) {
    this.reads++;
    this.bytes += length;
    return this.inner.read(offset, length);
  }
  close() {
    return this.inner.close();
  }
}

describe('readGguf', () => {
  it('round-trips every value type, arrays and tensor infos', async () => {
    const meta = await readGguf(new BufferSource(sampleGguf()));
    expect(meta.version).toBe(3);
    expect([...meta.kv.keys()]).toEqual(sampleKv.map((kv) => kv.key));
    for (const entry of sampleKv.slice(0, 13)) {
      const read = meta.kv.get(entry.key)!;
      expect(read.type).toBe(entry.type);
      if (entry.type === GgufType.FLOAT32) expect(read.value).toBeCloseTo(entry.value as number);
      else expect(read.value).toEqual(entry.value);
    }
    expect(meta.kv.get('small')!.value).toEqual({ itemType: GgufType.STRING, length: 2, items: ['a', 'bc'] });
    expect(meta.kv.get('nested')!.value).toEqual(sampleKv[14]!.value);
    expect(meta.tensors).toEqual([
      { name: 'a', dims: [4, 2], type: 0, typeName: 'F32', offset: 0, elements: 8, bytes: 32 },
      { name: 'b', dims: [64], type: 8, typeName: 'Q8_0', offset: 32, elements: 64, bytes: 68 },
    ]);
    expect(meta.dataOffset % 32).toBe(0);
    expect(meta.dataOffset).toBe(sampleGguf().length - 100);
    expect(kvString(meta, 'general.architecture')).toBe('llama');
    expect(kvNumber(meta, 'u64')).toBe(2 ** 63);
  });

  it('skips big arrays but keeps their length, and materialises them when asked', async () => {
    const skipped = await readGguf(new BufferSource(sampleGguf()));
    expect(skipped.kv.get('tokenizer.ggml.tokens')!.value).toEqual({
      itemType: GgufType.STRING,
      length: 1000,
      items: undefined,
    });
    expect(skipped.kv.get('tokenizer.ggml.scores')!.value).toMatchObject({ length: 1000, items: undefined });
    const full = await readGguf(new BufferSource(sampleGguf()), { maxArrayItems: Number.POSITIVE_INFINITY });
    const tokens = full.kv.get('tokenizer.ggml.tokens')!.value as { items: string[] };
    expect(tokens.items[999]).toBe('tok999');
  });

  it('reads a GGUF at an offset and version 2', async () => {
    const gguf = sampleGguf();
    gguf[4] = 2;
    const padded = new Uint8Array(100 + gguf.length);
    padded.set(gguf, 100);
    const meta = await readGguf(new BufferSource(padded), { offset: 100 });
    expect(meta.version).toBe(2);
    expect(meta.offset).toBe(100);
    expect(meta.dataOffset).toBe(gguf.length);
  });

  it('honours general.alignment for the data section and tensor offsets', async () => {
    const { header, offsets } = encodeGgufHeader({
      kv: [{ key: 'general.architecture', type: GgufType.STRING, value: 'x' }],
      tensors: [
        { name: 'a', dims: [3], type: 0, data: new Uint8Array(12) },
        { name: 'b', dims: [5], type: 0, data: new Uint8Array(20) },
      ],
      alignment: 256,
    });
    const file = new Uint8Array(header.length + 256 + 20);
    file.set(header);
    const meta = await readGguf(new BufferSource(file));
    expect(meta.alignment).toBe(256);
    expect(meta.dataOffset % 256).toBe(0);
    expect(meta.tensors.map((t) => t.offset)).toEqual(offsets);
    expect(offsets).toEqual([0, 256]);
  });

  it('names big-endian GGUFs instead of calling them corrupt', async () => {
    const bytes = sampleGguf();
    new DataView(bytes.buffer).setUint32(4, 3, false);
    await expect(readGguf(new BufferSource(bytes))).rejects.toThrow(/big-endian/);
  });

  it('reads ahead in a growing window: few reads for a big header', async () => {
    const source = new CountingSource(new BufferSource(sampleGguf()));
    await readGguf(source, { initialWindow: 1024 });
    // ~15 KB header: 1 KiB, 2 KiB, 4 KiB, 8 KiB windows, never byte by byte.
    expect(source.reads).toBeLessThanOrEqual(5);
    expect(source.bytes).toBeLessThanOrEqual(sampleGguf().length + 1024);
  });

  it('rejects what is not a GGUF', async () => {
    await expect(readGguf(new BufferSource(new TextEncoder().encode('hello world, this is not gguf')))).rejects.toThrow(
      /not a GGUF file/,
    );
    const v1 = sampleGguf();
    v1[4] = 1;
    await expect(readGguf(new BufferSource(v1))).rejects.toThrow(/version 1/);
  });

  it('fails fast on absurd counts and lengths without allocating', async () => {
    const header = (tensors: bigint, kvs: bigint, rest: number[] = []) => {
      const bytes = new Uint8Array(24 + rest.length + 64);
      const view = new DataView(bytes.buffer);
      view.setUint32(0, 0x46554747, true);
      view.setUint32(4, 3, true);
      view.setBigUint64(8, tensors, true);
      view.setBigUint64(16, kvs, true);
      bytes.set(rest, 24);
      return new BufferSource(bytes);
    };
    await expect(readGguf(header(0n, 2n ** 60n))).rejects.toThrow(/key\/value count/);
    await expect(readGguf(header(2n ** 62n, 0n))).rejects.toThrow(/tensor count/);
    // One KV whose key length is 2^40.
    const longKey = [0, 0, 0, 0, 0, 1, 0, 0];
    await expect(readGguf(header(0n, 1n, longKey))).rejects.toThrow(/length of key #0/);
    // A string value of 2^40 bytes.
    const key = [1, 0, 0, 0, 0, 0, 0, 0, 120, 8, 0, 0, 0, ...longKey];
    await expect(readGguf(header(0n, 1n, key))).rejects.toThrow(FormatError);
    // An array of 2^50 u32.
    const array = [1, 0, 0, 0, 0, 0, 0, 0, 120, 9, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0];
    await expect(readGguf(header(0n, 1n, array))).rejects.toThrow(/length of x/);
  });

  it('truncated at any byte: only FormatError', async () => {
    const gguf = sampleGguf();
    for (let cut = 0; cut < gguf.length; cut += 11) {
      const error = await readGguf(new BufferSource(gguf.subarray(0, cut))).catch((e: unknown) => e);
      expect(error, `cut at ${cut}`).toBeInstanceOf(FormatError);
    }
  });

  it('corrupted bytes: FormatError or a successful read, never another error', async () => {
    const gguf = sampleGguf();
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    for (let round = 0; round < 300; round++) {
      const copy = gguf.slice();
      const position = Math.floor(random() * Math.min(copy.length, 600));
      copy[position] = Math.floor(random() * 256);
      if (random() < 0.5) copy[position + 1] = 0xff;
      const error = await readGguf(new BufferSource(copy)).then(
        () => undefined,
        (e: unknown) => e,
      );
      if (error !== undefined) expect(error, `byte ${position}`).toBeInstanceOf(FormatError);
    }
  });
});
