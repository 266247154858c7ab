import { chmod, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { NotFoundError, RuntimeError } from '../../../src/errors.js';
import { detectRuntime } from '../../../src/runtime/detect-runtime.js';

let dir: string;
let env: NodeJS.ProcessEnv;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'llamactl-runtime-'));
  env = { LLAMACTL_CACHE: join(dir, 'cache') };
});
afterEach(() => rm(dir, { recursive: true, force: true }));

async function executable(name: string, body: string, mode = 0o755): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, body);
  await chmod(path, mode);
  return path;
}

test('a script that prints a llamafile version is a legacy llamafile', async () => {
  const path = await executable('old.llamafile', '#!/bin/sh\necho "llamafile v0.8.13"\n');
  expect(await detectRuntime(path, { env })).toEqual({ path, kind: 'llamafile-legacy', version: '0.8.13', ape: false });
});

test('the APE magic is recognised, and an APE prolog without a shebang still runs (via /bin/sh where needed)', async () => {
  const path = await executable('new.llamafile', "MZqFpD='\n'\necho 'llamafile v0.10.0-test'\nexit 0\n");
  expect(await detectRuntime(path, { env })).toMatchObject({ kind: 'llamafile-0.10', version: '0.10.0-test', ape: true });
});

test('detection runs --version once per path + mtime + size', async () => {
  const counter = join(dir, 'count');
  const path = await executable('counted', `#!/bin/sh\necho x >> '${counter}'\necho "llamafile v0.9.3"\n`);
  await detectRuntime(path, { env });
  await detectRuntime(path, { env });
  expect((await readFile(counter, 'utf8')).split('\n').filter(Boolean)).toHaveLength(1);
  await utimes(path, new Date(), new Date(Date.now() + 5000));
  await detectRuntime(path, { env });
  expect((await readFile(counter, 'utf8')).split('\n').filter(Boolean)).toHaveLength(2);
});

test('a file without the executable bit is refused with the chmod fix', async () => {
  const path = await executable('plain.llamafile', '#!/bin/sh\necho "llamafile v0.8.13"\n', 0o644);
  const error = await detectRuntime(path, { env }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(RuntimeError);
  expect((error as RuntimeError).hint).toContain('chmod +x');
});

test('a runtime detected before and then made non-executable is refused with the fix, not served from the cache', async () => {
  const path = await executable('was-fine.llamafile', '#!/bin/sh\necho "llamafile v0.8.13"\n');
  expect((await detectRuntime(path, { env })).kind).toBe('llamafile-legacy');
  await chmod(path, 0o644); // chmod changes neither mtime nor size
  const error = await detectRuntime(path, { env }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(RuntimeError);
  expect((error as RuntimeError).hint).toContain('chmod +x');
});

test('an executable that is not a runtime is an unknown runtime', async () => {
  const path = await executable('other', '#!/bin/sh\necho "hello"\n');
  await expect(detectRuntime(path, { env })).rejects.toThrow(/Unknown runtime/);
});

test('a missing file is NotFound', async () => {
  await expect(detectRuntime(join(dir, 'nope'), { env })).rejects.toBeInstanceOf(NotFoundError);
});
