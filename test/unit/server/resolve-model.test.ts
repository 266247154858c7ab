import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { NotFoundError, UsageError } from '../../../src/errors.js';
import { resolveModel } from '../../../src/server/resolve-model.js';

let dir: string;
let env: NodeJS.ProcessEnv;
let gguf: string;
let llamafile: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'llamactl-resolve-'));
  env = { LLAMACTL_HOME: join(dir, 'home') };
  gguf = join(dir, 'weights.bin'); // a GGUF is recognised by its magic, not its name
  await writeFile(gguf, 'GGUF\x03\x00\x00\x00');
  llamafile = join(dir, 'model.llamafile');
  await writeFile(llamafile, "MZqFpD='\n");
  await chmod(llamafile, 0o755);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

test('a llamafile path runs as is', async () => {
  expect(await resolveModel(llamafile, undefined, env)).toEqual({ executable: llamafile, modelPath: undefined });
});

test('weights with a runtime: the runtime runs them with -m', async () => {
  expect(await resolveModel(gguf, llamafile, env)).toEqual({ executable: llamafile, modelPath: gguf });
});

test('a GGUF without a runtime asks for --runtime', async () => {
  const error = await resolveModel(gguf, undefined, env).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(UsageError);
  expect((error as UsageError).hint).toContain('--runtime');
});

test('a missing path, a missing runtime and an unknown store name are NotFound', async () => {
  await expect(resolveModel(join(dir, 'nope.llamafile'), undefined, env)).rejects.toThrow(/No file at/);
  await expect(resolveModel(gguf, join(dir, 'no-runtime'), env)).rejects.toThrow(/No runtime at/);
  await expect(resolveModel('someone/some-model:Q4_K_M', undefined, env)).rejects.toBeInstanceOf(NotFoundError);
});
