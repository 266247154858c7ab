/**
 * `llamactl gateway` as a user runs it (the built CLI), against the REAL engine: config errors with file and line,
 * the non-loopback refusal, --detach (keys kept off argv), ps listing the gateway and its models, stop, and a SIGKILLed
 * gateway leaving no engine behind (process table checked).
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { isAlive } from '../../src/system/process-facts.js';
import { runCli } from '../helpers/cli.js';
import { eventually } from '../helpers/gateway.js';

let home: string;
let env: NodeJS.ProcessEnv;
const pids: number[] = [];
const KEY = 'cli-gateway-key';

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'llamactl-gateway-cli-'));
  env = { ...process.env, LLAMACTL_HOME: home, LLAMACTL_GATEWAY_KEY: KEY };
  const config = [
    'host: 127.0.0.1',
    'port: 0',
    'apiKeys: [ "${LLAMACTL_GATEWAY_KEY}" ]',
    'ttl: 0',
    'models:',
    '  tiny-a:',
    `    model: ${JSON.stringify(process.env.LLAMACTL_TEST_GGUF)}`,
    `    runtime: ${JSON.stringify(process.env.LLAMACTL_TEST_SERVER)}`,
    '    ctxSize: 256',
    '    threads: 1',
    '    aliases: [ "@cf/llamactl/tiny-a" ]',
  ].join('\n');
  await writeFile(join(home, 'gateway.yaml'), `${config}\n`);
});
afterAll(async () => {
  for (const pid of pids) {
    if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  }
  await rm(home, { recursive: true, force: true });
  expect(pids.filter((pid) => isAlive(pid))).toEqual([]);
});

async function detach(): Promise<{ url: string; pid: number }> {
  const result = await runCli(['gateway', '--detach', '--json'], { env });
  expect(result.exitCode, result.stderr).toBe(0);
  const ready = JSON.parse(result.stdout.trim()) as { type: string; url: string; pid: number };
  expect(ready).toMatchObject({ type: 'ready', url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/), pid: expect.any(Number) });
  pids.push(ready.pid);
  return ready;
}

async function complete(url: string): Promise<number> {
  const response = await fetch(`${url}/v1/completions`, {
    method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'tiny-a', prompt: 'Hi', max_tokens: 3 }),
  });
  return response.status;
}

async function enginePid(): Promise<number> {
  const ps = await runCli(['ps', '--json'], { env });
  const gateway = (JSON.parse(ps.stdout) as { name: string; models?: { pid?: number }[] }[]).find((s) => s.name === 'gateway')!;
  const pid = gateway.models![0]!.pid!;
  pids.push(pid);
  return pid;
}

describe('llamactl gateway', () => {
  test('a config error names the file, the line and the key (exit 2)', async () => {
    const bad = join(home, 'bad.yaml');
    await writeFile(bad, 'port: 8181\nmodels:\n  x:\n    ctxSize: lots\n    model: m\n');
    const result = await runCli(['gateway', '--config', bad], { env });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain(`${bad}:4: models.x.ctxSize must be a whole number`);
  });

  test('a non-loopback address without a key is refused (exit 2)', async () => {
    await writeFile(join(home, 'none.yaml'), 'port: 0\n');
    const refused = await runCli(['gateway', '--host', '0.0.0.0', '--config', join(home, 'none.yaml')], { env: { ...env, LLAMACTL_GATEWAY_KEY: '' } });
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toContain('Refusing to listen on 0.0.0.0 without an API key');
  });

  test('--detach: ps lists it with its models, requests go through, stop takes the engines along', async () => {
    const gateway = await detach();
    expect(await readFile(`/proc/${gateway.pid}/cmdline`, 'utf8')).not.toContain(KEY);
    expect(await complete(gateway.url)).toBe(200);
    const engine = await enginePid();
    expect(isAlive(engine)).toBe(true);
    // The engine has a key of its own; the gateway's key is in neither its argv nor its environment.
    expect(await readFile(`/proc/${engine}/cmdline`, 'utf8')).not.toContain(KEY);
    expect(await readFile(`/proc/${engine}/environ`, 'utf8')).not.toContain(KEY);
    expect(await readFile(`/proc/${engine}/environ`, 'utf8')).toContain('LLAMA_API_KEY=');
    const table = await runCli(['ps'], { env });
    expect(table.stdout).toMatch(/gateway\s+ready/);
    expect(table.stdout).toMatch(/└ tiny-a\s+loaded/);
    const stopped = await runCli(['stop', 'gateway'], { env });
    expect(stopped.exitCode, stopped.stderr).toBe(0);
    await eventually(() => !isAlive(gateway.pid) && !isAlive(engine), 15_000);
    expect((await runCli(['ps', '--json'], { env })).stdout.trim()).toBe('[]');
  });

  test('SIGKILL of a detached gateway leaves no engine running', async () => {
    const gateway = await detach();
    expect(await complete(gateway.url)).toBe(200);
    const engine = await enginePid();
    process.kill(gateway.pid, 'SIGKILL');
    await eventually(() => !isAlive(gateway.pid) && !isAlive(engine), 15_000);
  });
});
