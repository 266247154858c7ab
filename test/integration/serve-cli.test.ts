/**
 * serve / ps / logs / stop through the built CLI as a child process (LLAMACTL_HOME in a temp dir), against the
 * real engine. Includes the guarantee that a SIGKILLed foreground `llamactl serve` leaves no engine behind.
 */
import { execa } from 'execa';
import { createServer, type Server } from 'node:net';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, expect, test } from 'vitest';
import { isAlive } from '../../src/system/process-facts.js';
import { CLI, runCli } from '../helpers/cli.js';

const serverPath = process.env.LLAMACTL_TEST_SERVER!;
const ggufPath = process.env.LLAMACTL_TEST_GGUF!;

let home: string;
let env: NodeJS.ProcessEnv;
const enginePids: number[] = [];
/** Foreground CLIs still running when a test fails; SIGKILLing them lets the watchdog take their engines down. */
const children: { kill: (signal: NodeJS.Signals) => boolean }[] = [];

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'llamactl-serve-cli-'));
  env = { ...process.env, LLAMACTL_HOME: home };
});
afterEach(async () => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
  await runCli(['stop', '--all', '--grace', '1'], { env });
  for (const pid of enginePids.splice(0)) {
    if (isAlive(pid)) process.kill(-pid, 'SIGKILL');
  }
});
afterAll(() => rm(home, { recursive: true, force: true }));

const serveArgs = ['--runtime', serverPath, '-c', '256', '-t', '1', '--np', '1'];

async function waitGone(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (isAlive(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return true;
}

/** Starts a foreground `llamactl serve --json` and resolves with its ready event. */
async function serveForeground(extra: string[] = []) {
  const cli = execa(process.execPath, [CLI, 'serve', ggufPath, ...serveArgs, '--json', ...extra], { env, reject: false });
  children.push(cli);
  const ready = await new Promise<{ pid: number; url: string }>((resolve, reject) => {
    let buffer = '';
    cli.stdout!.on('data', (data: Buffer) => {
      buffer += String(data);
      const line = buffer.split('\n').find((l) => l.includes('"type":"ready"'));
      if (line) resolve(JSON.parse(line) as { pid: number; url: string });
    });
    void cli.then((result) => reject(new Error(`serve exited early: ${result.stderr}`)));
  });
  enginePids.push(ready.pid);
  return { cli, ready };
}

test('serve --detach returns when ready; ps shows it healthy; logs prints its output; stop ends it', async () => {
  const serve = await runCli(['serve', ggufPath, ...serveArgs, '--detach', '--name', 'tiny', '--json'], { env });
  expect(serve.exitCode, serve.stderr).toBe(0);
  const ready = JSON.parse(serve.stdout.trim().split('\n').at(-1)!) as { pid: number; url: string; name: string };
  enginePids.push(ready.pid);
  expect(ready.name).toBe('tiny');
  expect((await fetch(`${ready.url}/health`)).status).toBe(200);

  const ps = await runCli(['ps', '--json'], { env });
  expect(JSON.parse(ps.stdout)).toMatchObject([{ name: 'tiny', pid: ready.pid, state: 'ready', url: ready.url }]);
  expect((await runCli(['ps'], { env })).stdout).toMatch(/tiny\s+ready/);

  const logs = await runCli(['logs', 'tiny'], { env });
  expect(logs.exitCode).toBe(0);
  expect(logs.stdout).toContain(`listening on ${ready.url}`);

  const again = await runCli(['serve', ggufPath, ...serveArgs, '--detach', '--name', 'tiny'], { env });
  expect(again.exitCode).toBe(2);
  expect(again.stderr).toContain('already running');

  const stop = await runCli(['stop', 'tiny'], { env });
  expect(stop.exitCode).toBe(0);
  expect(stop.stdout).toContain(`Stopped tiny (pid ${ready.pid})`);
  expect(await waitGone(ready.pid, 5000)).toBe(true);
  expect(JSON.parse((await runCli(['ps', '--json'], { env })).stdout)).toEqual([]);
  expect((await runCli(['stop', 'tiny'], { env })).exitCode).toBe(3);
});

test('two serve --detach of one model at once get two names and two records', async () => {
  const both = await Promise.all([0, 1].map(() => runCli(['serve', ggufPath, ...serveArgs, '--detach', '--json'], { env })));
  const ready = both.map((serve) => {
    expect(serve.exitCode, serve.stderr).toBe(0);
    return JSON.parse(serve.stdout.trim().split('\n').at(-1)!) as { pid: number; name: string };
  });
  enginePids.push(...ready.map((r) => r.pid));
  const stem = ggufPath.split('/').at(-1)!.replace(/\.gguf$/, '');
  expect(ready.map((r) => r.name).sort()).toEqual([stem, `${stem}-2`]);
  const ps = JSON.parse((await runCli(['ps', '--json'], { env })).stdout) as { name: string; pid: number; state: string }[];
  expect(ps.map((s) => [s.name, s.pid, s.state]).sort()).toEqual(ready.map((r) => [r.name, r.pid, 'ready']).sort());
});

test('logs -f follows a detached server until it is stopped', async () => {
  const serve = await runCli(['serve', ggufPath, ...serveArgs, '--detach', '--name', 'follow', '--json'], { env });
  const ready = JSON.parse(serve.stdout.trim().split('\n').at(-1)!) as { pid: number; url: string };
  enginePids.push(ready.pid);
  const follow = execa(process.execPath, [CLI, 'logs', 'follow', '-f'], { env, reject: false });
  children.push(follow);
  await fetch(`${ready.url}/completion`, { method: 'POST', body: JSON.stringify({ prompt: 'hi', n_predict: 2 }) });
  await new Promise((resolve) => setTimeout(resolve, 300));
  await runCli(['stop', 'follow'], { env });
  const result = await follow;
  expect(result.exitCode).toBe(0);
  expect(result.stdout).toContain('listening on');
  expect(result.stdout).toMatch(/cleaning up before exit/);
});

test('SIGKILL of a foreground llamactl serve leaves no engine behind (within 2 s)', async () => {
  const { cli, ready } = await serveForeground();
  expect(isAlive(ready.pid)).toBe(true);
  cli.kill('SIGKILL');
  await cli;
  expect(await waitGone(ready.pid, 2000)).toBe(true);
});

/**
 * Starts `llamactl serve` (with `extra` flags) on a runtime that takes its time before it execs the real engine, so
 * the CLI can be killed mid-load; resolves once the engine's process runs, with its pid.
 */
async function serveSlowLoad(tag: string, extra: string[], cliEnv = env) {
  const runtime = join(home, `slow-load-${tag}.sh`);
  const pidFile = join(home, `slow-load-${tag}.pid`);
  await writeFile(runtime, `#!/bin/sh\n[ "$1" = --version ] || { echo $$ > '${pidFile}'; sleep 30; }\nexec '${serverPath}' "$@"\n`, { mode: 0o755 });
  const cli = execa(process.execPath, [CLI, 'serve', ggufPath, '--runtime', runtime, ...serveArgs.slice(2), ...extra], { env: cliEnv, reject: false });
  children.push(cli);
  let pid = NaN;
  for (let i = 0; i < 400 && !(pid > 0); i++) {
    await new Promise((resolve) => setTimeout(resolve, 25));
    pid = Number.parseInt(await readFile(pidFile, 'utf8').catch(() => ''), 10);
  }
  enginePids.push(pid);
  expect(isAlive(pid)).toBe(true);
  // A kill during the load, not in the tick after the spawn (that one is covered by the watchdog's mark: see below).
  await new Promise((resolve) => setTimeout(resolve, 300));
  return { cli, pid };
}

test('SIGKILL of a foreground llamactl serve while the engine loads leaves no engine and no temp file behind', async () => {
  // The engine's output goes to a file in TMPDIR whose name is removed as soon as it is open.
  const tmp = join(home, 'tmp');
  await mkdir(tmp);
  const { cli, pid } = await serveSlowLoad('fg', [], { ...env, TMPDIR: tmp });
  cli.kill('SIGKILL');
  await cli;
  expect(await waitGone(pid, 5000), `engine ${pid} outlived serve`).toBe(true);
  expect(await readdir(tmp)).toEqual([]);
});

test.each(['SIGKILL', 'SIGHUP'] as const)(
  '%s of serve --detach while the engine loads leaves no engine and no record behind',
  async (signal) => {
    // Killed mid-load, before the record is written.
    const { cli, pid } = await serveSlowLoad(signal, ['--detach', '--name', 'loading']);
    cli.kill(signal);
    expect((await cli).signal).toBe(signal);
    expect(await waitGone(pid, 3000), `engine ${pid} outlived serve --detach`).toBe(true);
    expect(JSON.parse((await runCli(['ps', '--json'], { env })).stdout)).toEqual([]);
    expect(existsSync(join(home, 'run', 'loading.json'))).toBe(false);
  },
);

test('an engine killed with its owner before it was handed to the watchdog is found by its mark; a released one is left', async () => {
  const script = fileURLToPath(new URL('../fixtures/server/marked-children.mjs', import.meta.url));
  const watchdogUrl = new URL('../../dist/server/watchdog.js', import.meta.url).href;
  const host = execa(process.execPath, [script, watchdogUrl], { env, reject: false });
  children.push(host);
  const pids = await new Promise<{ marked: number; released: number }>((resolve, reject) => {
    host.stdout!.on('data', (data: Buffer) => {
      const line = String(data).split('\n').find((l) => l.startsWith('{'));
      if (line) resolve(JSON.parse(line) as { marked: number; released: number });
    });
    void host.then((result) => reject(new Error(`exited early: ${result.stderr}`)));
  });
  enginePids.push(pids.marked, pids.released);
  host.kill('SIGKILL');
  await host;
  expect(await waitGone(pids.marked, 5000)).toBe(true);
  expect(isAlive(pids.released)).toBe(true);
});

test('SIGKILL of a library user running two servers takes both engines down (one shared watchdog)', async () => {
  const script = fileURLToPath(new URL('../fixtures/server/two-servers.mjs', import.meta.url));
  const indexUrl = new URL('../../dist/index.js', import.meta.url).href;
  const host = execa(process.execPath, [script, indexUrl, serverPath, ggufPath], { env, reject: false });
  children.push(host);
  const pids = await new Promise<number[]>((resolve, reject) => {
    host.stdout!.on('data', (data: Buffer) => {
      const line = String(data).split('\n').find((l) => l.startsWith('['));
      if (line) resolve(JSON.parse(line) as number[]);
    });
    void host.then((result) => reject(new Error(`exited early: ${result.stderr}`)));
  });
  enginePids.push(...pids);
  expect(pids.every((pid) => isAlive(pid))).toBe(true);
  host.kill('SIGKILL');
  await host;
  for (const pid of pids) expect(await waitGone(pid, 2000)).toBe(true);
});

test('--restart on-failure: a killed engine is restarted and the restart is logged', async () => {
  const { cli, ready } = await serveForeground(['--restart', 'on-failure']);
  const restarted = new Promise<string>((resolve) => {
    cli.stdout!.on('data', (data: Buffer) => {
      const line = String(data).split('\n').find((l) => l.includes('"type":"restart"'));
      if (line) resolve(line);
    });
  });
  process.kill(ready.pid, 'SIGKILL');
  expect(JSON.parse(await restarted)).toMatchObject({ type: 'restart', attempt: 1, reason: 'was killed by SIGKILL', retriesLeft: 4 });
  let healthy = false;
  for (let i = 0; i < 200 && !healthy; i++) {
    healthy = await fetch(`${ready.url}/health`).then((r) => r.status === 200, () => false);
    if (!healthy) await new Promise((resolve) => setTimeout(resolve, 50));
  }
  expect(healthy).toBe(true);
  cli.kill('SIGINT');
  expect((await cli).exitCode).toBe(0);
});

test('a crash after ready fails with exit 8, the reason and the output tail', async () => {
  const { cli, ready } = await serveForeground();
  process.kill(ready.pid, 'SIGKILL');
  const result = await cli;
  expect(result.exitCode).toBe(8);
  expect(result.stderr).toContain('The server was killed by SIGKILL.\n--- last output ---\n');
  expect(result.stderr).toContain(`listening on ${ready.url}`);
  expect(result.stderr).toContain('--restart on-failure restarts a crashed server');
});

test('--restart on-failure does not restart an engine shut down from outside (SIGTERM)', async () => {
  const { cli, ready } = await serveForeground(['--restart', 'on-failure']);
  process.kill(ready.pid, 'SIGTERM');
  const result = await cli;
  expect(result.exitCode).toBe(0);
  expect(String(result.stdout)).toContain('"type":"exited"');
  expect(String(result.stdout)).not.toContain('"type":"restart"');
  expect(isAlive(ready.pid)).toBe(false);
});

test('--restart on-failure: each restart is one clean line; when they run out the error has the last output', async () => {
  // The first run is the real engine; every restart fails at once, as a corrupted model or a lost GPU would.
  const runtime = join(home, 'fails-on-restart.sh');
  const marker = join(home, 'fails-on-restart.ran');
  await writeFile(runtime, `#!/bin/sh\nif [ "$1" != --version ]; then\n  [ -e '${marker}' ] && { echo 'boom: cannot start again' >&2; exit 3; }\n  touch '${marker}'\nfi\nexec '${serverPath}' "$@"\n`, { mode: 0o755 });
  const cli = execa(process.execPath, [CLI, 'serve', ggufPath, '--runtime', runtime, ...serveArgs.slice(2), '--restart', 'on-failure'], { env, reject: false });
  children.push(cli);
  const pid = await new Promise<number>((resolve) => {
    cli.stdout!.on('data', (data: Buffer) => {
      const match = /pid (\d+)/.exec(String(data));
      if (match) resolve(Number(match[1]));
    });
  });
  enginePids.push(pid);
  process.kill(pid, 'SIGKILL');
  const result = await cli;
  expect(result.exitCode).toBe(8);
  const restarts = result.stderr.split('\n').filter((line) => line.includes('restarting'));
  expect(restarts).toEqual([
    'llamactl: the server was killed by SIGKILL; restarting (restart 1, 4 left)',
    'llamactl: the server exited with code 3 before it was ready; restarting (restart 2, 3 left)',
    'llamactl: the server exited with code 3 before it was ready; restarting (restart 3, 2 left)',
    'llamactl: the server exited with code 3 before it was ready; restarting (restart 4, 1 left)',
    'llamactl: the server exited with code 3 before it was ready; restarting (restart 5, 0 left)',
  ]);
  expect(result.stderr).toContain('The server exited with code 3 before it was ready.\n--- last output ---\nboom: cannot start again');
  expect(result.stderr).toContain('no restarts left');
  expect(result.stderr).not.toContain('add --restart');
}, 60_000);

test('--detach --restart on-failure: a detached supervisor restarts a killed engine; stop ends both', async () => {
  const serve = await runCli(['serve', ggufPath, ...serveArgs, '--detach', '--restart', 'on-failure', '--name', 'sup', '--json'], { env });
  expect(serve.exitCode, serve.stderr).toBe(0);
  const ready = JSON.parse(serve.stdout.trim().split('\n').at(-1)!) as { pid: number; url: string };
  enginePids.push(ready.pid);
  const enginePid = async () => Number(/engine pid (\d+)/.exec((await runCli(['logs', 'sup'], { env })).stdout)?.[1]);
  const first = await enginePid();
  expect(isAlive(first)).toBe(true);
  process.kill(first, 'SIGKILL');
  let logs = '';
  for (let i = 0; i < 200 && !/restarting \(restart 1/.test(logs); i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    logs = (await runCli(['logs', 'sup'], { env })).stdout;
  }
  expect(logs).toContain('the server was killed by SIGKILL; restarting (restart 1, 4 left)');
  let healthy = false;
  for (let i = 0; i < 200 && !healthy; i++) {
    healthy = await fetch(`${ready.url}/health`).then((r) => r.status === 200, () => false);
    if (!healthy) await new Promise((resolve) => setTimeout(resolve, 50));
  }
  expect(healthy).toBe(true);
  const second = Number([...(await runCli(['logs', 'sup'], { env })).stdout.matchAll(/listening on/g)].length);
  expect(second).toBeGreaterThanOrEqual(2);
  expect((await runCli(['stop', 'sup'], { env })).exitCode).toBe(0);
  expect(await waitGone(ready.pid, 5000)).toBe(true);
  await expect(fetch(`${ready.url}/health`)).rejects.toThrow();
});

test('Ctrl-C (SIGINT) stops a foreground serve cleanly', async () => {
  const { cli, ready } = await serveForeground();
  cli.kill('SIGINT');
  const result = await cli;
  expect(result.exitCode).toBe(0);
  expect(String(result.stdout)).toContain('"type":"stopped"');
  expect(isAlive(ready.pid)).toBe(false);
});

test('bad input gets a clear message and its exit code', async () => {
  const missing = await runCli(['serve', join(home, 'nope.llamafile'), '-ngl', '99', '-np', '2'], { env });
  expect(missing.exitCode).toBe(3);
  expect(missing.stderr).toContain('No file at');

  const noRuntime = await runCli(['serve', ggufPath], { env });
  expect(noRuntime.exitCode).toBe(2);
  expect(noRuntime.stderr).toContain('--runtime');

  const blocker: Server = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const port = String((blocker.address() as { port: number }).port);
  const taken = await runCli(['serve', ggufPath, ...serveArgs, '--port', port], { env });
  await new Promise((resolve) => blocker.close(resolve));
  expect(taken.exitCode).toBe(8);
  expect(taken.stderr).toContain(`Port ${port} on 127.0.0.1 is already in use`);

  const corrupt = join(home, 'corrupt.gguf');
  await writeFile(corrupt, Buffer.concat([Buffer.from('GGUF'), Buffer.alloc(64, 0xff)]));
  const crashed = await runCli(['serve', corrupt, ...serveArgs], { env });
  expect(crashed.exitCode).toBe(8);
  expect(crashed.stderr).toMatch(/exited with code \d+ before it was ready/);
  expect(crashed.stderr).toContain('--- last output ---');

  const notExecutable = join(home, 'plain.llamafile');
  await writeFile(notExecutable, "MZqFpD='\n");
  const refused = await runCli(['serve', notExecutable], { env });
  expect(refused.exitCode).toBe(8);
  expect(refused.stderr).toContain('chmod +x');
});
