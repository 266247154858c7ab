import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeStandinLlamafile } from '../../../src/demo/standin-llamafile.js';
import { FormatError } from '../../../src/errors.js';
import { inspect } from '../../../src/inspect.js';
import { readLlamafile } from '../../../src/format/llamafile.js';
import type { LlamafileInfo } from '../../../src/format/llamafile.js';
import { summarizeModel } from '../../../src/format/model-summary.js';
import { LocalShardSource } from '../../../src/format/shard-source.js';
import { BufferSource } from '../../../src/format/source.js';
import type { RandomAccessSource } from '../../../src/format/source.js';
import { writeZip } from '../../../src/demo/zip-writer.js';
import { encodeGgufHeader } from '../../../src/demo/gguf-writer.js';
import { GgufType } from '../../../src/format/gguf-constants.js';

function fixture(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: test/helpers/global-setup.ts did not run.`);
  return value;
}

/** The tiny model's numbers, by hand: 32002 tokens × 64 for the embedding and output matrices, plus 2 blocks of
 * 2 norms (64) + q (64×64) + k, v (64×32) + o (64×64) + gate, up, down (64×128), plus the output norm. */
const BLOCK = 64 + 4096 + 2048 + 2048 + 4096 + 64 + 3 * 8192;
const PARAMETERS = 2 * 32002 * 64 + 2 * BLOCK + 64;

function expectTinyModel(info: LlamafileInfo) {
  const summary = summarizeModel(info.gguf);
  expect(summary).toMatchObject({
    name: 'llamactl tiny test model',
    architecture: 'llama',
    quantization: 'F16',
    contextLength: 2048,
    blockCount: 2,
    embeddingLength: 64,
    headCount: 4,
    headCountKv: 2,
    keyLength: 16,
    chatTemplate: true,
    vocabSize: 32002,
    parameterCount: PARAMETERS,
    tensorCount: 21,
  });
  // F16 matrices (2 bytes per element) and F32 norms (4 bytes).
  const norms = 2 * 2 * 64 + 64;
  expect(summary.tensorBytes).toBe((PARAMETERS - norms) * 2 + norms * 4);
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'llamactl-llamafile-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function split(path: string, cuts: number[], naming: (i: number) => string): Promise<string[]> {
  const bytes = await readFile(path);
  const bounds = [0, ...cuts, bytes.length];
  const paths: string[] = [];
  for (let i = 0; i < bounds.length - 1; i++) {
    const shard = join(dir, naming(i));
    await writeFile(shard, bytes.subarray(bounds[i], bounds[i + 1]));
    paths.push(shard);
  }
  return paths;
}

describe('readLlamafile', () => {
  it('reads the stand-in llamafile: APE prefix, aligned GGUF, .args, model summary', async () => {
    const info = await readLlamafile(fixture('LLAMACTL_TEST_LLAMAFILE'));
    expect(info).toMatchObject({ kind: 'llamafile', ape: true, ggufName: 'tiny-llama.gguf', ggufOffset: 65536, zip64: false });
    expect(info.args).toEqual(['-m', 'tiny-llama.gguf', '...']);
    expect(info.entries.sort()).toEqual(['.args', 'tiny-llama.gguf']);
    expectTinyModel(info);
  });

  it('reads a bare GGUF', async () => {
    const info = await readLlamafile(fixture('LLAMACTL_TEST_GGUF'));
    expect(info).toMatchObject({ kind: 'gguf', ggufOffset: 0, args: undefined });
    expectTinyModel(info);
  });

  it('reads a ZIP64 llamafile', async () => {
    const path = join(dir, 'z64.llamafile');
    await writeStandinLlamafile(path, {
      ggufPath: fixture('LLAMACTL_TEST_GGUF'),
      serverPath: '/bin/false',
      args: ['-c', '4096'],
      forceZip64: true,
    });
    const info = await readLlamafile(path);
    expect(info.zip64).toBe(true);
    expect(info.args).toEqual(['-c', '4096']);
    expectTinyModel(info);
  });

  it('reads across local .catN shards split inside the GGUF header and the zip directory', async () => {
    const path = fixture('LLAMACTL_TEST_LLAMAFILE');
    const size = (await readFile(path)).length;
    const paths = await split(path, [70_000, 400_001, size - 150], (i) => `Tiny.F16.cat${i}.llamafile`);
    const source = await LocalShardSource.open(paths);
    try {
      expectTinyModel(await readLlamafile(source));
    } finally {
      await source.close();
    }
    // inspect() finds the siblings of one shard, and orders shards given out of order.
    const one = await inspect(paths[2]!, { memory: { totalBytes: 2 ** 40, availableBytes: 2 ** 40 } });
    expect(one).toMatchObject({ origin: 'shards', files: paths, size, args: ['-m', 'tiny-llama.gguf', '...'] });
    const reordered = await inspect([paths[1]!, paths[0]!, paths[3]!, paths[2]!], { ctxSize: 512 });
    expect(reordered.files).toEqual(paths);
    expect(reordered.memory.ctxSize).toBe(512);
  });

  it('says clearly when a shard is missing', async () => {
    const paths = await split(fixture('LLAMACTL_TEST_LLAMAFILE'), [1000, 2000], (i) => `Gap.F16.llamafile.cat${i}`);
    await rm(paths[1]!);
    await expect(inspect(paths[0]!)).rejects.toThrow(/cat1 is missing/);
  });

  it('refuses archives with no .gguf, several, or a compressed one', async () => {
    const make = async (name: string, entries: { name: string; data: Uint8Array }[]) => {
      const path = join(dir, name);
      await writeZip(path, entries);
      return path;
    };
    const gguf = await readFile(fixture('LLAMACTL_TEST_GGUF'));
    await expect(readLlamafile(await make('none.zip', [{ name: 'a.txt', data: Buffer.from('x') }]))).rejects.toThrow(
      /holds no \.gguf/,
    );
    const two = await make('two.zip', [
      { name: 'model.gguf', data: gguf },
      { name: 'mmproj.gguf', data: Buffer.from('GGUF') },
    ]);
    await expect(readLlamafile(two)).rejects.toThrow(/holds 2 \.gguf files/);
    const compressed = await readFile(await make('c.zip', [{ name: 'model.gguf', data: gguf }]));
    const central = compressed.lastIndexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
    compressed.writeUInt16LE(8, central + 10); // method: deflate
    await expect(readLlamafile(new BufferSource(compressed, 'c.zip'))).rejects.toThrow(/compressed/);
  });

  it('truncated or corrupted llamafiles: only FormatError, read with bounded memory', async () => {
    const bytes = await readFile(fixture('LLAMACTL_TEST_LLAMAFILE'));
    const cuts = [0, 7, 100, 65_536, 65_600, 300_000, bytes.length - 1000, bytes.length - 100, bytes.length - 22, bytes.length - 1];
    for (const cut of cuts) {
      const error = await readLlamafile(new BufferSource(bytes.subarray(0, cut))).catch((e: unknown) => e);
      expect(error, `cut at ${cut}`).toBeInstanceOf(FormatError);
      // Cut before its zip directory, a llamafile is called truncated, not "not a llamafile".
      if (cut >= 6 && cut < bytes.length - 1000) expect((error as Error).message, `cut at ${cut}`).toMatch(/looks truncated/);
    }
    const notALlamafile = Buffer.alloc(100_000, 7);
    await expect(readLlamafile(new BufferSource(notALlamafile))).rejects.toThrow(/is not a llamafile or zip archive/);
    // Fuzz a small llamafile (a GGUF with a few keys and one tensor) so each round is cheap.
    const smallGguf = join(dir, 'small.gguf');
    const { header } = encodeGgufHeader({
      kv: [
        { key: 'general.architecture', type: GgufType.STRING, value: 'llama' },
        { key: 'llama.block_count', type: GgufType.UINT32, value: 1 },
        { key: 'tokenizer.ggml.tokens', type: GgufType.ARRAY, value: { itemType: GgufType.STRING, length: 3, items: ['a', 'b', 'c'] } },
      ],
      tensors: [{ name: 't', dims: [8], type: 0, data: new Uint8Array(32) }],
    });
    await writeFile(smallGguf, Buffer.concat([header, Buffer.alloc(32)]));
    const smallPath = join(dir, 'small.llamafile');
    await writeStandinLlamafile(smallPath, { ggufPath: smallGguf, serverPath: '/bin/false' });
    const small = await readFile(smallPath);
    let seed = 5;
    const random = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
    const heapBefore = process.memoryUsage().heapUsed;
    for (let round = 0; round < 400; round++) {
      const copy = Buffer.from(small);
      // Half the rounds hit the GGUF header, half the central directory and end records.
      const at = round % 2 === 0 ? 65_536 + Math.floor(random() * header.length) : copy.length - 4 - Math.floor(random() * 200);
      copy.writeUInt32LE(Math.floor(random() * 2 ** 32), Math.min(at, copy.length - 4));
      const error = await readLlamafile(new BufferSource(copy)).then(
        () => undefined,
        (e: unknown) => e,
      );
      if (error !== undefined) expect(error, `byte ${at}`).toBeInstanceOf(FormatError);
    }
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(512 * 2 ** 20);
  });

  it('reads only the header: a few reads, a small part of the file', async () => {
    const bytes = await readFile(fixture('LLAMACTL_TEST_LLAMAFILE'));
    let reads = 0;
    let read = 0;
    const inner = new BufferSource(bytes);
    const counting: RandomAccessSource = {
      size: inner.size,
      description: 'counting',
      read: (offset, length) => {
        reads++;
        read += length;
        return inner.read(offset, length);
      },
      close: async () => {},
    };
    expectTinyModel(await readLlamafile(counting));
    expect(reads).toBeLessThanOrEqual(8);
    expect(read).toBeLessThan(1.5e6); // the GGUF header is ~0.73 MB of the 9.1 MB file
  });
});
