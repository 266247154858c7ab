import { execa } from 'execa';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { JournalWriter, journalMatches, readJournal, type JournalData } from '../../../src/store/pull-journal.js';

const base: JournalData = {
  version: 1,
  commit: 'c0ffee',
  chunkSize: 4,
  shards: [{ name: 'a.cat0.llamafile', size: 10, sha256: 'ab' }],
  done: [],
  verified: [],
};

describe('journal', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'llamactl-journal-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps the latest state after a burst of updates, written atomically with mode 0600', async () => {
    const path = join(dir, 'x.part.journal');
    const writer = new JournalWriter(path, structuredClone(base));
    await Promise.all([0, 1, 2, 3].map((id) => writer.update((d) => d.done.push(id))));
    await writer.settle();
    expect((await readJournal(path))?.done).toEqual([0, 1, 2, 3]);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(await readdir(dir)).toEqual(['x.part.journal']);
    await writer.remove();
    expect(await readdir(dir)).toEqual([]);
  });

  it('treats a torn or foreign file as no journal', async () => {
    const path = join(dir, 'j');
    await writeFile(path, '{"version":1,"done":[1,');
    expect(await readJournal(path)).toBeUndefined();
    await writeFile(path, JSON.stringify({ version: 2 }));
    expect(await readJournal(path)).toBeUndefined();
    expect(await readJournal(join(dir, 'missing'))).toBeUndefined();
    expect(await readFile(path, 'utf8')).toContain('version');
  });

  it('matches only the same commit, chunking and shards', () => {
    const want = { commit: base.commit, chunkSize: base.chunkSize, shards: base.shards };
    expect(journalMatches(base, want)).toBe(true);
    expect(journalMatches(base, { ...want, commit: 'other' })).toBe(false);
    expect(journalMatches(base, { ...want, chunkSize: 8 })).toBe(false);
    expect(journalMatches(base, { ...want, shards: [{ name: 'a.cat0.llamafile', size: 11, sha256: 'ab' }] })).toBe(false);
    expect(journalMatches(base, { ...want, shards: [{ name: 'a.cat0.llamafile', size: 10, sha256: 'cd' }] })).toBe(false);
  });

  it('never blocks on a FIFO, and refuses a journal that is oversized, mistyped or implies a huge chunk plan', async () => {
    const fifo = join(dir, 'fifo.journal');
    await execa('mkfifo', [fifo]);
    expect(await readJournal(fifo)).toBeUndefined();
    const path = join(dir, 'j');
    const bad: unknown[] = [
      { ...base, chunkSize: 1, shards: [{ name: 'a', size: 10 ** 15, sha256: undefined }] },
      { ...base, chunkSize: 0 },
      { ...base, chunkSize: -4 },
      { ...base, shards: [{ name: 'a', size: -1 }] },
      { ...base, shards: [null] },
      { ...base, done: ['0'] },
      { ...base, commit: 7 },
    ];
    for (const data of bad) {
      await writeFile(path, JSON.stringify(data));
      expect(await readJournal(path), JSON.stringify(data)).toBeUndefined();
    }
    await writeFile(path, JSON.stringify({ ...base, done: [1] }) + ' '.repeat(64 * 1024 * 1024));
    expect(await readJournal(path)).toBeUndefined();
    await writeFile(path, JSON.stringify({ ...base, done: [1], verified: [0, 'x'] }));
    expect(await readJournal(path)).toMatchObject({ done: [1], verified: [0] });
  });

  it('removes only its own temp files (<journal>.tmp-<pid>), not a look-alike', async () => {
    const path = join(dir, 'x.part.journal');
    await writeFile(join(dir, 'x.part.journal.tmp-123'), '');
    await writeFile(join(dir, 'x.part.journal.tmp-mine'), 'keep');
    const writer = new JournalWriter(path, structuredClone(base));
    await writer.update(() => {});
    await writer.remove();
    expect(await readdir(dir)).toEqual(['x.part.journal.tmp-mine']);
  });
});
