/**
 * The CLI against local files built to lie (a symlinked folder, hard links, FIFOs, devices, directories, records and
 * journals llamactl did not write), in a temp root with $LLAMACTL_HOME inside it. Each case must end within a bounded
 * time with one clear line and its documented exit code, and a scan of the whole root before and after proves what
 * it wrote and removed: nothing outside its target, nothing already on disk lost.
 */
import { execa } from 'execa';
import { link, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generatedBytes } from '../../src/demo/local-hub-content.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { diffSnapshots, NO_CHANGE, takeSnapshot } from '../helpers/fs-snapshot.js';

/** Every hostile case must be over well within this; a hang is killed here and fails the test. */
const BOUND_MS = 20_000;

let root: string;
let home: string;
let work: string;
let env: NodeJS.ProcessEnv;
const cat0 = generatedBytes(1, 0, 70_001);
const cat1 = generatedBytes(2, 0, 30_002);

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'llamactl-hostile-'));
  home = join(root, 'home');
  work = join(root, 'work');
  await mkdir(join(work, 'j'), { recursive: true });
  await mkdir(join(home, 'run'), { recursive: true, mode: 0o700 });
  await writeFile(join(work, 'j', 'M.Q2_K.cat0.llamafile'), cat0);
  await writeFile(join(work, 'j', 'M.Q2_K.cat1.llamafile'), cat1);
  // Nothing may reach a network: a hub URL nobody listens on.
  env = { LLAMACTL_HOME: home, HF_ENDPOINT: 'http://127.0.0.1:9', HF_TOKEN: '', NO_COLOR: '1' };
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const mkfifo = (path: string) => execa('mkfifo', [path]);
const cli = (args: string[]) => runCli(args, { env, cwd: work, timeout: BOUND_MS });
const scan = () => takeSnapshot(root);

/** The command ended by itself (not killed at the bound) with `code` and exactly one line on stderr. */
function expectOneLine(result: CliResult, code: number, message: RegExp): void {
  expect(result.signal, `killed: ${result.stderr}`).toBeUndefined();
  expect(result.exitCode, result.stderr).toBe(code);
  expect(result.stderr.trim().split('\n'), result.stderr).toHaveLength(1);
  expect(result.stderr).toMatch(message);
}

async function unchangedBy(args: string[], code: number, message: RegExp): Promise<void> {
  const before = await scan();
  expectOneLine(await cli(args), code, message);
  expect(diffSnapshots(before, await scan())).toEqual(NO_CHANGE);
}

describe('join (defects 6 and 13)', () => {
  const shards = ['j/M.Q2_K.cat0.llamafile', 'j/M.Q2_K.cat1.llamafile'];

  it('refuses an output that is a shard through a symlinked folder, even with --force (exit 2)', async () => {
    await symlink('j', join(work, 'jl'));
    await unchangedBy(['join', 'jl/M.Q2_K.cat0.llamafile', ...shards, '--force'], 2, /jl\/M\.Q2_K\.cat0\.llamafile is the shard j\/M\.Q2_K\.cat0\.llamafile \(the same file by another path\)/);
    expect((await readFile(join(work, 'j', 'M.Q2_K.cat0.llamafile'))).equals(cat0)).toBe(true);
  });

  it('refuses an output that is a hard link of a shard, or a symlink to one (exit 2)', async () => {
    await link(join(work, 'j', 'M.Q2_K.cat1.llamafile'), join(work, 'hard.llamafile'));
    await symlink('j/M.Q2_K.cat0.llamafile', join(work, 'soft.llamafile'));
    await unchangedBy(['join', 'hard.llamafile', ...shards, '--force'], 2, /hard\.llamafile is the shard j\/M\.Q2_K\.cat1\.llamafile/);
    await unchangedBy(['join', 'soft.llamafile', ...shards, '--force'], 2, /soft\.llamafile is the shard j\/M\.Q2_K\.cat0\.llamafile/);
  });

  it('writes through no link left at its .part: the shard it points to is untouched', async () => {
    await symlink('j/M.Q2_K.cat0.llamafile', join(work, 'out.llamafile.part'));
    await link(join(work, 'j', 'M.Q2_K.cat1.llamafile'), join(work, 'out2.llamafile.part'));
    const before = await scan();
    expect((await cli(['join', 'out.llamafile', ...shards, '--quiet'])).exitCode).toBe(0);
    expect((await cli(['join', 'out2.llamafile', ...shards, '--quiet'])).exitCode).toBe(0);
    const diff = diffSnapshots(before, await scan());
    expect(diff).toEqual({ added: ['work/out.llamafile', 'work/out2.llamafile'], removed: ['work/out.llamafile.part', 'work/out2.llamafile.part'], changed: [] });
    expect((await readFile(join(work, 'out.llamafile'))).equals(Buffer.concat([cat0, cat1]))).toBe(true);
  });

  it.each([
    ['a FIFO', async (path: string) => void (await mkfifo(path)), /is a FIFO \(named pipe\), not a regular file: join reads its shards from regular files only/],
    ['a directory', (path: string) => mkdir(path), /is a directory, not a regular file/],
  ])('says a shard that is %s is refused, and why, without opening it for a read (exit 2)', async (_kind, make, message) => {
    await make(join(work, 'j', 'M.Q2_K.cat2.llamafile'));
    await unchangedBy(['join', '.', ...shards, 'j/M.Q2_K.cat2.llamafile'], 2, message);
  });

  it('says a device is a device (exit 2), and a missing shard is missing (exit 3)', async () => {
    await unchangedBy(['join', '.', 'j/M.Q2_K.cat0.llamafile', '/dev/null'], 2, /\/dev\/null is a character device, not a regular file/);
    await unchangedBy(['join', '.', 'j/M.Q2_K.cat0.llamafile', 'j/nope.cat1.llamafile'], 3, /No such file: j\/nope\.cat1\.llamafile/);
  });
});

describe('logs, ps, ls (defect 9: no read of a path llamactl did not create blocks)', () => {
  it('refuses a log that is a FIFO, a directory or a link to a device, with or without -f (exit 2)', async () => {
    await mkfifo(join(home, 'run', 'pipe.log'));
    await mkdir(join(home, 'run', 'dir.log'));
    await symlink('/dev/zero', join(home, 'run', 'zero.log'));
    await unchangedBy(['logs', 'pipe'], 2, /pipe\.log is a FIFO \(named pipe\), not a regular file/);
    await unchangedBy(['logs', 'pipe', '-f'], 2, /pipe\.log is a FIFO/);
    await unchangedBy(['logs', 'dir'], 2, /dir\.log is a directory/);
    await unchangedBy(['logs', 'zero'], 2, /zero\.log is a character device/);
  });

  it('ps skips records that are FIFOs, oversized, or not named after their file, and removes nothing outside run/', async () => {
    await mkfifo(join(home, 'run', 'pipe.json'));
    await writeFile(join(home, 'run', 'big.json'), ' '.repeat(2 * 1024 * 1024));
    await writeFile(join(work, 'victim.json'), 'keep me');
    // A dead pid makes ps remove the record: by the name inside it, were that trusted.
    const evil = { name: '../../work/victim', pid: 2 ** 22 + 1, startTime: '1', url: 'http://127.0.0.1:1', host: '127.0.0.1', port: 1, model: 'm', runtime: 'llamafile', healthPath: '/health', argv: [], logFile: '/etc/passwd', createdAt: '' };
    await writeFile(join(home, 'run', 'evil.json'), JSON.stringify(evil));
    const before = await scan();
    const result = await cli(['ps', '--json']);
    expect(result.signal).toBeUndefined();
    expect(result.exitCode, result.stderr).toBe(0);
    expect(diffSnapshots(before, await scan())).toEqual(NO_CHANGE);
    expect(await readFile(join(work, 'victim.json'), 'utf8')).toBe('keep me');
  });

  it('ls lists a partial download whose manifest is a FIFO and whose journal claims billions of chunks', async () => {
    const dir = join(home, 'models', 'acme', 'Evil');
    await mkdir(dir, { recursive: true });
    await mkfifo(join(dir, 'manifest.json'));
    await writeFile(join(dir, 'Big.Q2_K.llamafile.part'), 'x');
    const shards = [{ name: 'Big.Q2_K.llamafile', size: 10 ** 15, sha256: null }];
    await writeFile(join(dir, 'Big.Q2_K.llamafile.part.journal'), JSON.stringify({ version: 1, commit: 'c', chunkSize: 1, shards, done: [0], verified: [] }));
    await mkfifo(join(dir, 'Small.Q4_0.llamafile.part'));
    await mkfifo(join(dir, 'Other.Q4_0.llamafile.part'));
    await mkfifo(join(dir, 'Other.Q4_0.llamafile.part.journal'));
    const before = await scan();
    const result = await cli(['ls', '--json']);
    expect(result.signal).toBeUndefined();
    expect(result.exitCode, result.stderr).toBe(0);
    const listed = JSON.parse(result.stdout) as { name: string; partial: boolean; done: number | null }[];
    expect(listed.map((m) => [m.name, m.partial, m.done ?? null])).toEqual([['Big.Q2_K.llamafile', true, null]]);
    expect(diffSnapshots(before, await scan())).toEqual(NO_CHANGE);
  });
});

describe('rm (defect 10)', () => {
  it('deletes exactly the files a pull makes beside the model, never a user file that shares the prefix', async () => {
    const dir = join(home, 'models', 'acme', 'Small');
    await mkdir(dir, { recursive: true });
    const ours = ['M.Q4_0.llamafile.part', 'M.Q4_0.llamafile.part.journal', 'M.Q4_0.llamafile.part.journal.tmp-4242', 'M.Q4_0.llamafile.part.lock'];
    const theirs = ['M.Q4_0.llamafile.part.backup', 'M.Q4_0.llamafile.part.journal.tmp-mine', 'M.Q4_0.llamafile.partial', 'M.Q4_0.llamafile.part.lock.old'];
    for (const name of [...ours, ...theirs]) await writeFile(join(dir, name), name);
    await writeFile(join(dir, 'M.Q4_0.llamafile.part.lock'), String(2 ** 22 + 1)); // a dead pid: a stale lock
    await mkdir(join(dir, 'M.Q4_0.llamafile.part.journal.tmp-7'));
    const before = await scan();
    const result = await cli(['rm', 'acme/Small:Q4_0']);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(diffSnapshots(before, await scan())).toEqual({ added: [], removed: ours.map((name) => `home/models/acme/Small/${name}`).sort(), changed: [] });
  });

  it('ends at once for a model whose .part.lock is a FIFO: it names no live pull, and is removed unread', async () => {
    const dir = join(home, 'models', 'acme', 'Small');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'M.Q4_0.llamafile'), 'model');
    await mkfifo(join(dir, 'M.Q4_0.llamafile.part.lock'));
    const before = await scan();
    const result = await cli(['rm', 'acme/Small']);
    expect(result.signal).toBeUndefined();
    expect(result.exitCode, result.stderr).toBe(0);
    const gone = ['acme', 'acme/Small', 'acme/Small/M.Q4_0.llamafile', 'acme/Small/M.Q4_0.llamafile.part.lock'];
    expect(diffSnapshots(before, await scan())).toEqual({ added: [], removed: gone.map((p) => `home/models/${p}`), changed: [] });
  });
});
