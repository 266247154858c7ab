import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { NotFoundError, UsageError } from '../../../src/errors.js';
import {
  claimServerName, findServer, listServers, saveServer, serverNameFor, type ServerRecord,
} from '../../../src/store/servers.js';
import { processStartTime } from '../../../src/system/process-facts.js';
import { execa } from 'execa';
import { mkdir } from 'node:fs/promises';

let home: string;
let env: NodeJS.ProcessEnv;
beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'llamactl-servers-'));
  env = { LLAMACTL_HOME: home };
});
afterEach(() => rm(home, { recursive: true, force: true }));

async function record(name: string, overrides: Partial<ServerRecord> = {}): Promise<ServerRecord> {
  // Our own process stands in for a live server: it exists and its start time is real.
  const value: ServerRecord = {
    name, pid: process.pid, startTime: (await processStartTime(process.pid))!, url: 'http://127.0.0.1:1',
    host: '127.0.0.1', port: 1, model: `/models/${name}.llamafile`, runtime: 'llamafile-legacy',
    healthPath: '/health', argv: [], logFile: join(home, 'run', `${name}.log`), createdAt: new Date().toISOString(),
    ...overrides,
  };
  await saveServer(value, env);
  return value;
}

test('records are written with mode 0600 in a 0700 run dir', async () => {
  await record('a');
  expect((await stat(join(home, 'run', 'a.json'))).mode & 0o777).toBe(0o600);
  expect((await stat(join(home, 'run'))).mode & 0o777).toBe(0o700);
  expect(JSON.parse(await readFile(join(home, 'run', 'a.json'), 'utf8')).name).toBe('a');
});

test('a record whose PID now belongs to another process (start time differs) is stale and removed', async () => {
  await record('live');
  await record('reused', { startTime: '1' });
  const servers = await listServers(env, { health: false });
  expect(servers.map((s) => [s.name, s.state])).toEqual([['live', 'ready'], ['reused', 'exited']]);
  expect((await listServers(env, { health: false })).map((s) => s.name)).toEqual(['live']);
});

test('a live record whose URL answers nothing is unreachable', async () => {
  await record('quiet');
  const [server] = await listServers(env);
  expect(server?.state).toBe('unreachable');
});

test('findServer by name, by model, ambiguity and absence', async () => {
  await record('one', { model: 'shared.llamafile' });
  await record('two', { model: 'shared.llamafile' });
  await record('three', { model: '/m/unique.llamafile' });
  expect((await findServer('two', env)).name).toBe('two');
  expect((await findServer('unique.llamafile', env)).name).toBe('three');
  await expect(findServer('shared.llamafile', env)).rejects.toBeInstanceOf(UsageError);
  await expect(findServer('nope', env)).rejects.toBeInstanceOf(NotFoundError);
});

test('names: derived from the model, deduplicated, validated', async () => {
  expect(serverNameFor('/m/Llama 3.2 1B.Q4_K_M.llamafile')).toBe('Llama-3.2-1B.Q4_K_M');
  expect(serverNameFor('x.gguf')).toBe('x');
  await record('model');
  await using claim = await claimServerName('/a/model.llamafile', undefined, env);
  expect(claim.name).toBe('model-2');
  await expect(claimServerName('m', 'model', env)).rejects.toThrow(/already running/);
  await expect(claimServerName('m', '../evil', env)).rejects.toBeInstanceOf(UsageError);
});

test('names are claimed exclusively while servers start: concurrent claims get distinct names until released', async () => {
  const claims = await Promise.all(Array.from({ length: 5 }, () => claimServerName('/m/tiny.gguf', undefined, env)));
  expect(claims.map((c) => c.name).sort()).toEqual(['tiny', 'tiny-2', 'tiny-3', 'tiny-4', 'tiny-5']);
  await expect(claimServerName('m', 'tiny-3', env)).rejects.toThrow(/already running \(or starting\)/);
  for (const claim of claims) await claim[Symbol.asyncDispose]();
  expect(await readdir(join(home, 'run'))).toEqual([]);
  await using again = await claimServerName('m', 'tiny-3', env);
  expect(again.name).toBe('tiny-3');
});

test('a claim left by a process that is gone is taken over', async () => {
  await claimServerName('m', 'warm', env).then((claim) => claim[Symbol.asyncDispose]());
  await writeFile(join(home, 'run', 'warm.claim'), String(2 ** 22 + 1)); // above Linux's pid_max: no such process
  await using claim = await claimServerName('m', 'warm', env);
  expect(await readFile(join(home, 'run', 'warm.claim'), 'utf8')).toBe(String(process.pid));
  expect(claim.name).toBe('warm');
});

test('records that are FIFOs, oversized, mistyped or not named after their file are skipped, never acted on', async () => {
  await record('good');
  await execa('mkfifo', [join(home, 'run', 'pipe.json')]);
  await writeFile(join(home, 'run', 'big.json'), ' '.repeat(2 * 1024 * 1024));
  const dead = { ...(await record('dead')), pid: 2 ** 22 + 1 };
  await writeFile(join(home, 'run', 'dead.json'), JSON.stringify({ ...dead, pid: 'x' }));
  await mkdir(join(home, 'outside'));
  await writeFile(join(home, 'outside', 'victim.json'), 'keep');
  // Its pid is gone, so a trusted record would be removed by the name inside it: run/../outside/victim.json.
  await writeFile(join(home, 'run', 'evil.json'), JSON.stringify({ ...dead, name: '../outside/victim' }));
  expect((await listServers(env, { health: false })).map((s) => s.name)).toEqual(['good']);
  expect(await readFile(join(home, 'outside', 'victim.json'), 'utf8')).toBe('keep');
  expect((await readdir(join(home, 'run'))).sort()).toEqual(['big.json', 'dead.json', 'evil.json', 'good.json', 'pipe.json']);
});
