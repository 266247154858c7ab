import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeStandinLlamafile } from '../../src/demo/standin-llamafile.js';
import { DiskSpaceError } from '../../src/errors.js';
import { extractGguf, extractedPath } from '../../src/extract.js';
import { GGML_TYPE_F32, GgufType } from '../../src/format/gguf-constants.js';
import { writeGguf } from '../../src/demo/gguf-writer.js';

const sha = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

describe('extractGguf', () => {
  let dir: string;
  let gguf: string;
  let llamafile: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'llamactl-extract-'));
    gguf = join(dir, 'weights.gguf');
    // An odd size (not a multiple of 4 KiB), so the block rounding of a clone would show.
    await writeGguf(gguf, {
      kv: [{ key: 'general.architecture', type: GgufType.STRING, value: 'llama' }],
      tensors: [{ name: 't', dims: [75_001], type: GGML_TYPE_F32, data: randomBytes(300_004) }],
    });
    llamafile = join(dir, 'Model.Q4.llamafile');
    await writeStandinLlamafile(llamafile, { ggufPath: gguf, serverPath: '/bin/false' });
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes the exact GGUF bytes beside the llamafile and says what it cost', async () => {
    const result = await extractGguf(llamafile);
    const original = await readFile(gguf);
    expect(result.path).toBe(extractedPath(llamafile));
    expect(result.path).toBe(join(dir, 'Model.Q4.gguf'));
    expect(sha(await readFile(result.path))).toBe(sha(original));
    expect(result.bytes).toBe(original.length);
    expect(result.offset % 65536).toBe(0);
    // This machine's filesystem decides: a reflink costs nothing, a copy the GGUF's size.
    if (result.method === 'copy') {
      expect(result.extraDiskBytes).toBe(original.length);
      expect(result.reflinkUnavailable).toBeTruthy();
    } else {
      expect(result.method).toBe('reflink');
      expect(result.extraDiskBytes).toBe(0);
    }
    expect((await readdir(dir)).filter((name) => name.endsWith('.part'))).toEqual([]);
  });

  it('reuses an extraction that is newer than the llamafile', async () => {
    const again = await extractGguf(llamafile);
    expect(again.method).toBe('existing');
    expect(again.extraDiskBytes).toBe(0);
  });

  it('checks the free space before copying, and leaves nothing behind when it is short', async () => {
    const out = join(dir, 'short.gguf');
    const error = await extractGguf(llamafile, { out, method: 'copy', freeSpace: async () => 1000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DiskSpaceError);
    expect((error as Error).message).toMatch(/Not enough disk space/);
    await expect(stat(out)).rejects.toThrow();
    expect((await readdir(dir)).filter((name) => name.endsWith('.part'))).toEqual([]);
  });

  it('--method reflink never copies', async () => {
    const out = join(dir, 'reflink.gguf');
    const result = await extractGguf(llamafile, { out, method: 'reflink' }).catch((e: unknown) => e);
    if (result instanceof Error) {
      expect(result).toBeInstanceOf(DiskSpaceError);
      expect(result.message).toMatch(/Cannot share the GGUF's blocks/);
      await expect(stat(out)).rejects.toThrow();
    } else {
      expect(sha(await readFile(out))).toBe(sha(await readFile(gguf)));
    }
  });

  it('a bare GGUF needs nothing', async () => {
    const result = await extractGguf(gguf);
    expect(result).toMatchObject({ path: gguf, method: 'none', extraDiskBytes: 0 });
  });
});
