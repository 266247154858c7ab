import { execa } from 'execa';
import { chmod, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readJournal } from '../../src/store/pull-journal.js';
import type { Fault } from '../helpers/fault-hub.js';
import { CLI, runCli } from '../helpers/cli.js';
import { dataRequests, expectedQ2K, fileSha256, fixtureRepo, REPO, startTestHub, type TestHub } from '../helpers/hub.js';

/** `llamactl pull` as a user runs it: a child process against the local two-origin hub. */
describe('llamactl pull (CLI)', () => {
  let t: TestHub;
  const q2k = expectedQ2K();
  const storePath = () => join(t.home, 'models', 'Mozilla', 'Test-Model-llamafile');
  const cli = (args: string[], env: NodeJS.ProcessEnv = {}) => runCli(args, { env: { ...t.env, ...env } });

  beforeEach(async () => {
    t = await startTestHub({
      repos: {
        [REPO]: fixtureRepo(),
        'acme/private': { files: { 'Secret.Q4_0.llamafile': { size: 300_000, seed: 5 } }, token: 'hf_right' },
        'acme/huge': { files: { 'Huge.Q2_K.llamafile': { size: 10 ** 15, sha256: 'b'.repeat(64) } } },
        'acme/twins': { files: { 'A.Q4_0.llamafile': { size: 1000, seed: 4 }, 'A.Q4_0.gguf': { size: 900, seed: 5 } } },
        'acme/gap': { files: { 'Gap.Q2_K.cat0.llamafile': { size: 1000, seed: 1 }, 'Gap.Q2_K.cat2.llamafile': { size: 1000, seed: 2 } } },
        'acme/evil': { files: {}, extraTreeEntries: [{ path: '../evil.Q4_0.llamafile', size: 10 }] },
        'acme/liar': { files: { 'Liar.Q4_0.llamafile': { size: 1000, seed: 3 } }, treeSizes: { 'Liar.Q4_0.llamafile': 1001 } },
      },
    });
  });
  afterEach(async () => {
    await t.close();
  });

  it('pulls a multi-shard set into the store; ls shows it; a re-pull is a no-op; rm removes it', async () => {
    const pulled = await cli(['pull', `${REPO}:Q2_K`, '--json']);
    expect(pulled.stderr).toBe('');
    expect(pulled.exitCode).toBe(0);
    const lines = pulled.stdout.trim().split('\n').map((line) => JSON.parse(line) as { type: string; path?: string });
    expect(lines[0]?.type).toBe('resolved');
    const result = lines.at(-1)!;
    expect(result).toMatchObject({ type: 'result', path: join(storePath(), 'Test.Q2_K.llamafile'), size: 6_000_025 });
    expect(await fileSha256(result.path!)).toBe(q2k.sha256);
    expect((await stat(result.path!)).mode & 0o777).toBe(0o755);
    expect((await readdir(storePath())).sort()).toEqual(['Test.Q2_K.llamafile', 'manifest.json']);

    const ls = await cli(['ls']);
    expect(ls.exitCode).toBe(0);
    expect(ls.stdout).toMatch(/Test\.Q2_K\.llamafile\s+6\.00 MB\s+Mozilla\/Test-Model-llamafile@/);
    const listed = JSON.parse((await cli(['ls', '--json'])).stdout) as { name: string; shards: unknown[] }[];
    expect(listed).toHaveLength(1);
    expect(listed[0]!.shards).toHaveLength(3);

    const before = dataRequests(t.hub).length;
    const again = await cli(['pull', `${REPO}:q2_k`]);
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toContain('already complete and verified');
    expect(dataRequests(t.hub).length).toBe(before);

    const removed = await cli(['rm', `${REPO}:Q2_K`]);
    expect(removed.exitCode).toBe(0);
    expect(removed.stdout).toContain('Removed');
    expect((await cli(['ls'])).stdout).toContain('No models');
    const missing = await cli(['rm', `${REPO}:Q2_K`]);
    expect(missing.exitCode).toBe(3);
  });

  it('offers --file choices when two models share a quant, and rm of that quant exits 2 as pull does', async () => {
    const pulled = await cli(['pull', 'acme/twins:Q4_0']);
    expect(pulled.exitCode).toBe(2);
    expect(pulled.stderr).toMatch(/Choose one of: acme\/twins --file A\.Q4_0\.gguf, acme\/twins --file A\.Q4_0\.llamafile\.$/);
    for (const file of ['A.Q4_0.gguf', 'A.Q4_0.llamafile']) expect((await cli(['pull', 'acme/twins', '--file', file, '--no-fit-check', '--quiet'])).exitCode).toBe(0);
    const removed = await cli(['rm', 'acme/twins:q4_0']);
    expect(removed.exitCode).toBe(2);
    expect(removed.stderr).toMatch(/acme\/twins:q4_0 holds 2 models; say which one\. Use one of: A\.Q4_0\.gguf, A\.Q4_0\.llamafile\.$/);
    expect((await cli(['rm', 'A.Q4_0.gguf'])).exitCode).toBe(0);
  });

  it('prints progress lines to stderr when not on a TTY, and the path on stdout', async () => {
    const result = await cli(['pull', `${REPO}:Q4_0`, '--dir', join(t.home, 'here')]);
    expect(result.exitCode).toBe(0);
    expect(result.stdout.trim()).toMatch(new RegExp(`^${join(t.home, 'here', 'Test.Q4_0.llamafile')} \\(2\\.00 MB in .*sha256 verified\\)$`));
    expect(result.stderr).toContain('Test.Q4_0.llamafile.cat1 verified');
  });

  it('sends the token to the hub and never to the CDN', async () => {
    const result = await cli(['pull', 'acme/private', '--quiet'], { HF_TOKEN: 'hf_right' });
    expect(result.exitCode).toBe(0);
    const hub = t.hub.requests.filter((r) => r.origin === 'hub');
    const cdn = t.hub.requests.filter((r) => r.origin === 'cdn');
    expect(hub.length).toBeGreaterThan(0);
    expect(cdn.length).toBeGreaterThan(0);
    expect(hub.every((r) => r.headers.authorization === 'Bearer hf_right')).toBe(true);
    expect(cdn.some((r) => 'authorization' in r.headers)).toBe(false);
  });

  it('tells the user to set HF_TOKEN on 401 (exit 4)', async () => {
    const result = await cli(['pull', 'acme/private']);
    expect(result.exitCode).toBe(4);
    expect(result.stderr).toMatch(/^llamactl: The hub refused access to acme\/private.*HF_TOKEN/);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  });

  it.each([
    [['pull', 'not a ref'], 2, /Malformed model reference/],
    [['pull', `${REPO}:Q8_0`], 3, /has no quant Q8_0\. Choose one of: .*:Q2_K.*:Q4_0/],
    [['pull', REPO], 2, /holds 3 models; say which one/],
    [['pull', 'acme/nothere'], 3, /Repository acme\/nothere not found/],
    [['pull', `${REPO}:Q2_K`, '--revision', 'v9'], 3, /Revision v9 not found/],
    [['pull', REPO, '--file', '../x.llamafile'], 2, /unsafe file name/],
    [['pull', `${REPO}:Q2_K`, '--connections', 'many'], 2, /--connections must be a positive number/],
    [['pull', REPO, '--endpoint', 'file:///etc'], 2, /Malformed hub URL "file:\/\/\/etc": it must start with http:\/\/ or https:\/\//],
  ])('%j exits %i with one clear line', async (args, code, message) => {
    const result = await cli(args);
    expect(result.exitCode).toBe(code);
    expect(result.stderr).toMatch(message);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(dataRequests(t.hub)).toHaveLength(0);
  });

  const faults: [string, Fault[], string[]][] = [
    ['connection reset', [{ kind: 'reset', times: 2 }], []],
    ['503', [{ kind: 'status', status: 503, times: 2 }], []],
    ['429 + Retry-After', [{ kind: 'status', status: 429, retryAfter: 1 }], []],
    ['truncated body', [{ kind: 'truncate', times: 2 }], []],
    ['corrupted byte (once)', [{ kind: 'corrupt', afterBytes: 99 }], []],
    ['no Range support', [{ kind: 'no-range', times: Infinity }], []],
    ['stall', [{ kind: 'stall', afterBytes: 10 }], ['--stall-timeout', '0.5']],
  ];
  it.each(faults)('recovers from a %s with a bit-identical file', async (what, injected, flags) => {
    t.hub.setFaults(injected);
    const out = join(t.home, 'out');
    // --no-fit-check: the faults are for the downloader, not for the header read of the RAM check.
    const result = await cli(['pull', `${REPO}:Q2_K`, '--dir', out, '--no-fit-check', ...flags]);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(await fileSha256(join(out, 'Test.Q2_K.llamafile'))).toBe(q2k.sha256);
    // Messages and what follows them are joined with one stop: never "server.; retrying".
    expect(result.stderr).not.toMatch(/[.;:,][.;]/);
    expect(result.stderr).toMatch(what === 'corrupted byte (once)' ? /sha256 mismatch.*downloading it again/ : what === 'no Range support' ? /verified/ : /retrying/);
  });

  it('fails with exit 5 and no final file when a shard stays corrupt', async () => {
    t.hub.setFaults([{ kind: 'corrupt', file: 'cat1', times: Infinity }]);
    const out = join(t.home, 'out');
    const result = await cli(['pull', `${REPO}:Q2_K`, '--dir', out, '--quiet']);
    expect(result.exitCode).toBe(5);
    expect(result.stderr).toMatch(/^llamactl: Test\.Q2_K\.cat1\.llamafile failed its sha256 check twice: .*\. No final file was written; the partial file keeps the other shards\. The copy on the server may be corrupt: run the same command later to fetch only this shard again/m);
    expect((await readdir(out)).sort()).toEqual(['Test.Q2_K.llamafile.part', 'Test.Q2_K.llamafile.part.journal']);
    // As it says: the next run fetches only the corrupt shard.
    t.hub.setFaults([]);
    const before = t.hub.cdnBytes;
    const again = await cli(['pull', `${REPO}:Q2_K`, '--dir', out, '--quiet', '--no-fit-check']);
    expect(again.exitCode, again.stderr).toBe(0);
    expect(t.hub.cdnBytes - before).toBe(2_000_005);
    expect(await fileSha256(join(out, 'Test.Q2_K.llamafile'))).toBe(q2k.sha256);
  });

  it('fails with exit 5 on an HTML page instead of bytes', async () => {
    t.hub.setFaults([{ kind: 'html', times: Infinity }]);
    const result = await cli(['pull', `${REPO}:Q4_0`, '--quiet']);
    expect(result.exitCode).toBe(5);
    expect(result.stderr).toMatch(/web page instead of the bytes/);
  });

  it.each([
    ['a shard set with a missing index', 'acme/gap', 5, /^llamactl: acme\/gap: The shard set Gap\.Q2_K\.llamafile is incomplete: cat1 is missing\./],
    ['an unsafe file name from the tree API', 'acme/evil', 2, /^llamactl: Refusing unsafe file name "\.\.\/evil\.Q4_0\.llamafile"\./],
    ['a size that disagrees with the hub', 'acme/liar', 5, /^llamactl: The size of Liar\.Q4_0\.llamafile disagrees/],
  ])('refuses %s with the exit code of the README table', async (_, repo, code, message) => {
    const result = await cli(['pull', repo, '--no-fit-check', '--quiet', '--dir', join(t.home, 'out')]);
    expect(result.exitCode).toBe(code);
    expect(result.stderr).toMatch(message);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(dataRequests(t.hub)).toHaveLength(0);
  });

  it('refuses before the first byte when the disk is too small (exit 6)', async () => {
    const result = await cli(['pull', 'acme/huge']);
    expect(result.exitCode).toBe(6);
    expect(result.stderr).toMatch(/^llamactl: Not enough disk space .*1000\.0 TB still to write/m);
    expect(dataRequests(t.hub)).toHaveLength(0);
  });

  it('refuses a folder it cannot write (exit 2), writing nothing', async () => {
    const dir = join(t.home, 'ro');
    await mkdir(dir);
    await chmod(dir, 0o555);
    // root writes anywhere; a path under a regular file fails for everyone.
    const target = process.getuid?.() === 0 ? join(t.home, 'models-file', 'sub') : dir;
    if (process.getuid?.() === 0) await writeFile(join(t.home, 'models-file'), '');
    const result = await cli(['pull', `${REPO}:Q4_0`, '--dir', target]);
    await chmod(dir, 0o755);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/^llamactl: Cannot write to .* \((EACCES|ENOTDIR|EEXIST)\)\. Choose a writable folder/);
    expect(await readdir(dir)).toEqual([]);
    expect(dataRequests(t.hub)).toHaveLength(0);
  });

  it('resumes after kill -9, re-fetching only what the journal did not record', async () => {
    t.hub.setRateLimit(1_500_000);
    const out = join(t.home, 'out');
    const part = join(out, 'Test.Q2_K.llamafile.part');
    const child = execa(process.execPath, [CLI, 'pull', `${REPO}:Q2_K`, '--dir', out, '--connections', '2', '--quiet'], { env: t.env, reject: false });
    for (let i = 0; i < 200; i++) {
      const journal = await readJournal(`${part}.journal`);
      if (journal && journal.done.length >= 2) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill('SIGKILL');
    await child;
    const journal = await readJournal(`${part}.journal`);
    expect(journal?.done.length).toBeGreaterThanOrEqual(2);
    // (a journal temp file may be left too, when the kill landed mid-write; the dead pull's lock is taken over)
    expect((await readdir(out)).filter((name) => !name.includes('.tmp-')).sort()).toEqual(['Test.Q2_K.llamafile.part', 'Test.Q2_K.llamafile.part.journal', 'Test.Q2_K.llamafile.part.lock']);
    const chunk = journal!.chunkSize;
    const sizes = [3_000_017, 2_000_005, 1_000_003];
    const doneBytes = journal!.done.reduce((sum, id) => {
      let rest = id;
      for (const size of sizes) {
        const count = Math.ceil(size / chunk);
        if (rest < count) return sum + Math.min(chunk, size - rest * chunk);
        rest -= count;
      }
      return sum;
    }, 0);

    t.hub.setRateLimit(undefined);
    const before = t.hub.cdnBytes;
    const resumed = await cli(['pull', `${REPO}:Q2_K`, '--dir', out, '--connections', '8', '--no-fit-check']);
    expect(resumed.exitCode, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/resuming, .* already on disk/);
    expect(await fileSha256(join(out, 'Test.Q2_K.llamafile'))).toBe(q2k.sha256);
    expect(t.hub.cdnBytes - before).toBe(6_000_025 - doneBytes);
    expect(await readdir(out)).toEqual(['Test.Q2_K.llamafile']);
  });

  it('lists an interrupted pull in the store as partial, and rm removes its .part and journal', async () => {
    t.hub.setRateLimit(1_000_000);
    const journal = join(storePath(), 'Test.Q2_K.llamafile.part.journal');
    const child = execa(process.execPath, [CLI, 'pull', `${REPO}:Q2_K`, '--connections', '2', '--quiet'], { env: t.env, reject: false });
    for (let i = 0; i < 200 && !((await readJournal(journal))?.done.length); i++) await new Promise((r) => setTimeout(r, 50));
    child.kill('SIGKILL');
    await child;
    const done = (await readJournal(journal))!.done.length * (await readJournal(journal))!.chunkSize;
    const listed = JSON.parse((await cli(['ls', '--json'])).stdout) as { name: string; partial: boolean; size: number; done: number }[];
    expect(listed).toMatchObject([{ name: 'Test.Q2_K.llamafile', partial: true, size: 6_000_025 }]);
    expect(listed[0]!.done).toBeGreaterThan(0);
    expect(listed[0]!.done).toBeLessThanOrEqual(done);
    expect((await cli(['ls'])).stdout).toMatch(/Test\.Q2_K\.llamafile \(partial\)\s+\S+ [kM]B of 6\.00 MB\s+Mozilla\/Test-Model-llamafile/);
    const removed = await cli(['rm', `${REPO}:Q2_K`]);
    expect(removed.exitCode, removed.stderr).toBe(0);
    expect(removed.stdout).toContain('Removed the partial download of');
    expect(await readdir(join(t.home, 'models'))).toEqual([]);
  });

  it('stops on Ctrl-C keeping the partial file and journal, and says how to resume (exit 130)', async () => {
    t.hub.setRateLimit(300_000);
    const out = join(t.home, 'out');
    const child = execa(process.execPath, [CLI, 'pull', `${REPO}:Q2_K`, '--dir', out, '--connections', '2'], { env: t.env, reject: false });
    for (let i = 0; i < 200 && !(await readJournal(join(out, 'Test.Q2_K.llamafile.part.journal'))); i++) await new Promise((r) => setTimeout(r, 50));
    child.kill('SIGINT');
    const result = await child;
    expect(result.exitCode).toBe(130);
    expect(String(result.stderr)).toMatch(/interrupted.*run the same command again to resume/);
    expect((await readdir(out)).sort()).toEqual(['Test.Q2_K.llamafile.part', 'Test.Q2_K.llamafile.part.journal']);
    expect((await readFile(join(out, 'Test.Q2_K.llamafile.part'))).length).toBe(6_000_025);
  });
});
