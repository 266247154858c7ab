/**
 * The RAM check wired into pull (before the first byte of weights) and serve (before spawning), on the real
 * llamafile-format artifact, the local hub and the real engine. Machine memory is injected so "does not fit" can
 * be produced on any machine.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InsufficientMemoryError } from '../../src/errors.js';
import { LocalHub } from '../../src/demo/local-hub.js';
import { pull, type PullEvent } from '../../src/pull.js';
import { startServer } from '../../src/server/start-server.js';
import { testFixtures } from '../helpers/engine.js';

const TINY_MACHINE = { totalBytes: 1_000_000, availableBytes: 1_000_000 };
const BIG_MACHINE = { totalBytes: 64e9, availableBytes: 32e9 };

describe('fit check', () => {
  let hub: LocalHub;
  let work: string;
  let artifactSize: number;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'llamactl-fit-'));
    const bytes = await readFile(testFixtures().llamafilePath);
    artifactSize = bytes.length;
    const third = Math.ceil(bytes.length / 3);
    const files = Object.fromEntries(
      [0, 1, 2].map((i) => [`Tiny.F16.cat${i}.llamafile`, bytes.subarray(i * third, (i + 1) * third)]),
    );
    hub = await LocalHub.start({ repos: { 'test/tiny-llamafile': { files } } });
  });
  afterAll(async () => {
    await hub?.close();
    await rm(work, { recursive: true, force: true });
  });

  it('pull --require-fit refuses a model that cannot fit, after reading only its header', async () => {
    const dir = join(work, 'refused');
    const before = hub.cdnBytes;
    const events: PullEvent[] = [];
    const attempt = pull('test/tiny-llamafile', {
      endpoint: hub.endpoint,
      dir,
      fitCheck: 'require',
      memory: TINY_MACHINE,
      onProgress: (event) => events.push(event),
      env: { LLAMACTL_HOME: join(work, 'home') },
    });
    await expect(attempt).rejects.toBeInstanceOf(InsufficientMemoryError);
    expect(existsSync(join(dir, 'Tiny.F16.llamafile'))).toBe(false);
    expect(events.find((e) => e.type === 'fit')).toMatchObject({ type: 'fit', level: 'too-big' });
    // Only the zip directory and GGUF header were read, far less than the weights.
    expect(hub.cdnBytes - before).toBeLessThan(artifactSize / 4);
  });

  it('pull warns by default and still downloads', async () => {
    const events: PullEvent[] = [];
    const result = await pull('test/tiny-llamafile', {
      endpoint: hub.endpoint,
      dir: join(work, 'warned'),
      memory: TINY_MACHINE,
      onProgress: (event) => events.push(event),
      env: { LLAMACTL_HOME: join(work, 'home') },
    });
    expect(result.size).toBe(artifactSize);
    const fit = events.find((e) => e.type === 'fit');
    expect(fit).toMatchObject({ level: 'too-big' });
    expect(fit && 'requiredBytes' in fit && fit.requiredBytes).toBeGreaterThan(TINY_MACHINE.totalBytes);
  });

  it('pull reports ok on a machine with room', async () => {
    const events: PullEvent[] = [];
    await pull('test/tiny-llamafile', {
      endpoint: hub.endpoint,
      dir: join(work, 'roomy'),
      fitCheck: 'require',
      memory: BIG_MACHINE,
      onProgress: (event) => events.push(event),
      env: { LLAMACTL_HOME: join(work, 'home') },
    });
    expect(events.find((e) => e.type === 'fit')).toMatchObject({ level: 'ok' });
  });

  it('serve refuses before spawning when the model cannot fit, and starts with force', async () => {
    const { llamafilePath } = testFixtures();
    const env = { ...process.env, LLAMACTL_HOME: join(work, 'home') };
    const logs: string[] = [];
    await expect(
      startServer({ model: llamafilePath, ctxSize: 256, memory: TINY_MACHINE, env, onLog: (line) => logs.push(line) }),
    ).rejects.toBeInstanceOf(InsufficientMemoryError);
    expect(logs).toEqual([]); // nothing was spawned

    const fits: string[] = [];
    await using server = await startServer({
      model: llamafilePath,
      ctxSize: 256,
      threads: 1,
      memory: TINY_MACHINE,
      force: true,
      env,
      onFit: (fit) => fits.push(fit.level),
    });
    expect(fits).toEqual(['too-big']);
    expect((await server.client.health()).ok).toBe(true);
  });
});
