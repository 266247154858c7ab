import { execa } from 'execa';
import { link, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generatedBytes } from '../../src/demo/local-hub-content.js';
import { join as joinShards } from '../../src/join.js';
import { DiskSpaceError, UsageError } from '../../src/errors.js';
import { runCli } from '../helpers/cli.js';
import { sha256 } from '../helpers/hub.js';

describe('llamactl join', () => {
  let dir: string;
  const parts = Array.from({ length: 11 }, (_, i) => generatedBytes(40 + i, 0, 50_000 + i));
  const whole = Buffer.concat(parts);

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'llamactl-join-'));
    for (const [i, part] of parts.entries()) await writeFile(join(dir, `Big.Q2_K.cat${i}.llamafile`), part);
    await writeFile(join(dir, 'Mix.Q4_0.llamafile.cat0'), parts[0]!);
    await writeFile(join(dir, 'Mix.Q4_0.llamafile.cat1'), parts[1]!);
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('joins 11 shards given in shell order (cat10 before cat2) into one executable file named without catN', async () => {
    const shards = (await readdir(dir)).filter((f) => f.startsWith('Big')).sort().map((f) => join(dir, f));
    expect(shards[2]).toMatch(/cat10/);
    const result = await runCli(['join', dir, ...shards, '--json']);
    expect(result.exitCode, result.stderr).toBe(0);
    const out = join(dir, 'Big.Q2_K.llamafile');
    const last = JSON.parse(result.stdout.trim().split('\n').at(-1)!) as { type: string; path: string; shards: { sha256: string }[] };
    expect(last).toMatchObject({ type: 'result', path: out, size: whole.length });
    expect(last.shards[10]!.sha256).toBe(sha256(parts[10]!));
    expect((await readFile(out)).equals(whole)).toBe(true);
    expect((await stat(out)).mode & 0o777).toBe(0o755);
    expect(await readdir(dir)).not.toContain('Big.Q2_K.llamafile.part');
  });

  it('joins the other naming order to an explicit output file', async () => {
    const out = join(dir, 'mixtral.llamafile');
    const result = await runCli(['join', out, join(dir, 'Mix.Q4_0.llamafile.cat1'), join(dir, 'Mix.Q4_0.llamafile.cat0')]);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toContain(out);
    expect((await readFile(out)).equals(Buffer.concat([parts[0]!, parts[1]!]))).toBe(true);
  });

  it.each([
    [['Big.Q2_K.cat0.llamafile', 'Big.Q2_K.cat2.llamafile'], 2, /cat1 is missing/],
    [['Big.Q2_K.cat0.llamafile', 'Mix.Q4_0.llamafile.cat0'], 2, /not one shard set/],
    [['Big.Q2_K.cat0.llamafile', 'nope.cat1.llamafile'], 3, /No such file/],
  ])('refuses %j (exit %i), writing nothing', async (names, code, message) => {
    const before = await readdir(dir);
    const result = await runCli(['join', dir, ...names.map((n) => join(dir, n))]);
    expect(result.exitCode).toBe(code);
    expect(result.stderr).toMatch(message);
    expect(await readdir(dir)).toEqual(before);
  });

  it('refuses an output folder that does not exist with one clear line (exit 2)', async () => {
    const shards = ['Mix.Q4_0.llamafile.cat0', 'Mix.Q4_0.llamafile.cat1'].map((f) => join(dir, f));
    const result = await runCli(['join', join(dir, 'no', 'such', 'Mix.llamafile'), ...shards]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toBe(`llamactl: Cannot write to ${join(dir, 'no', 'such')} (ENOENT). Choose a writable folder.`);
  });

  it('does not overwrite an existing output without --force', async () => {
    const out = join(dir, 'x.llamafile');
    await writeFile(out, 'keep');
    const shards = [join(dir, 'Mix.Q4_0.llamafile.cat0'), join(dir, 'Mix.Q4_0.llamafile.cat1')];
    const refused = await runCli(['join', out, ...shards]);
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toMatch(/already exists.*--force/);
    expect(await readFile(out, 'utf8')).toBe('keep');
    expect((await runCli(['join', out, ...shards, '--force', '--quiet'])).exitCode).toBe(0);
    expect((await stat(out)).size).toBe(parts[0]!.length + parts[1]!.length);
  });

  it('checks free space first (library)', async () => {
    const shards = [join(dir, 'Mix.Q4_0.llamafile.cat0'), join(dir, 'Mix.Q4_0.llamafile.cat1')];
    await expect(joinShards(dir, shards, { freeSpace: async () => 10 })).rejects.toThrow(DiskSpaceError);
    expect(await readdir(dir)).not.toContain('Mix.Q4_0.llamafile');
  });

  it('compares files, not spellings: an output that is a shard by a symlinked folder or a hard link is refused (library)', async () => {
    const shards = [join(dir, 'Mix.Q4_0.llamafile.cat0'), join(dir, 'Mix.Q4_0.llamafile.cat1')];
    await symlink(dir, join(dir, 'alias'));
    await link(shards[1]!, join(dir, 'hard.llamafile'));
    for (const out of [join(dir, 'alias', 'Mix.Q4_0.llamafile.cat0'), join(dir, 'hard.llamafile')]) {
      await expect(joinShards(out, shards, { force: true })).rejects.toThrow(/is the shard .* \(the same file by another path\)/);
    }
    expect((await readFile(shards[0]!)).equals(parts[0]!)).toBe(true);
    expect((await readFile(shards[1]!)).equals(parts[1]!)).toBe(true);
  });

  it('says what a shard that exists but is no file is: a FIFO is never opened for a blocking read (library)', async () => {
    const fifo = join(dir, 'Mix.Q4_0.llamafile.cat2');
    await execa('mkfifo', [fifo]);
    const shards = [join(dir, 'Mix.Q4_0.llamafile.cat0'), join(dir, 'Mix.Q4_0.llamafile.cat1'), fifo];
    const error = await joinShards(dir, shards).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toBe(`${fifo} is a FIFO (named pipe), not a regular file: join reads its shards from regular files only.`);
  });
});
