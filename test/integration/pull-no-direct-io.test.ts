/**
 * A pull onto a filesystem that refuses O_DIRECT (ramfs, as some FUSE filesystems do): every write and the hasher's
 * reads fall back to the page cache, and the file is the same. ramfs also reports no size (0 blocks), which the disk
 * check must take as unknown, not as full. Needs root to mount the ramfs (in a temp folder, unmounted afterwards);
 * skipped otherwise.
 */
import { execa } from 'execa';
import { closeSync, constants, openSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { expectedQ2K, fileSha256, fixtureRepo, REPO, startTestHub, type TestHub } from '../helpers/hub.js';

const root = process.getuid?.() === 0;

describe.runIf(root)('pull onto a filesystem without O_DIRECT', () => {
  let mountPoint: string;
  let t: TestHub;

  beforeAll(async () => {
    mountPoint = await mkdtemp(join(tmpdir(), 'llamactl-ramfs-'));
    await execa('mount', ['-t', 'ramfs', 'ramfs', mountPoint]);
    t = await startTestHub({ repos: { [REPO]: fixtureRepo() } });
  });
  afterAll(async () => {
    await t?.close();
    await execa('umount', [mountPoint]).catch(() => {});
    await rm(mountPoint, { recursive: true, force: true });
  });

  it('pulls a multi-shard set there, verified, with nothing left over', async () => {
    // The premise: this filesystem refuses O_DIRECT.
    const probe = join(mountPoint, 'probe');
    closeSync(openSync(probe, 'w'));
    expect(() => openSync(probe, constants.O_RDONLY | constants.O_DIRECT)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    await rm(probe);

    const pulled = await runCli(['pull', `${REPO}:Q2_K`, '--dir', mountPoint, '--quiet'], { env: t.env });
    expect(pulled.exitCode, pulled.stderr).toBe(0);
    expect(await fileSha256(join(mountPoint, 'Test.Q2_K.llamafile'))).toBe(expectedQ2K().sha256);
    expect(await readdir(mountPoint)).toEqual(['Test.Q2_K.llamafile']);
  });
});
