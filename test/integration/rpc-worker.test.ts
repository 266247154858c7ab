/**
 * `llamactl worker` / startWorker() against the REAL llama.cpp rpc-server (built with the engine). Loopback only;
 * every test stops what it started and checks the process table.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { PortInUseError, ServerExitError, UsageError } from '../../src/errors.js';
import { assertPortFree, findFreePort } from '../../src/server/ports.js';
import { probeWorker } from '../../src/server/rpc/rpc-probe.js';
import { readServerLog } from '../../src/server/server-logs.js';
import { stopAllServers } from '../../src/server/stop-detached.js';
import { isAlive } from '../../src/system/process-facts.js';
import { listServers } from '../../src/store/servers.js';
import { startWorker, type RunningWorker, type StartWorkerOptions } from '../../src/worker/start-worker.js';
import { runCli } from '../helpers/cli.js';

const rpcServer = process.env.LLAMACTL_TEST_RPC_SERVER!;
let home: string;
const running: RunningWorker[] = [];
const pids: number[] = [];
const env = () => ({ ...process.env, LLAMACTL_HOME: home });

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'llamactl-worker-'));
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((worker) => worker.stop()));
  await stopAllServers({ env: env() });
  for (const pid of pids.splice(0)) expect(isAlive(pid), `pid ${pid} left behind`).toBe(false);
});
afterAll(() => rm(home, { recursive: true, force: true }));

async function start(options: StartWorkerOptions = {}): Promise<RunningWorker> {
  const worker = await startWorker({ port: 0, threads: 1, rpcServer, env: env(), ...options });
  running.push(worker);
  pids.push(worker.pid);
  return worker;
}

describe('startWorker on the real rpc-server', () => {
  test('accepts connections, speaks the pinned protocol, reports its memory; stop leaves nothing', async () => {
    const worker = await start();
    expect(worker.address).toBe(`127.0.0.1:${worker.port}`);
    expect(worker.banner.version).toBe('7.0.0');
    expect(worker.banner.devices[0]).toMatchObject({ name: 'CPU' });
    const probe = await probeWorker('127.0.0.1', worker.port);
    expect(probe.version).toEqual({ major: 7, minor: 0, patch: 0 });
    expect(probe.devices.length).toBe(1);
    expect(probe.devices[0]!.totalBytes).toBeGreaterThan(2 ** 30);
    expect(probe.devices[0]!.freeBytes).toBeLessThanOrEqual(probe.devices[0]!.totalBytes);
    // One client at a time: a second probe right after the first is served too (the first one hung up).
    await expect(probeWorker('127.0.0.1', worker.port)).resolves.toMatchObject({ endpoint: worker.address });
    await worker.stop();
    expect(isAlive(worker.pid)).toBe(false);
    await expect(worker.exited).resolves.toMatchObject({ reason: expect.stringMatching(/SIGTERM|code 0/) });
    await expect(worker.wait()).resolves.toMatchObject({ reason: expect.stringMatching(/SIGTERM|code 0/) });
  });

  test('wait(): a worker that dies rejects with ServerExitError (signal, command, duration)', async () => {
    const worker = await start();
    process.kill(worker.pid, 'SIGKILL');
    const error = await worker.wait().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ServerExitError);
    expect((error as ServerExitError).details).toMatchObject({ signal: 'SIGKILL', command: worker.argv });
    expect((error as ServerExitError).details.durationMs).toBeGreaterThan(0);
    expect(isAlive(worker.pid)).toBe(false);
  });

  test('detached: ps shows it ready, logs has its banner, stop --all stops the process group', async () => {
    const worker = await startWorker({ port: 0, threads: 1, rpcServer, env: env(), detach: true });
    pids.push(worker.pid);
    expect(worker.name).toBe('rpc-worker');
    const [status] = await listServers(env());
    expect(status).toMatchObject({ name: 'rpc-worker', kind: 'worker', state: 'ready', pid: worker.pid, url: `rpc://${worker.address}` });
    let log = '';
    await readServerLog('rpc-worker', { env: env(), onText: (text) => (log += text) });
    expect(log).toMatch(/Starting RPC server v7\.0\.0/);
    const stopped = await stopAllServers({ env: env() });
    expect(stopped.map((record) => record.pid)).toEqual([worker.pid]);
    expect(isAlive(worker.pid)).toBe(false);
    expect(await listServers(env())).toEqual([]);
  });

  test('a taken port, a memory flag this build lacks, a non-loopback bind: each says so', async () => {
    const taken = await start();
    await expect(start({ port: taken.port })).rejects.toBeInstanceOf(PortInUseError);
    const mem = await start({ memMb: 100 }).catch((e: unknown) => e);
    expect(mem).toBeInstanceOf(UsageError);
    expect((mem as UsageError).hint).toMatch(/--rpc HOST:PORT=24G/);
    // 192.0.2.1 (TEST-NET-1) is not an address of this machine: the bind fails, nothing is exposed, but the
    // warning comes first.
    const warnings: string[] = [];
    await expect(start({ host: '192.0.2.1', onWarning: (message) => warnings.push(message) })).rejects.toThrow();
    expect(warnings.join('\n')).toMatch(/no authentication.*trusted network/s);
  });
});

describe('llamactl worker (CLI)', () => {
  test('--detach --json prints address and pid; ps lists it; stop --all stops it', async () => {
    const port = await findFreePort('127.0.0.1');
    const started = await runCli(['worker', '--port', String(port), '-t', '1', '--rpc-server', rpcServer, '--detach', '--json'], { env: env() });
    expect(started.exitCode, started.stderr).toBe(0);
    const ready = JSON.parse(started.stdout.trim()) as { address: string; pid: number; protocol: string };
    pids.push(ready.pid);
    expect(ready.address).toBe(`127.0.0.1:${port}`);
    expect(ready.protocol).toBe('7.0.0');
    expect(isAlive(ready.pid)).toBe(true);
    const ps = await runCli(['ps', '--json'], { env: env() });
    expect(JSON.parse(ps.stdout)).toMatchObject([{ kind: 'worker', state: 'ready', pid: ready.pid }]);
    const stop = await runCli(['stop', '--all'], { env: env() });
    expect(stop.exitCode).toBe(0);
    expect(isAlive(ready.pid)).toBe(false);
    await assertPortFree('127.0.0.1', port);
  });

  test('a non-loopback --host prints the warning plainly', async () => {
    const result = await runCli(['worker', '--host', '192.0.2.1', '--rpc-server', rpcServer], { env: env() });
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr).toMatch(/WARNING: Binding to 192\.0\.2\.1: llama\.cpp's RPC protocol has no authentication/);
  });
});
