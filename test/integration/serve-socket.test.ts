/**
 * startServer({ unixSocket: true }) against the REAL llama-server: the engine listens on its TCP port and on a Unix
 * socket under run/sockets, the key is enforced on both, and the socket's file is gone with the engine. Where the engine cannot
 * (the llamafile stand-in) or with `detach`, there is no socket and nothing else changes.
 */
import { request } from 'node:http';
import { lstat, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { startServer, type RunningServer, type StartServerOptions } from '../../src/server/start-server.js';
import { isAlive } from '../../src/system/process-facts.js';

const serverPath = process.env.LLAMACTL_TEST_SERVER!;
const ggufPath = process.env.LLAMACTL_TEST_GGUF!;
const llamafilePath = process.env.LLAMACTL_TEST_LLAMAFILE;

let home: string;
const running: RunningServer[] = [];

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'llamactl-serve-socket-'));
});
afterEach(async () => {
  const servers = running.splice(0);
  await Promise.all(servers.map((server) => server.stop()));
  for (const server of servers) expect(isAlive(server.pid), `pid ${server.pid} left behind`).toBe(false);
});
afterAll(() => rm(home, { recursive: true, force: true }));

async function start(overrides: Partial<StartServerOptions> = {}): Promise<RunningServer> {
  const server = await startServer({
    model: ggufPath, runtime: serverPath, ctxSize: 256, threads: 1, parallel: 1, unixSocket: true,
    env: { ...process.env, LLAMACTL_HOME: home }, ...overrides,
  });
  running.push(server);
  return server;
}

/** A POST /completion over the Unix socket: its status and parsed body. */
function completeOverSocket(socketPath: string, key?: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const payload = JSON.stringify({ prompt: 'Hello', n_predict: 4, temperature: 0 });
  return new Promise((resolve, reject) => {
    const req = request({
      socketPath, path: '/completion', method: 'POST',
      headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString() || '{}') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(payload);
  });
}

describe.skipIf(process.platform !== 'linux')('startServer with unixSocket', () => {
  test('the engine answers on its socket and its port, with its key on both; the socket is gone after stop', async () => {
    const server = await start({ apiKey: 'sekrit-key' });
    expect(server.socketPath).toBe(join(home, 'run', 'sockets', server.socketPath!.split('/').pop()!));
    expect((await lstat(server.socketPath!)).isSocket()).toBe(true);
    expect(await readFile(`/proc/${server.pid}/cmdline`, 'utf8')).toContain(`--host\u0000127.0.0.1,${server.socketPath}\u0000`);

    expect((await completeOverSocket(server.socketPath!)).status).toBe(401);
    const { status, body } = await completeOverSocket(server.socketPath!, 'sekrit-key');
    expect(status).toBe(200);
    expect(body.tokens_predicted).toBe(4);
    expect((await server.client.health()).ok).toBe(true); // TCP as before

    await server.stop();
    expect(await readdir(join(home, 'run', 'sockets'))).toEqual([]);
    await expect(completeOverSocket(server.socketPath!, 'sekrit-key')).rejects.toMatchObject({ code: 'ENOENT' });
  });

  test('a restarted engine listens on the same socket again (its old file is removed first)', async () => {
    const server = await start({ restart: 'on-failure', maxRestarts: 2 });
    const firstPid = server.pid;
    process.kill(firstPid, 'SIGKILL');
    const deadline = Date.now() + 30_000;
    while ((server.pid === firstPid || !(await server.client.health().then((h) => h.ok, () => false))) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(server.pid).not.toBe(firstPid);
    expect(isAlive(firstPid)).toBe(false);
    expect((await completeOverSocket(server.socketPath!)).status).toBe(200);
  });

  test('a start that fails leaves no socket file', async () => {
    const corrupt = join(home, 'corrupt.gguf');
    await writeFile(corrupt, Buffer.concat([Buffer.from('GGUF'), Buffer.alloc(4096, 0xff)]));
    await expect(start({ model: corrupt })).rejects.toThrow(/before it was ready/);
    expect(await readdir(join(home, 'run', 'sockets'))).toEqual([]);
  });

  test('extra args with a --host of their own: no socket (theirs would replace the list)', async () => {
    const server = await start({ extraArgs: ['--host', '127.0.0.1'] });
    expect(server.socketPath).toBeUndefined();
    expect((await server.client.health()).ok).toBe(true);
  });

  test('detached: no socket (the record and `ps` know ports only)', async () => {
    const server = await start({ detach: true });
    expect(server.socketPath).toBeUndefined();
    expect(await readFile(`/proc/${server.pid}/cmdline`, 'utf8')).not.toContain('.sock');
  });

  test.skipIf(!llamafilePath)('a llamafile: no socket, served on its port as before', async () => {
    const server = await start({ model: llamafilePath!, runtime: undefined });
    expect(server.runtime.kind).toBe('llamafile-0.10');
    expect(server.socketPath).toBeUndefined();
    expect((await server.client.health()).ok).toBe(true);
  });
});
