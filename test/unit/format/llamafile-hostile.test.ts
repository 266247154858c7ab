/** Llamafiles built to lie: a zip-bomb `.args`, entry and tensor names meant to flood or rewrite the terminal. */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeGgufHeader } from '../../../src/demo/gguf-writer.js';
import { writeZip, type ZipEntryInput } from '../../../src/demo/zip-writer.js';
import { FormatError } from '../../../src/errors.js';
import { ctxFromArgs } from '../../../src/format/header-estimate.js';
import { GgufType } from '../../../src/format/gguf-constants.js';
import { readGguf } from '../../../src/format/gguf-reader.js';
import { readLlamafile } from '../../../src/format/llamafile.js';
import { BufferSource } from '../../../src/format/source.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'llamactl-hostile-zip-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function gguf(tensorName = 't'): Uint8Array {
  const { header } = encodeGgufHeader({
    kv: [{ key: 'general.architecture', type: GgufType.STRING, value: 'llama' }],
    tensors: [{ name: tensorName, dims: [8], type: 0, data: new Uint8Array(32) }],
  });
  return Buffer.concat([header, Buffer.alloc(32)]);
}

async function zip(name: string, entries: ZipEntryInput[]): Promise<Buffer> {
  const path = join(dir, name);
  await writeZip(path, entries);
  return readFile(path);
}

/** Marks the central directory entry `name` as deflated (method 8), as a compressed `.args` is. */
function markDeflated(bytes: Buffer, name: string): Buffer {
  for (let at = bytes.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02])); at !== -1; at = bytes.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]), at + 4)) {
    const length = bytes.readUInt16LE(at + 28);
    if (bytes.subarray(at + 46, at + 46 + length).toString() === name) bytes.writeUInt16LE(8, at + 10);
  }
  return bytes;
}

describe('readLlamafile on hostile archives', () => {
  it('reads a deflated .args', async () => {
    const bytes = markDeflated(await zip('ok.zip', [{ name: 'm.gguf', data: gguf() }, { name: '.args', data: deflateRawSync('-c\n2048\n') }]), '.args');
    expect((await readLlamafile(new BufferSource(bytes))).args).toEqual(['-c', '2048']);
  });

  it('refuses a .args that inflates past 1 MiB (a zip bomb) instead of inflating it all', async () => {
    // 64 KiB of deflate that claims (in its small size field) to be small and inflates to 64 MiB.
    const bomb = deflateRawSync(Buffer.alloc(64 * 2 ** 20, 0x20));
    const bytes = markDeflated(await zip('bomb.zip', [{ name: 'm.gguf', data: gguf() }, { name: '.args', data: bomb }]), '.args');
    const error = await readLlamafile(new BufferSource(bytes)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FormatError);
    expect((error as Error).message).toMatch(/\.args file in .* inflates to more than 1048576 bytes/);
  });

  it('lists at most 10 entry names, each clipped and escaped, when no .gguf is there', async () => {
    const entries = [
      { name: `evil\u202e${'x'.repeat(5000)}.txt`, data: Buffer.from('x') },
      ...Array.from({ length: 30 }, (_, i) => ({ name: `f${i}\u001b[2J.txt`, data: Buffer.from('y') })),
    ];
    const error = await readLlamafile(new BufferSource(await zip('names.zip', entries))).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FormatError);
    const message = (error as Error).message;
    expect(message.length).toBeLessThan(1500);
    expect(message).not.toMatch(/[\u001b\u202e]/);
    expect(message).toContain('"evil\\u202e');
    expect(message).toContain('"f0\\u001b[2J.txt"');
    expect(message).toContain('and 21 more');
  });

  it('clips and escapes a tensor name in a message about it', async () => {
    const { header } = encodeGgufHeader({
      kv: [],
      tensors: [{ name: `\u001b]0;pwned\u0007${'n'.repeat(10_000)}`, dims: [8], type: 0, data: new Uint8Array(32) }],
    });
    // No tensor data after the header: the message names the tensor.
    const error = await readGguf(new BufferSource(header)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FormatError);
    const message = (error as Error).message;
    expect(message.length).toBeLessThan(400);
    expect(message).not.toMatch(/[\u0000-\u001f]/);
    expect(message).toContain('\\u001b]0;pwned\\u0007');
  });

  it('ignores an absurd -c in .args rather than estimating with it', () => {
    expect(ctxFromArgs(['-c', '1e300'])).toBeUndefined();
    expect(ctxFromArgs(['-c', '4096', '-c', '99999999999'])).toBe(4096);
  });
});
