import { execa } from 'execa';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NotFoundError, UsageError } from '../../../src/errors.js';
import { findModel, listModels, readManifest, recordModel, removeModel } from '../../../src/store/models.js';

describe('model store', () => {
  let home: string;
  let env: NodeJS.ProcessEnv;
  const shard = (name: string, size: number) => ({ name, size, sha256: 'a'.repeat(64) });

  beforeEach(async () => {
    home = await mkdtemp(join(tmpdir(), 'llamactl-store-'));
    env = { LLAMACTL_HOME: home };
    const one = join(home, 'models', 'Mozilla', 'Big-llamafile');
    await mkdir(one, { recursive: true });
    await writeFile(join(one, 'Big.Q2_K.llamafile'), 'x'.repeat(10));
    await writeFile(join(one, 'Big.Q4_0.llamafile'), 'y'.repeat(20));
    await writeFile(join(one, 'Big.Q4_0.llamafile.part'), '');
    await recordModel(one, 'Mozilla/Big-llamafile', 'Big.Q2_K.llamafile', {
      commit: 'c'.repeat(40),
      revision: 'main',
      size: 10,
      shards: [shard('Big.Q2_K.cat0.llamafile', 6), shard('Big.Q2_K.cat1.llamafile', 4)],
      pulledAt: '2026-01-01T00:00:00.000Z',
    });
    const two = join(home, 'models', 'acme', 'Small');
    await mkdir(two, { recursive: true });
    await writeFile(join(two, 'Small.F16.llamafile'), 'z');
  });
  afterEach(async () => {
    await rm(home, { recursive: true, force: true });
  });

  it('lists pulled models with their manifest data and stray files with their folder', async () => {
    const models = await listModels(env);
    expect(models.map((m) => [m.name, m.repo, m.size, m.commit?.slice(0, 3), m.shards.length])).toEqual([
      ['Big.Q2_K.llamafile', 'Mozilla/Big-llamafile', 10, 'ccc', 2],
      ['Big.Q4_0.llamafile', 'Mozilla/Big-llamafile', 20, undefined, 0],
      ['Small.F16.llamafile', 'acme/Small', 1, undefined, 0],
    ]);
    expect(models[0]).toMatchObject({ path: join(home, 'models', 'Mozilla', 'Big-llamafile', 'Big.Q2_K.llamafile'), pulledAt: '2026-01-01T00:00:00.000Z' });
  });

  it('lists a partial download (no final file) with the bytes its journal records, and serves it to no one', async () => {
    const dir = join(home, 'models', 'acme', 'Small');
    await writeFile(join(dir, 'Half.Q8_0.llamafile.part'), Buffer.alloc(25));
    const shards = [{ name: 'Half.Q8_0.llamafile', size: 25, sha256: undefined }];
    await writeFile(join(dir, 'Half.Q8_0.llamafile.part.journal'), JSON.stringify({ version: 1, commit: 'c', chunkSize: 10, shards, done: [0, 2], verified: [] }));
    const half = (await listModels(env)).find((m) => m.name === 'Half.Q8_0.llamafile');
    expect(half).toMatchObject({ partial: true, size: 25, done: 15, path: join(dir, 'Half.Q8_0.llamafile') });
    await expect(findModel('acme/Small:Q8_0', env)).rejects.toThrow(NotFoundError);
    await removeModel('acme/Small:Q8_0', env);
    expect(await readdir(dir)).toEqual(['Small.F16.llamafile']);
  });

  it('is empty for an empty home', async () => {
    expect(await listModels({ LLAMACTL_HOME: join(home, 'nothing') })).toEqual([]);
  });

  it('finds by owner/repo when it holds one model, owner/repo:QUANT (any case) or file name', async () => {
    expect((await findModel('acme/Small', env)).name).toBe('Small.F16.llamafile');
    expect((await findModel('mozilla/big-llamafile:q4_0', env)).name).toBe('Big.Q4_0.llamafile');
    expect((await findModel('Big.Q2_K.llamafile', env)).repo).toBe('Mozilla/Big-llamafile');
  });

  it('explains what is there when the name is ambiguous or unknown', async () => {
    const ambiguous = await findModel('Mozilla/Big-llamafile', env).catch((e: unknown) => e);
    expect(ambiguous).toBeInstanceOf(UsageError);
    expect((ambiguous as NotFoundError).hint).toBe('Use one of: Mozilla/Big-llamafile:Q2_K, Mozilla/Big-llamafile:Q4_0.');
    const unknown = await findModel('nope/nope', env).catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(NotFoundError);
    expect((unknown as NotFoundError).hint).toContain('acme/Small:F16');
  });

  it('removes a model, its partial download and its manifest entry, then empty folders', async () => {
    const removed = await removeModel('Mozilla/Big-llamafile:Q4_0', env);
    expect(removed.name).toBe('Big.Q4_0.llamafile');
    expect(await readdir(join(home, 'models', 'Mozilla', 'Big-llamafile'))).toEqual(['Big.Q2_K.llamafile', 'manifest.json']);
    await removeModel('Mozilla/Big-llamafile', env);
    await removeModel('Small.F16.llamafile', env);
    expect(await readdir(join(home, 'models'))).toEqual([]);
    await expect(removeModel('acme/Small', env)).rejects.toThrow(NotFoundError);
  });

  it('rm deletes exactly what a pull makes (.part, .part.journal, its .tmp-<pid>, .part.lock), never look-alikes', async () => {
    const dir = join(home, 'models', 'acme', 'Small');
    const ours = ['.part', '.part.journal', '.part.journal.tmp-31337', '.part.lock'];
    const theirs = ['.part.backup', '.part.journal.tmp-x', '.part.journal.bak', '.parts', '.part.lock.1'];
    for (const rest of [...ours, ...theirs]) await writeFile(join(dir, `Small.F16.llamafile${rest}`), rest);
    await removeModel('acme/Small', env);
    expect((await readdir(dir)).sort()).toEqual(theirs.map((rest) => `Small.F16.llamafile${rest}`).sort());
  });

  it('drops manifest entries that are not records llamactl writes, and a manifest that is a FIFO', async () => {
    const dir = join(home, 'models', 'acme', 'Small');
    const good = { commit: 'c', revision: 'main', size: 1, shards: [shard('Small.F16.llamafile', 1)], pulledAt: 'then' };
    const models = { 'Small.F16.llamafile': { ...good, shards: 'many' }, 'Other.F16.llamafile': good };
    await writeFile(join(dir, 'manifest.json'), JSON.stringify({ version: 1, repo: 'acme/Small', models }));
    expect(Object.keys((await readManifest(dir))!.models)).toEqual(['Other.F16.llamafile']);
    expect((await findModel('acme/Small', env)).shards).toEqual([]);
    await rm(join(dir, 'manifest.json'));
    await execa('mkfifo', [join(dir, 'manifest.json')]);
    expect(await readManifest(dir)).toBeUndefined();
    expect((await findModel('acme/Small', env)).repo).toBe('acme/Small');
  });
});
