/**
 * A hub whose tree lists names and sizes built to hurt: 300-byte and 5 MB names, control and bidi characters,
 * impossible sizes, 100,000 models; and local paths that look like hub refs. Each case ends fast with one bounded,
 * escaped line and its documented exit code, and nothing is created in the store.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { dataRequests, startTestHub, type TestHub } from '../helpers/hub.js';

const MANY = 100_000;

describe('hostile names and sizes in the tree (CLI)', () => {
  let t: TestHub;
  let cwd: string;
  const cli = (args: string[], options: { cwd?: string } = {}) => runCli(args, { env: t.env, cwd: options.cwd ?? cwd });
  const storeHas = (repo: string) => existsSync(join(t.home, 'models', ...repo.split('/')));
  const oneLine = (stderr: string) => {
    const lines = stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    return lines[0]!;
  };

  beforeAll(async () => {
    t = await startTestHub({
      // One page for the 100,000-entry tree: this is about choosing, not paging.
      pageSize: MANY,
      repos: {
        'acme/long': { files: {}, extraTreeEntries: [{ path: `${'L'.repeat(300)}.Q4_0.llamafile`, size: 10 }] },
        'acme/long-local': { files: {}, extraTreeEntries: [{ path: `${'L'.repeat(235)}.llamafile`, size: 10 }] },
        'acme/flood': { files: {}, extraTreeEntries: [{ path: `${'F'.repeat(5_000_000)}.Q4_0.llamafile`, size: 10 }] },
        'acme/bidi': { files: {}, extraTreeEntries: [{ path: 'evil\u202efdp.Q4_0.llamafile', size: 10 }] },
        'acme/c1': { files: {}, extraTreeEntries: [{ path: 'csi\u009b2J.Q4_0.llamafile', size: 10 }] },
        'acme/negative': { files: { 'Neg.Q4_0.llamafile': { size: 1000, seed: 1 } }, treeSizes: { 'Neg.Q4_0.llamafile': -5 } },
        'acme/absurd': { files: { 'Big.Q4_0.llamafile': { size: 1000, seed: 2 } }, treeSizes: { 'Big.Q4_0.llamafile': 1e300 } },
        'acme/many': {
          files: {},
          extraTreeEntries: Array.from({ length: MANY }, (_, i) => ({ path: `M${String(i).padStart(6, '0')}.Q4_0.llamafile`, size: 10 })),
        },
        'acme/one': { files: { 'One.Q4_0.llamafile': { size: 1000, seed: 7 } } },
      },
    });
    cwd = await mkdtemp(join(tmpdir(), 'llamactl-hostile-cwd-'));
  });
  afterAll(async () => {
    await t?.close();
    await rm(cwd, { recursive: true, force: true });
  });

  it('refuses a 300-byte file name as unsafe (exit 2), not ENAMETOOLONG, before any folder is made', async () => {
    const result = await cli(['pull', 'acme/long', '--no-fit-check']);
    expect(result.exitCode).toBe(2);
    const line = oneLine(result.stderr);
    expect(line).toMatch(/^llamactl: Refusing unsafe file name "L{120}"…\(\d+ more chars\)\. It has a part longer than 255 bytes/);
    expect(line).not.toMatch(/unexpected|ENAMETOOLONG/);
    expect(storeHas('acme/long')).toBe(false);
  });

  it('refuses a name with no room left for its .part journal (over 230 bytes), before any folder is made', async () => {
    const result = await cli(['pull', 'acme/long-local', '--no-fit-check']);
    expect(result.exitCode).toBe(2);
    expect(oneLine(result.stderr)).toMatch(/unsafe file name .*245 bytes long/);
    expect(storeHas('acme/long-local')).toBe(false);
  });

  it('echoes a 5 MB file name clipped, in one short line', async () => {
    const result = await cli(['pull', 'acme/flood', '--no-fit-check']);
    expect(result.exitCode).toBe(2);
    expect(result.stderr.length).toBeLessThan(1000);
    expect(oneLine(result.stderr)).toMatch(/"F{120}"…\(4999895 more chars\)/);
  });

  it.each([
    ['a bidi override', 'acme/bidi', '\u202e', '"evil\\u202efdp.Q4_0.llamafile"'],
    ['a C1 control', 'acme/c1', '\u009b', '"csi\\u009b2J.Q4_0.llamafile"'],
  ])('refuses %s in a name (exit 2) and shows it escaped', async (_, repo, raw, shown) => {
    const result = await cli(['pull', repo, '--no-fit-check']);
    expect(result.exitCode).toBe(2);
    const line = oneLine(result.stderr);
    expect(line).toContain(`Refusing unsafe file name ${shown}.`);
    expect(line).not.toContain(raw);
    expect(storeHas(repo)).toBe(false);
  });

  it.each([
    ['a negative size', 'acme/negative', '"Neg.Q4_0.llamafile" an impossible size (-5)'],
    ['an absurd size', 'acme/absurd', '"Big.Q4_0.llamafile" an impossible size (1e+300)'],
  ])('names the entry with %s as the hub\'s fault (exit 7), not "holds no .llamafile"', async (_, repo, says) => {
    const result = await cli(['pull', repo, '--no-fit-check']);
    expect(result.exitCode).toBe(7);
    const line = oneLine(result.stderr);
    expect(line).toContain(says);
    expect(line).not.toMatch(/holds no/);
    expect(dataRequests(t.hub)).toHaveLength(0);
  });

  it('chooses among 100,000 models at once: 20 choices and "and N more" on stderr, all of them in --json', async () => {
    const started = Date.now();
    const result = await cli(['pull', 'acme/many', '--no-fit-check']);
    const elapsed = Date.now() - started;
    expect(result.exitCode).toBe(2);
    const line = oneLine(result.stderr);
    expect(line.length).toBeLessThan(2500);
    expect(line).toMatch(/^llamactl: acme\/many holds 100000 models; say which one\. Choose one of: acme\/many --file M000000\.Q4_0\.llamafile, /);
    expect(line).toMatch(/M000019\.Q4_0\.llamafile, and 99980 more\. Run again with --json to list all 100000\.$/);
    // Quadratic took 410 s here; the bound is only to fail loudly long before that (timing targets live in benches).
    expect(elapsed).toBeLessThan(60_000);

    const json = await cli(['pull', 'acme/many', '--no-fit-check', '--json']);
    expect(json.exitCode).toBe(2);
    const error = JSON.parse(json.stdout.trim().split('\n').at(-1)!) as { type: string; code: string; choices: string[] };
    expect(error).toMatchObject({ type: 'error', code: 'E_USAGE' });
    expect(error.choices).toHaveLength(MANY);
    expect(error.choices[MANY - 1]).toBe('acme/many --file M099999.Q4_0.llamafile');
  });

  it('never sends a local folder, FIFO or file that looks like owner/repo to the hub (inspect and pull say what it is)', async () => {
    await mkdir(join(cwd, 'files', 'dir.llamafile'), { recursive: true });
    await mkdir(join(cwd, 'pipes'));
    expect(spawnSync('mkfifo', [join(cwd, 'pipes', 'fifo.gguf')]).status).toBe(0);
    const asked = () => t.hub.requests.filter((r) => r.path.includes('files/dir.llamafile') || r.path.includes('pipes/fifo')).length;

    const dir = await cli(['inspect', 'files/dir.llamafile']);
    expect(dir.exitCode).toBe(2);
    expect(oneLine(dir.stderr)).toMatch(/^llamactl: files\/dir\.llamafile is a directory, not a model file\./);
    const fifo = await cli(['inspect', 'pipes/fifo.gguf']);
    expect(fifo.exitCode).toBe(2);
    expect(oneLine(fifo.stderr)).toMatch(/pipes\/fifo\.gguf is a FIFO \(named pipe\), not a model file/);
    const pulled = await cli(['pull', 'files/dir.llamafile']);
    expect(pulled.exitCode).toBe(2);
    expect(oneLine(pulled.stderr)).toMatch(/^llamactl: files\/dir\.llamafile is a directory here, not a hub ref\./);
    expect(asked()).toBe(0);
  });

  it('still pulls owner/repo from inside the store, where that path is the repo\'s own folder', async () => {
    const models = join(t.home, 'models');
    await mkdir(join(models, 'acme', 'one'), { recursive: true });
    const result = await cli(['pull', 'acme/one', '--no-fit-check', '--quiet'], { cwd: models });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(await readdir(join(models, 'acme', 'one'))).toContain('One.Q4_0.llamafile');
  });
});
