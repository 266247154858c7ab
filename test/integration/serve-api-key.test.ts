/**
 * `serve --api-key auto` / `startServer({ apiKey: 'auto' })` against the real engine: the engine refuses requests
 * without the key, the key travels through the engine's environment (never its argv), is kept in the 0600 record,
 * and `run NAME`, `chat NAME` and connect(NAME) pick it up while `ps` only says that one is set.
 */
import { readFile, stat, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, expect, test } from 'vitest';
import { connect } from '../../src/server/connect.js';
import { startServer } from '../../src/server/start-server.js';
import { isAlive } from '../../src/system/process-facts.js';
import { runCli } from '../helpers/cli.js';
import { testFixtures } from '../helpers/engine.js';

const { serverPath, ggufPath } = testFixtures();
const serveArgs = ['--runtime', serverPath, '-c', '256', '-t', '1', '--np', '1'];
const KEY_SHAPE = /^[A-Za-z0-9_-]{43}$/; // 32 random bytes, base64url

let home: string;
let env: NodeJS.ProcessEnv;
const enginePids: number[] = [];

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'llamactl-api-key-'));
  env = { ...process.env, LLAMACTL_HOME: home };
  delete env.LLAMACTL_API_KEY;
});
afterEach(async () => {
  await runCli(['stop', '--all', '--grace', '1'], { env });
  for (const pid of enginePids.splice(0)) if (isAlive(pid)) process.kill(-pid, 'SIGKILL');
});
afterAll(() => rm(home, { recursive: true, force: true }));

function chatRequest(url: string, key?: string): Promise<Response> {
  return fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: JSON.stringify({ messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 }),
  });
}

async function serveDetached(name: string, extra: string[], serveEnv = env) {
  const serve = await runCli(['serve', ggufPath, ...serveArgs, '--detach', '--name', name, '--json', ...extra], { env: serveEnv });
  expect(serve.exitCode, serve.stderr).toBe(0);
  const ready = JSON.parse(serve.stdout.trim().split('\n').at(-1)!) as { pid: number; url: string; name: string };
  enginePids.push(ready.pid);
  const recordFile = join(home, 'run', `${name}.json`);
  const record = JSON.parse(await readFile(recordFile, 'utf8')) as { apiKey?: string };
  return { serve, ready, recordFile, record };
}

test('serve --detach --api-key auto: 401 without the key; run and chat by name use the record; ps shows only that it is set', async () => {
  const { serve, ready, recordFile, record } = await serveDetached('keyed', ['--api-key', 'auto']);
  const key = record.apiKey!;
  expect(key).toMatch(KEY_SHAPE);
  expect((await stat(recordFile)).mode & 0o777).toBe(0o600);
  expect(serve.stdout + serve.stderr).not.toContain(key);

  // The engine itself refuses a request without it, and takes one with it.
  expect((await chatRequest(ready.url)).status).toBe(401);
  expect((await chatRequest(ready.url, 'wrong-key')).status).toBe(401);
  expect((await chatRequest(ready.url, key)).status).toBe(200);

  // Through the environment, never the argv every local user can read.
  const cmdline = await readFile(`/proc/${ready.pid}/cmdline`, 'utf8');
  expect(cmdline).toContain(ggufPath);
  expect(cmdline).not.toContain(key);
  expect((await readFile(`/proc/${ready.pid}/environ`, 'utf8')).split('\0')).toContain(`LLAMA_API_KEY=${key}`);

  const run = await runCli(['run', 'keyed', '-p', 'Once upon a time', '-n', '4'], { env });
  expect(run.exitCode, run.stderr).toBe(0);
  expect(run.stderr).toMatch(/\d+ tokens in, 4 out/);

  const chat = await runCli(['chat', 'keyed', '-n', '3'], { env, input: 'hello\n', stdin: 'pipe' });
  expect(chat.exitCode, chat.stderr).toBe(0);

  // An explicit key still wins over the record's: a wrong one is refused by the engine (so the record's was used above).
  const wrongEnv = { ...env, LLAMACTL_API_KEY: 'wrong-key' };
  const wrong = await runCli(['run', 'keyed', '-p', 'hi', '-n', '1'], { env: wrongEnv });
  expect(wrong.exitCode).toBe(9);
  const wrongChat = await runCli(['chat', 'keyed', '-n', '3'], { env: wrongEnv, input: 'hello\n', stdin: 'pipe' });
  expect(wrongChat.exitCode).toBe(9);

  const ps = await runCli(['ps', '--json'], { env });
  expect(ps.stdout).not.toContain(key);
  expect(JSON.parse(ps.stdout)).toMatchObject([{ name: 'keyed', hasApiKey: true, state: 'ready' }]);
  expect(JSON.parse(ps.stdout)[0]).not.toHaveProperty('apiKey');
  const table = await runCli(['ps'], { env });
  expect(table.stdout).toMatch(/KEY/);
  expect(table.stdout).toMatch(/keyed\s+ready\s+\d+\s+\S+\s+\S+( ms| s)?\s+-\s+yes\s/);
  expect(table.stdout).not.toContain(key);

  const stop = await runCli(['stop', 'keyed', '--json'], { env });
  expect(stop.exitCode).toBe(0);
  expect(stop.stdout).not.toContain(key);
});

test('serve --api-key auto without --detach is refused (its key would be one nobody has)', async () => {
  const serve = await runCli(['serve', ggufPath, ...serveArgs, '--api-key', 'auto'], { env });
  expect(serve.exitCode).toBe(2);
  expect(serve.stderr).toContain('--api-key auto needs --detach');
});

test('a key of your own through LLAMACTL_API_KEY: enforced, not written to the record, no warning; one on argv is warned about', async () => {
  const ownEnv = { ...env, LLAMACTL_API_KEY: 'my-own-key-1' };
  const { serve, ready, recordFile } = await serveDetached('own-key', [], ownEnv);
  expect(await readFile(recordFile, 'utf8')).not.toContain('my-own-key-1');
  expect(serve.stderr).not.toContain('visible to every local user');
  expect((await chatRequest(ready.url)).status).toBe(401);
  expect((await chatRequest(ready.url, 'my-own-key-1')).status).toBe(200);
  expect(JSON.parse((await runCli(['ps', '--json'], { env })).stdout)).toMatchObject([{ name: 'own-key', hasApiKey: true }]);
  // run by name: the record has no key to offer, the same variable gives it.
  expect((await runCli(['run', 'own-key', '-p', 'hi', '-n', '1'], { env })).exitCode).toBe(9);
  expect((await runCli(['run', 'own-key', '-p', 'hi', '-n', '1'], { env: ownEnv })).exitCode).toBe(0);

  const onArgv = await serveDetached('argv-key', ['--api-key', 'my-own-key-2']);
  expect(onArgv.serve.stderr).toContain('visible to every local user');
  expect(await readFile(onArgv.recordFile, 'utf8')).not.toContain('my-own-key-2');

  const bad = await runCli(['serve', ggufPath, ...serveArgs, '--detach', '--api-key', 'a,b'], { env });
  expect(bad.exitCode).toBe(2);
  expect(bad.stderr).toContain('--api-key must not be empty or contain commas');
});

test("startServer({ apiKey: 'auto' }): the handle and its client carry the key; connect(name) finds it in the record", async () => {
  await using foreground = await startServer({ model: ggufPath, runtime: serverPath, ctxSize: 256, threads: 1, apiKey: 'auto', env });
  expect(foreground.apiKey).toMatch(KEY_SHAPE);
  expect((await chatRequest(foreground.url)).status).toBe(401);
  expect((await foreground.client.chat({ messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 })).choices).toHaveLength(1);

  await using detached = await startServer({
    model: ggufPath, runtime: serverPath, ctxSize: 256, threads: 1, apiKey: 'auto', detach: true, name: 'lib-keyed', env,
  });
  enginePids.push(detached.pid);
  expect(detached.apiKey).toMatch(KEY_SHAPE);
  expect(detached.apiKey).not.toBe(foreground.apiKey);
  const connection = await connect('lib-keyed', { env });
  try {
    expect(connection.source).toBe('running');
    expect((await connection.client.completion({ prompt: 'hi', n_predict: 2 })).content).toEqual(expect.any(String));
  } finally {
    await connection.close();
  }
});
