/**
 * The filesystem-scan harness of hostile-local.test.ts for hostile hubs: a FaultHub whose tree lies, a pull run
 * through the real CLI in a temp root (with $LLAMACTL_HOME and a `--dir` target inside it), and a scan of the root
 * before and after proving nothing is written outside the target and nothing already on disk is lost. A new hostile
 * hub case is one more `repos` entry and one more `it`.
 */
import { execa } from 'execa';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runCli, type CliResult } from '../helpers/cli.js';
import { FaultHub } from '../helpers/fault-hub.js';
import { diffSnapshots, NO_CHANGE, takeSnapshot, type SnapshotDiff } from '../helpers/fs-snapshot.js';

const BOUND_MS = 30_000;

describe('pull from a hostile hub, scanned', () => {
  let hub: FaultHub;
  let root: string;
  let home: string;
  let work: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'llamactl-hostile-hub-'));
    hub = await FaultHub.start({
      repos: {
        'acme/ok': { files: { 'Ok.Q4_0.llamafile': { size: 5000, seed: 7 } } },
        'acme/dotdot': { files: {}, extraTreeEntries: [{ path: '../evil.Q4_0.llamafile', size: 10 }] },
        'acme/deep': { files: {}, extraTreeEntries: [{ path: 'sub/../../../evil.Q4_0.llamafile', size: 10 }] },
        'acme/absolute': { files: {}, extraTreeEntries: [{ path: `${root}/work/evil.Q4_0.llamafile`, size: 10 }] },
      },
    });
  });
  afterAll(async () => {
    await hub?.close();
    await rm(root, { recursive: true, force: true });
  });
  beforeEach(async () => {
    await rm(join(root, 'home'), { recursive: true, force: true });
    await rm(join(root, 'work'), { recursive: true, force: true });
    home = join(root, 'home');
    work = join(root, 'work');
    await mkdir(join(work, 'dl'), { recursive: true });
    await mkdir(home);
    await writeFile(join(work, 'keep.txt'), 'a file of the user');
    env = { LLAMACTL_HOME: home, HF_ENDPOINT: hub.endpoint, HF_TOKEN: '', NO_COLOR: '1' };
  });

  const cli = (args: string[]) => runCli(args, { env, cwd: work, timeout: BOUND_MS });
  const scan = () => takeSnapshot(root);

  /** Runs the CLI between two scans: its result, and what it changed anywhere under the root. */
  async function scanned(args: string[]): Promise<{ result: CliResult; diff: SnapshotDiff }> {
    const before = await scan();
    const result = await cli(args);
    expect(result.signal, `killed: ${result.stderr}`).toBeUndefined();
    return { result, diff: diffSnapshots(before, await scan()) };
  }

  function expectOneLine(result: CliResult, code: number, message: RegExp): void {
    expect(result.exitCode, result.stderr).toBe(code);
    expect(result.stderr.trim().split('\n'), result.stderr).toHaveLength(1);
    expect(result.stderr).toMatch(message);
  }

  it.each([['acme/dotdot'], ['acme/deep'], ['acme/absolute']])('%s: an unsafe name in the tree is refused (exit 2), nothing written anywhere', async (repo) => {
    for (const args of [['pull', repo], ['pull', repo, '--dir', 'dl']]) {
      const { result, diff } = await scanned(args);
      expectOneLine(result, 2, /unsafe/i);
      expect(diff).toEqual(NO_CHANGE);
    }
  });

  it('a good pull with --dir writes exactly its file there, and its record in the home', async () => {
    const { result, diff } = await scanned(['pull', 'acme/ok', '--dir', 'dl', '--quiet']);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(diff).toEqual({ added: ['home/elsewhere.json', 'work/dl/Ok.Q4_0.llamafile'], removed: [], changed: [] });
    expect(await readFile(join(work, 'keep.txt'), 'utf8')).toBe('a file of the user');
  });

  it('a .part.lock that is a FIFO in the --dir target is named, never read (exit 2, nothing changed)', async () => {
    await execa('mkfifo', [join(work, 'dl', 'Ok.Q4_0.llamafile.part.lock')]);
    const { result, diff } = await scanned(['pull', 'acme/ok', '--dir', 'dl']);
    expectOneLine(result, 2, /Ok\.Q4_0\.llamafile\.part\.lock is a FIFO \(named pipe\), not a regular file/);
    expect(diff).toEqual(NO_CHANGE);
  });
});
