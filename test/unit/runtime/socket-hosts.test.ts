/**
 * takesSocketHosts(): asks the engine's own --help whether `--host` takes a list with `.sock` paths. The real
 * llama-server (which does) is checked in serve-socket.test.ts; here, scripts that print an old help, the new one,
 * or nothing.
 */
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { RuntimeInfo } from '../../../src/runtime/runtime-info.js';
import { takesSocketHosts } from '../../../src/runtime/socket-hosts.js';
import { buildServerArgs } from '../../../src/runtime/server-args.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'llamactl-socket-hosts-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function engine(name: string, help: string, kind: RuntimeInfo['kind'] = 'llama-server'): Promise<RuntimeInfo> {
  const path = join(dir, name);
  await writeFile(path, `#!/bin/sh\ncat <<'EOF'\n${help}\nEOF\n`);
  await chmod(path, 0o755);
  return { path, kind, version: undefined, ape: false };
}

const NEW_HELP = [
  '-a,    --alias STRING                  set alias for model name',
  '--host HOST                            IP addresses to listen on, comma-separated, or UNIX socket paths ending in',
  '                                       .sock; with multiple TCP addresses, :: binds IPv6 only (default: 127.0.0.1)',
  '--port PORT                            port to listen (default: 8080)',
].join('\n');
const OLD_HELP = [
  '--host HOST                            ip address to listen, or bind to an UNIX socket if the address ends with',
  '                                       .sock (default: 127.0.0.1)',
  '--port PORT                            port to listen (default: 8080)',
].join('\n');

describe.skipIf(process.platform !== 'linux')('takesSocketHosts', () => {
  test('a llama-server whose --host takes a list of addresses and .sock paths: yes', async () => {
    expect(await takesSocketHosts(await engine('new', NEW_HELP))).toBe(true);
  });

  test('one that binds a single address (a .sock alone would leave no TCP port): no', async () => {
    expect(await takesSocketHosts(await engine('old', OLD_HELP))).toBe(false);
  });

  test('no --host line, an engine that fails, a llamafile, a missing file: no', async () => {
    expect(await takesSocketHosts(await engine('none', 'usage: nothing here'))).toBe(false);
    const failing = await engine('fails', NEW_HELP);
    await writeFile(failing.path, '#!/bin/sh\nexit 3\n');
    expect(await takesSocketHosts(failing)).toBe(false);
    expect(await takesSocketHosts(await engine('llamafile', NEW_HELP, 'llamafile-0.10'))).toBe(false);
    expect(await takesSocketHosts({ path: join(dir, 'missing'), kind: 'llama-server', version: undefined, ape: false })).toBe(false);
  });
});

test('the socket goes into --host after the TCP address', () => {
  const args = buildServerArgs('llama-server', { modelPath: 'm.gguf', host: '127.0.0.1', port: 8081, socket: '/run/e.sock' });
  expect(args.slice(args.indexOf('--host'), args.indexOf('--host') + 4)).toEqual(['--host', '127.0.0.1,/run/e.sock', '--port', '8081']);
  expect(buildServerArgs('llama-server', { modelPath: 'm.gguf', host: '127.0.0.1', port: 8081 })).toContain('127.0.0.1');
});
