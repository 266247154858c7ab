/** `llamactl run` as a child process, against the real engine and the tiny model. */
import { execa } from 'execa';
import { copyFile, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { predict, type Prediction } from '../../src/client/predict.js';
import { startServer, type RunningServer } from '../../src/server/start-server.js';
import { CLI, runCli } from '../helpers/cli.js';
import { testFixtures } from '../helpers/engine.js';

let home: string;
let server: RunningServer;
let env: NodeJS.ProcessEnv;
const SERVER_NAME = 'tiny-run';
const INPUT = { prompt: 'Once upon a time', max_tokens: 8, temperature: 0.8, seed: 11 };
const FLAGS = ['-p', INPUT.prompt, '--max-tokens', '8', '--temperature', '0.8', '--seed', '11'];

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'llamactl-run-'));
  env = { ...process.env, LLAMACTL_HOME: home };
  const { serverPath, ggufPath } = testFixtures();
  // Detached, so that `run <name>` finds it through the server records.
  server = await startServer({ model: ggufPath, runtime: serverPath, ctxSize: 512, parallel: 2, threads: 1, detach: true, name: SERVER_NAME, extraArgs: ['--metrics'], env });
});

afterAll(async () => {
  await server?.stop();
  await rm(home, { recursive: true, force: true });
});

describe('llamactl run', () => {
  it('streams the same text the library predicts to stdout, and the metrics to stderr', async () => {
    const expected = await predict(server.client, INPUT);
    const result = await runCli(['run', server.url, ...FLAGS], { env });
    expect(result.exitCode).toBe(0);
    // One newline closes the text (execa strips the final one).
    expect(result.stdout).toBe(expected.output.replace(/\n$/, ''));
    expect(result.stderr).toMatch(/\d+ tokens in, \d+ out · first token .* tokens\/s · total/);
  });

  it('--json prints one prediction object', async () => {
    const result = await runCli(['run', server.url, ...FLAGS, '--json'], { env });
    expect(result.exitCode).toBe(0);
    const lines = result.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const prediction = JSON.parse(lines[0]!) as Prediction;
    expect(prediction).toMatchObject({ status: 'succeeded', input: INPUT, stop_reason: expect.any(String) });
    expect(prediction.output).toBe(prediction.tokens.join(''));
    expect(prediction.metrics).toMatchObject({ source: 'server', input_token_count: expect.any(Number) });
    expect(prediction.metrics.output_token_count).toBeLessThanOrEqual(8);
  });

  it('uses the running detached server when given its name (no new server)', async () => {
    const before = (await server.client.metrics())['llamacpp:tokens_predicted_total'] ?? 0;
    const result = await runCli(['run', SERVER_NAME, ...FLAGS, '--json'], { env });
    expect(result.exitCode).toBe(0);
    const prediction = JSON.parse(result.stdout) as Prediction;
    const after = (await server.client.metrics())['llamacpp:tokens_predicted_total'] ?? 0;
    expect(after - before).toBe(prediction.metrics.output_token_count);
  });

  it('starts a server for the call when none runs, and stops it afterwards', async () => {
    const { serverPath, ggufPath } = testFixtures();
    const model = join(home, 'own-copy.gguf');
    await copyFile(ggufPath, model);
    const result = await runCli(['run', model, '--runtime', serverPath, '--ctx-size', '256', ...FLAGS], { env });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout.length).toBeGreaterThan(1);
    expect(await processesMentioning(model)).toEqual([]);
  });

  it('stops quietly when its reader goes away (| head): exit 0, no stack trace, the server it started is stopped', async () => {
    const { serverPath, ggufPath } = testFixtures();
    const model = join(home, 'piped-copy.gguf');
    await copyFile(ggufPath, model);
    const args = ['run', model, '--runtime', serverPath, '--ctx-size', '2048', '-p', 'Go on', '--min-tokens', '1500', '--max-tokens', '1500'];
    const child = execa(process.execPath, [CLI, ...args], { env, reject: false });
    child.stdout!.once('data', () => child.stdout!.destroy());
    const result = await child;
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stderr).not.toMatch(/EPIPE|Unhandled|at .*\.js/);
    expect(await processesMentioning(model)).toEqual([]);
  });

  it.each([
    ['--force is taken (and the URL then refused)', ['run', 'http://127.0.0.1:9', '--force', '-p', 'x'], 9, /connection refused/],
    ['nothing listening', ['run', 'http://127.0.0.1:9', '-p', 'x'], 9, /connection refused/],
    ['a model file that does not exist', ['run', 'missing.gguf', '-p', 'x'], 3, /No file at/],
    ['a template without {prompt}', ['run', 'http://127.0.0.1:9', '-p', 'x', '--template', 'User: {q}'], 2, /\{prompt\}/],
    ['a bad number', ['run', 'http://127.0.0.1:9', '-p', 'x', '--max-tokens', 'lots'], 2, /--max-tokens takes an integer/],
    ['no prompt', ['run', 'http://127.0.0.1:9'], 2, /--prompt/],
    ['--system without --template', ['run', 'http://127.0.0.1:9', '-p', 'x', '--system', 'y'], 2, /--system needs --template/],
  ])('exits with a clear message on %s', async (_, args, code, message) => {
    const result = await runCli(args, { env });
    expect(result.exitCode).toBe(code);
    expect(result.stderr).toMatch(message);
  });
});

/** PIDs whose command line mentions `text` (Linux /proc). */
async function processesMentioning(text: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(text)) pids.push(Number(entry));
  }
  return pids;
}
