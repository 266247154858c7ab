/**
 * The load deadline counts silence AND idleness: an engine that prints nothing while it works (as upstream
 * llama-server does while it reads tensors) is not killed, one that sits idle is. The "slow loader" is a wrapper
 * script in front of the REAL engine: it works (or sleeps) silently for a while, then execs llama-server.
 */
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { ServerTimeoutError } from '../../src/errors.js';
import { startServer } from '../../src/server/start-server.js';
import { isAlive } from '../../src/system/process-facts.js';

const serverPath = process.env.LLAMACTL_TEST_SERVER!;
const ggufPath = process.env.LLAMACTL_TEST_GGUF!;
let home: string;

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'llamactl-load-'));
});
afterAll(() => rm(home, { recursive: true, force: true }));

/** A runtime that answers --version at once, and otherwise runs `before` silently, then becomes llama-server. */
async function slowLoader(name: string, before: string): Promise<string> {
  const path = join(home, name);
  const quoted = `'${serverPath.replaceAll("'", "'\\''")}'`;
  await writeFile(path, `#!/bin/sh\nif [ "$1" = --version ]; then exec ${quoted} --version; fi\n${before}\nexec ${quoted} "$@"\n`);
  await chmod(path, 0o755);
  return path;
}

const options = (runtime: string) => ({
  model: ggufPath, runtime, ctxSize: 256, threads: 1, parallel: 1, timeoutMs: 1500, force: true,
  env: { ...process.env, LLAMACTL_HOME: home },
});

test.skipIf(process.platform !== 'linux')('an engine busy but silent for twice the deadline is waited for', async () => {
  // 3 s of silent work (the shell's own CPU), twice the 1.5 s deadline.
  const runtime = await slowLoader('busy-loader', 'end=$(($(date +%s) + 3)); while [ "$(date +%s)" -lt "$end" ]; do :; done');
  const started = Date.now();
  const server = await startServer(options(runtime));
  try {
    expect(Date.now() - started).toBeGreaterThan(2000);
    expect((await server.client.health()).ok).toBe(true);
  } finally {
    await server.stop();
  }
  expect(isAlive(server.pid)).toBe(false);
});

test('an engine idle and silent past the deadline is stopped with ServerTimeoutError', async () => {
  const runtime = await slowLoader('idle-loader', 'sleep 30');
  const logs: string[] = [];
  const started = Date.now();
  const error = await startServer({ ...options(runtime), onLog: (line) => logs.push(line) }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(ServerTimeoutError);
  expect((error as Error).message).toMatch(/no progress for 1\.5 s/);
  expect(Date.now() - started).toBeLessThan(10_000);
});
