/**
 * Supervision edge cases the real engine will not produce on demand, driven by tiny fixture scripts
 * (test/fixtures/server): a process that ignores SIGTERM, one that crashes while loading, one that never becomes
 * healthy, one that keeps printing progress, one that moves to another port.
 */
import { fileURLToPath } from 'node:url';
import { afterEach, expect, test } from 'vitest';
import { AbortError, ServerStartError, ServerTimeoutError } from '../../../src/errors.js';
import { launchEngine, type EngineProcess } from '../../../src/server/launch-engine.js';
import { launchReady, type LaunchSpec } from '../../../src/server/launch-ready.js';
import { findFreePort } from '../../../src/server/ports.js';
import { isCleanExit, supervise, type RestartEvent } from '../../../src/server/supervise.js';
import { terminateGroup } from '../../../src/server/terminate-group.js';
import { isAlive } from '../../../src/system/process-facts.js';

const fixture = (name: string) => fileURLToPath(new URL(`../../fixtures/server/${name}`, import.meta.url));
const node = { path: process.execPath, ape: false };
const started: EngineProcess[] = [];

afterEach(async () => {
  for (const engine of started.splice(0)) {
    await terminateGroup(engine.pid, { graceMs: 200, gone: () => engine.exited });
  }
});

async function spec(args: string[], overrides: Partial<LaunchSpec> = {}): Promise<LaunchSpec> {
  return {
    executable: node, args, host: '127.0.0.1', port: await findFreePort('127.0.0.1'), env: undefined,
    logFile: undefined, healthPath: '/health', loopProbe: undefined, idleTimeoutMs: 5000, signal: undefined, onLine: undefined,
    onGpu: () => {}, ...overrides,
  };
}

test('stop escalates to SIGKILL for a process that ignores SIGTERM', async () => {
  const lines: string[] = [];
  const engine = await launchEngine({ executable: node, args: [fixture('ignores-sigterm.mjs')], onLine: (l) => lines.push(l) });
  started.push(engine);
  while (!lines.includes('started')) await new Promise((r) => setTimeout(r, 10));
  await terminateGroup(engine.pid, { graceMs: 300, gone: () => engine.exited });
  expect(engine.exit).toEqual({ exitCode: undefined, signal: 'SIGKILL' });
  expect(lines).toContain('got SIGTERM, ignoring it');
  expect(isAlive(engine.pid)).toBe(false);
});

test('an exit before ready fails at once with the exit code and the output tail', async () => {
  const error = await launchReady(await spec([fixture('crashes-after.mjs'), '100'])).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(ServerStartError);
  const details = (error as ServerStartError).details;
  expect(details.exitCode).toBe(3);
  expect(details.outputTail).toContain('failed to read tensor data: boom');
  expect((error as Error).message).toContain('exited with code 3');
});

test('a server that stays silent while not healthy hits the load deadline and is stopped', async () => {
  const s = await spec([], { idleTimeoutMs: 400 });
  s.args = [fixture('slow-health.mjs'), String(s.port), '0', '0', '1'];
  const error = await launchReady(s).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(ServerTimeoutError);
  expect((error as ServerTimeoutError).details.command).toContain(fixture('slow-health.mjs'));
});

test('progress output resets the deadline: a load longer than the deadline succeeds while it keeps logging', async () => {
  const s = await spec([], { idleTimeoutMs: 2000 });
  s.args = [fixture('slow-health.mjs'), String(s.port), '3000', '100', '0'];
  const ready = await launchReady(s);
  started.push(ready.engine);
  expect(ready.port).toBe(s.port);
  expect(ready.readyMs).toBeGreaterThanOrEqual(3000);
});

test('the address comes from the log when the server moved to another port', async () => {
  const s = await spec([fixture('moves-port.mjs')]);
  const ready = await launchReady(s);
  started.push(ready.engine);
  expect(ready.port).not.toBe(s.port);
  const response = await fetch(`http://127.0.0.1:${ready.port}/health`);
  expect(response.status).toBe(200);
});

test('aborting while loading stops the process and throws AbortError', async () => {
  const controller = new AbortController();
  const s = await spec([], { signal: controller.signal });
  s.args = [fixture('slow-health.mjs'), String(s.port), '0', '0', '1'];
  setTimeout(() => controller.abort(), 300);
  const error = await launchReady(s).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(AbortError);
});

/** Supervises `first` and relaunches through `relaunch` (each launch is cleaned up after the test). */
async function superviseAll(first: LaunchSpec, relaunch: LaunchSpec, maxRestarts: number) {
  const events: RestartEvent[] = [];
  const launches: EngineProcess[] = [];
  const launch = async (s: LaunchSpec) => {
    const ready = await launchReady(s);
    launches.push(ready.engine);
    started.push(ready.engine);
    return ready;
  };
  const exit = await supervise({
    first: await launch(first),
    restart: 'on-failure',
    maxRestarts,
    signal: new AbortController().signal,
    isStopping: () => false,
    relaunch: () => launch(relaunch),
    onRestart: (event) => events.push(event),
  });
  return { exit, launches, events: events.map((e) => [e.attempt, e.reason, e.retriesLeft]) };
}

test('restart on failure is bounded: after maxRestarts the last exit is reported, with its output', async () => {
  const s = await spec([]);
  s.args = [fixture('healthy-then-crashes.mjs'), String(s.port), '100'];
  const { exit, launches, events } = await superviseAll(s, s, 2);
  expect(exit).toMatchObject({ exitCode: 4, signal: undefined, reason: 'exited with code 4' });
  expect(exit.outputTail).toContain(`listening on http://127.0.0.1:${s.port}`);
  expect(launches).toHaveLength(3);
  // "restart 1, 1 left": the count left is after this restart.
  expect(events).toEqual([
    [1, 'exited with code 4', 1],
    [2, 'exited with code 4', 0],
  ]);
});

test('on-failure does not restart a clean exit (code 0): the engine was shut down, it did not fail', async () => {
  const s = await spec([]);
  s.args = [fixture('healthy-then-crashes.mjs'), String(s.port), '100', '0'];
  const { exit, launches, events } = await superviseAll(s, s, 2);
  expect(exit).toMatchObject({ exitCode: 0, signal: undefined });
  expect(launches).toHaveLength(1);
  expect(events).toEqual([]);
});

test('ready waits for the "listening" line that comes after /health answers 200, at most about a second', async () => {
  const lines: string[] = [];
  const late = await spec([], { onLine: (line) => lines.push(line) });
  late.args = [fixture('listens-late.mjs'), String(late.port), '300'];
  const ready = await launchReady(late);
  started.push(ready.engine);
  expect(lines.some((line) => line.includes(`listening on http://127.0.0.1:${late.port}`))).toBe(true);
  expect(ready.readyMs).toBeGreaterThanOrEqual(300);

  const never = await spec([]);
  never.args = [fixture('listens-late.mjs'), String(never.port), '-1'];
  const startedAt = Date.now();
  const silent = await launchReady(never);
  started.push(silent.engine);
  expect(Date.now() - startedAt).toBeGreaterThanOrEqual(1000);
  expect(silent.port).toBe(never.port);
});

test('ready waits for one answer from the task-loop probe (bounded), sent with the API key', async () => {
  const lines: string[] = [];
  const s = await spec([], { loopProbe: { path: '/slots', headers: { authorization: 'Bearer k' } }, onLine: (l) => lines.push(l) });
  s.args = [fixture('listens-late.mjs'), String(s.port), '0', '400'];
  const ready = await launchReady(s);
  started.push(ready.engine);
  expect(ready.readyMs).toBeGreaterThanOrEqual(400);
  expect(lines).toContain('slots asked with authorization: Bearer k');

  const stuck = await spec([], { loopProbe: { path: '/slots', headers: undefined } });
  stuck.args = [fixture('listens-late.mjs'), String(stuck.port), '0', '60000'];
  const startedAt = Date.now();
  const bounded = await launchReady(stuck);
  started.push(bounded.engine);
  expect(Date.now() - startedAt).toBeLessThan(5000);
});

test('a stop signal from outside is a clean exit; a crash signal or a non-zero code is not', () => {
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) expect(isCleanExit({ exitCode: undefined, signal })).toBe(true);
  expect(isCleanExit({ exitCode: 0, signal: undefined })).toBe(true);
  for (const signal of ['SIGKILL', 'SIGSEGV', 'SIGABRT', 'SIGPIPE'] as const) expect(isCleanExit({ exitCode: undefined, signal })).toBe(false);
  expect(isCleanExit({ exitCode: 1, signal: undefined })).toBe(false);
});

test('a restart that fails before ready is reported in one line; its output tail ends up in the last exit', async () => {
  const s = await spec([]);
  s.args = [fixture('healthy-then-crashes.mjs'), String(s.port), '100'];
  const { exit, events } = await superviseAll(s, await spec([fixture('crashes-after.mjs'), '50']), 2);
  expect(events).toEqual([
    [1, 'exited with code 4', 1],
    [2, 'exited with code 3 before it was ready', 0],
  ]);
  expect(exit).toMatchObject({ exitCode: 3, reason: 'exited with code 3 before it was ready' });
  expect(exit.outputTail).toContain('failed to read tensor data: boom');
});
