/**
 * pull's RAM check judges the remote file it is about to download, never whatever already sits at the target path
 * (a stale copy of another model). Two llamafiles that differ only in the size of their weights make the verdict
 * flip with the file that is read; the machine's memory is injected so the verdict is the same on every machine.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeGgufHeader } from '../../src/demo/gguf-writer.js';
import { writeStandinLlamafile } from '../../src/demo/standin-llamafile.js';
import { InsufficientMemoryError } from '../../src/errors.js';
import { GgufType } from '../../src/format/gguf-constants.js';
import { MEMORY_MARGIN } from '../../src/format/fit.js';
import { pull, type PullEvent, type PullOptions } from '../../src/pull.js';
import { FaultHub } from '../helpers/fault-hub.js';

const MiB = 2 ** 20;
/** Room for the fixed margin and a few MiB: the 32-byte model fits, the 16 MiB one does not. */
const MACHINE = { totalBytes: MEMORY_MARGIN.fixedBytes + 8 * MiB, availableBytes: MEMORY_MARGIN.fixedBytes + 8 * MiB };

async function llamafile(dir: string, name: string, weightBytes: number): Promise<Buffer> {
  const { header } = encodeGgufHeader({
    kv: [{ key: 'general.architecture', type: GgufType.STRING, value: 'llama' }],
    tensors: [{ name: 'w', dims: [weightBytes / 4], type: 0, data: new Uint8Array(weightBytes) }],
  });
  const gguf = join(dir, `${name}.gguf`);
  await writeFile(gguf, Buffer.concat([header, Buffer.alloc(weightBytes)]));
  const path = join(dir, `${name}.llamafile`);
  await writeStandinLlamafile(path, { ggufPath: gguf, serverPath: '/bin/false' });
  return readFile(path);
}

describe('pull fit check reads the remote file, not a stale local copy', () => {
  let work: string;
  let hub: FaultHub;
  let small: Buffer;
  let big: Buffer;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'llamactl-fit-stale-'));
    small = await llamafile(work, 'small', 32);
    big = await llamafile(work, 'big', 16 * MiB);
    hub = await FaultHub.start({
      repos: { 'acme/big': { files: { 'M.Q4_0.llamafile': big } }, 'acme/small': { files: { 'M.Q4_0.llamafile': small } } },
    });
  });
  afterAll(async () => {
    await hub?.close();
    await rm(work, { recursive: true, force: true });
  });

  /** Pulls `repo` into the store of a fresh LLAMACTL_HOME where a stale `stale` copy already sits at the target. */
  async function pullOver(repo: string, stale: Buffer, events: PullEvent[], options: PullOptions = {}) {
    const home = await mkdtemp(join(work, 'home-'));
    const target = join(home, 'models', ...repo.split('/'), 'M.Q4_0.llamafile');
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, stale);
    const result = await pull(repo, {
      endpoint: hub.endpoint,
      memory: MACHINE,
      env: { LLAMACTL_HOME: home },
      onProgress: (event) => events.push(event),
      ...options,
    }).catch((error: unknown) => error);
    return { result, target };
  }

  it('refuses with requireFit a remote model too big for RAM, though a small model sits at the target path', async () => {
    const events: PullEvent[] = [];
    const { result, target } = await pullOver('acme/big', small, events, { fitCheck: 'require' });
    expect(result).toBeInstanceOf(InsufficientMemoryError);
    expect(events.find((e) => e.type === 'fit')).toMatchObject({ level: 'too-big' });
    // Refused before the first byte: the stale file is as it was.
    expect((await readFile(target)).equals(small)).toBe(true);
  });

  it('lets through a remote model that fits, though a too-big model sits at the target path', async () => {
    const events: PullEvent[] = [];
    const { result, target } = await pullOver('acme/small', big, events, { fitCheck: 'require' });
    expect(result).toMatchObject({ path: target, upToDate: false });
    expect(events.find((e) => e.type === 'fit')).toMatchObject({ level: 'ok', fits: true });
    expect((await readFile(target)).equals(small)).toBe(true);
  });
});
