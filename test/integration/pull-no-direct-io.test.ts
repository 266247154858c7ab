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

/** A ramfs mounted on a fresh temp folder, or why there is none (not root, or mount refused, as in a container). */
async function mountRamfs(): Promise<{ dir: string } | { skip: string }> {
  if (process.getuid?.() !== 0) return { skip: 'needs root to mount a ramfs' };
  const dir = await mkdtemp(join(tmpdir(), 'llamactl-ramfs-'));
  try {
    await execa('mount', ['-t', 'ramfs', 'ramfs', dir]);
    return { dir };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    return { skip: `mount -t ramfs failed: ${((error as { stderr?: string }).stderr || (error as Error).message).trim()}` };
  }
}

const mounted = await mountRamfs();
const skip = 'skip' in mounted ? mounted.skip : undefined;

describe.skipIf(skip !== undefined)(`pull onto a filesystem without O_DIRECT${skip ? ` (skipped: ${skip})` : ''}`, () => {
  const mountPoint = 'dir' in mounted ? mounted.dir : '';
  let t: TestHub;

  beforeAll(async () => {
    t = await startTestHub({ repos: { [REPO]: fixtureRepo() } });
  });
  afterAll(async () => {
    await t?.close();
    if (!mountPoint) return;
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
