/**
 * `serve --rpc` / startServer({ rpc }) against the REAL engine: llama-server as the head, two real rpc-server
 * workers on loopback ports, the tiny model. Every test stops what it started and checks the process table.
 */
import { chmod, copyFile, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { InsufficientMemoryError, WorkerLostError, WorkerProtocolError, WorkerUnreachableError, WorkerVersionError } from '../../src/errors.js';
import type { ExtractResult } from '../../src/extract.js';
import type { RpcHeadEvent } from '../../src/server/rpc/plan-rpc-head.js';
import { findFreePort } from '../../src/server/ports.js';
import { startServer, type RunningServer, type StartServerOptions } from '../../src/server/start-server.js';
import { stopAllServers } from '../../src/server/stop-detached.js';
import { isAlive } from '../../src/system/process-facts.js';
import { startWorker, type RunningWorker } from '../../src/worker/start-worker.js';
import { runCli } from '../helpers/cli.js';
import { startRpcStandin } from '../helpers/rpc-standin.js';

const serverPath = process.env.LLAMACTL_TEST_SERVER!;
const rpcServer = process.env.LLAMACTL_TEST_RPC_SERVER!;
const ggufPath = process.env.LLAMACTL_TEST_GGUF!;
const llamafilePath = process.env.LLAMACTL_TEST_LLAMAFILE!;

let home: string;
let workers: RunningWorker[] = [];
const running: { stop(): Promise<void> }[] = [];
const pids: number[] = [];
const env = () => ({ ...process.env, LLAMACTL_HOME: home });

const worker = async () => {
  const started = await startWorker({ port: 0, threads: 1, rpcServer, env: env() });
  running.push(started);
  pids.push(started.pid);
  return started;
};

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'llamactl-rpc-head-'));
  workers = [await worker(), await worker()];
});
afterEach(async () => {
  await Promise.all(running.splice(2).map((item) => item.stop()));
  await stopAllServers({ env: env() });
  for (const pid of pids.splice(2)) expect(isAlive(pid), `pid ${pid} left behind`).toBe(false);
});
afterAll(async () => {
  await Promise.all(running.splice(0).map((item) => item.stop()));
  for (const pid of pids.splice(0)) expect(isAlive(pid), `pid ${pid} left behind`).toBe(false);
  await rm(home, { recursive: true, force: true });
});

async function head(overrides: Partial<StartServerOptions>): Promise<RunningServer> {
  const server = await startServer({
    model: ggufPath, runtime: serverPath, ctxSize: 256, threads: 1, parallel: 1, env: env(), ...overrides,
  });
  running.push(server);
  pids.push(server.pid);
  return server;
}

const PROMPT = { prompt: 'Once upon a time', n_predict: 24, temperature: 0, seed: 42 };
async function generate(server: RunningServer): Promise<string> {
  const response = await fetch(`${server.url}/completion`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(PROMPT),
  });
  expect(response.status).toBe(200);
  return ((await response.json()) as { content: string }).content;
}

/** "load_tensors: RPC0[127.0.0.1:PORT] model buffer size = 1.23 MiB" → MiB per endpoint. */
function modelBuffers(lines: readonly string[]): Map<string, number> {
  const buffers = new Map<string, number>();
  for (const line of lines) {
    const match = /RPC\d+\[([\d.]+:\d+)\] model buffer size = +([\d.]+) MiB/.exec(line);
    if (match) buffers.set(match[1]!, Number(match[2]));
  }
  return buffers;
}

describe('a head over two workers', () => {
  test('model buffers on both RPC devices; greedy text equals the single-host text', async () => {
    const lines: string[] = [];
    const events: RpcHeadEvent[] = [];
    const [a, b] = workers as [RunningWorker, RunningWorker];
    // Declared caps of 6 MiB each: the 8.3 MB of weights cannot sit on one worker, so the split uses both.
    const split = await head({
      rpc: [`${a.address}=6M`, `${b.address}=6M`], gpuLayers: 99, onLog: (line) => lines.push(line), onRpc: (e) => events.push(e),
    });
    expect(split.argv).toContain('--rpc');
    expect(split.argv[split.argv.indexOf('--rpc') + 1]).toBe(`${a.address},${b.address}`);
    expect(split.argv).toContain('--tensor-split');
    expect(events[0]).toMatchObject({ type: 'workers', workers: [{ endpoint: a.address }, { endpoint: b.address }] });
    const buffers = modelBuffers(lines);
    expect(buffers.get(a.address), lines.join('\n')).toBeGreaterThan(0);
    expect(buffers.get(b.address)).toBeGreaterThan(0);
    for (const mib of buffers.values()) expect(mib).toBeLessThan(8.3);
    const splitText = await generate(split);
    await split.stop();

    const single = await head({});
    expect(await generate(single)).toBe(splitText);
    expect(splitText.length).toBeGreaterThan(0);
  });

  test('a llamafile is served across the workers through its GGUF, and the disk it costs is reported', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'llamactl-rpc-llamafile-'));
    try {
      const model = join(dir, 'tiny.llamafile');
      await copyFile(llamafilePath, model);
      const events: RpcHeadEvent[] = [];
      const lines: string[] = [];
      // No runtime: a llamafile cannot be a head, so llama-server (PATH, else llamactl's llama.cpp build) serves its GGUF.
      const server = await head({
        model, runtime: undefined, rpc: workers.map((w) => w.address), gpuLayers: 99, onRpc: (e) => events.push(e), onLog: (l) => lines.push(l),
      });
      expect(server.runtime.kind).toBe('llama-server');
      const extract = events.find((e): e is { type: 'extract'; result: ExtractResult } => e.type === 'extract')!.result;
      expect(extract.path).toBe(join(dir, 'tiny.gguf'));
      expect(extract.bytes).toBe((await stat(ggufPath)).size);
      expect(extract.extraDiskBytes).toBe(extract.method === 'reflink' ? 0 : extract.bytes);
      expect(modelBuffers(lines).size).toBe(2);
      const text = await generate(server);
      await server.stop();
      const single = await head({});
      expect(await generate(single)).toBe(text);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('a worker killed mid-generation: the request fails, the head names that worker, nothing is left', async () => {
    const [c, d] = [await worker(), await worker()];
    const server = await head({ rpc: [c.address, d.address], gpuLayers: 99 });
    const stream = server.client.completion({ prompt: 'Once upon a time', n_predict: 100_000, stream: true });
    let killed = false;
    const outcome = await (async () => {
      for await (const _ of stream) {
        if (!killed) {
          killed = true;
          process.kill(d.pid, 'SIGKILL');
        }
      }
      return 'ended';
    })().catch((error: unknown) => error);
    expect(killed).toBe(true);
    expect(outcome).toBeInstanceOf(Error);
    const exit = await server.exited;
    expect(exit.reason).toContain(d.address);
    expect(exit.rpcError).toBeInstanceOf(WorkerLostError);
    expect((exit.rpcError as WorkerLostError).endpoint).toBe(d.address);
    // wait() rejects with the worker's own error, so a program (and `serve`) reports the worker, not a bare crash.
    await expect(server.wait()).rejects.toBe(exit.rpcError);
    await server.stop();
    await c.stop();
    expect(isAlive(server.pid)).toBe(false);
  });

  test('refused before any head starts: a stopped worker, a wrong port, another build', async () => {
    const gone = await worker();
    await gone.stop();
    const [a] = workers as [RunningWorker];
    const refused = await head({ rpc: [a.address, gone.address], gpuLayers: 99 }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(WorkerUnreachableError);
    expect((refused as Error).message).toBe(`Cannot reach the worker at ${gone.address}: nothing listens there (connection refused)`);

    // A wrong port: the head of another test, an HTTP server, where a worker was meant.
    const http = await head({});
    const wrong = await head({ rpc: [`127.0.0.1:${http.port}`], gpuLayers: 99 }).catch((e: unknown) => e);
    expect(wrong).toBeInstanceOf(WorkerProtocolError);
    expect((wrong as Error).message).toMatch(/not an rpc-server/);

    const other = await startRpcStandin({ version: [8, 0, 0], layout: 'current' });
    try {
      const version = await head({ rpc: [a.address, other.endpoint], gpuLayers: 99 }).catch((e: unknown) => e);
      expect(version).toBeInstanceOf(WorkerVersionError);
      expect((version as Error).message).toMatch(new RegExp(`${other.endpoint} is a different llama\\.cpp build`));
      // A llama-server llamactl does not know the protocol of (a copy elsewhere): llama.cpp's own handshake refuses
      // the worker at start, and that abort is reported as the same error.
      const dir = await mkdtemp(join(tmpdir(), 'llamactl-other-head-'));
      try {
        const copy = join(dir, 'llama-server');
        await copyFile(serverPath, copy);
        await chmod(copy, 0o755);
        const atStart = await head({ runtime: copy, rpc: [other.endpoint], gpuLayers: 99 }).catch((e: unknown) => e);
        expect(atStart).toBeInstanceOf(WorkerVersionError);
        expect((atStart as Error).message).toBe(`The worker at ${other.endpoint} is a different llama.cpp build: it speaks RPC protocol 8.0.0, the head refused it`);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    } finally {
      await other.close();
    }
  });

  test('fit across machines: refused when the model cannot fit even across all of them', async () => {
    const [a, b] = workers as [RunningWorker, RunningWorker];
    const error = await head({
      rpc: [`${a.address}=1M`, `${b.address}=1M`], gpuLayers: 99, memory: { totalBytes: 2 ** 20, availableBytes: 2 ** 20 },
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InsufficientMemoryError);
    expect((error as Error).message).toMatch(/the head and its 2 workers have 3\.0 MiB together \(head 1\.0 MiB, .* 1\.0 MiB \(declared\)/);
  });
});

describe('llamactl serve --rpc (CLI)', () => {
  test('detached head over detached workers; stop --all leaves nothing', async () => {
    const ports = [await findFreePort('127.0.0.1'), await findFreePort('127.0.0.1')];
    const started: number[] = [];
    for (const [index, port] of ports.entries()) {
      const result = await runCli(['worker', '--port', String(port), '-t', '1', '--rpc-server', rpcServer, '--detach', '--json', '--name', `w${index}`], { env: env() });
      expect(result.exitCode, result.stderr).toBe(0);
      started.push((JSON.parse(result.stdout) as { pid: number }).pid);
    }
    const rpc = ports.map((port) => `127.0.0.1:${port}`).join(',');
    const serve = await runCli(['serve', ggufPath, '--runtime', serverPath, '--rpc', rpc, '-ngl', '99', '-c', '256', '-t', '1', '--detach'], { env: env() });
    expect(serve.exitCode, serve.stderr).toBe(0);
    expect(serve.stderr).toMatch(/2 workers ready: 127\.0\.0\.1:\d+ \(RPC 7\.0\.0/);
    const pid = Number(/pid (\d+)/.exec(serve.stdout)![1]);
    started.push(pid);
    pids.push(...started);
    const stop = await runCli(['stop', '--all', '--json'], { env: env() });
    expect((JSON.parse(stop.stdout) as unknown[]).length).toBe(3);
    for (const each of started) expect(isAlive(each)).toBe(false);
  });

  test('a llamafile runtime is refused with the reason', async () => {
    const result = await runCli(['serve', ggufPath, '--runtime', llamafilePath, '--rpc', workers[0]!.address], { env: env() });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/llamafile 0\.10 runtimes do not include llama\.cpp's RPC backend/);
  });
});
