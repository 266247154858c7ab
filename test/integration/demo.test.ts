import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

describe('llamactl demo', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
  });

  it('pulls the split llamafile, serves it, streams tokens and stops, leaving nothing behind', async () => {
    const home = await mkdtemp(join(tmpdir(), 'llamactl-demo-home-'));
    dirs.push(home);
    const result = await runCli(['demo', '--json', '--max-tokens', '8'], { env: { LLAMACTL_HOME: home } });
    expect(result.exitCode, result.stderr).toBe(0);
    const events = result.stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    const final = events.at(-1) as {
      type: string;
      sha256: string;
      shards: { name: string; sha256: string }[];
      url: string;
      prediction: { output: string; metrics: { output_token_count: number } };
    };
    expect(final.type).toBe('result');
    expect(final.shards.map((s) => s.name)).toEqual([
      'TinyLlama-Demo.F16.cat0.llamafile',
      'TinyLlama-Demo.F16.cat1.llamafile',
      'TinyLlama-Demo.F16.cat2.llamafile',
    ]);
    expect(final.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(final.prediction.metrics.output_token_count).toBeGreaterThan(0);
    expect(events.filter((e) => e.type === 'demo-token').length).toBeGreaterThan(0);

    // The server is gone and its port refuses connections; the user's store was not touched.
    const { hostname, port } = new URL(final.url);
    const outcome = await new Promise<string>((resolve) => {
      const socket = connect(Number(port), hostname);
      socket.once('connect', () => (socket.destroy(), resolve('connected')));
      socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
    });
    expect(outcome).toBe('ECONNREFUSED');
    expect(await readdir(home).catch(() => [])).toEqual([]);
  });

  it('refuses a bad --max-tokens before doing any work', async () => {
    const home = await mkdtemp(join(tmpdir(), 'llamactl-demo-home-'));
    dirs.push(home);
    const result = await runCli(['demo', '--max-tokens', 'lots'], { env: { LLAMACTL_HOME: home } });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('--max-tokens takes an integer');
    expect(result.stdout).not.toContain('▸');
  });
});
