import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { NotFoundError, UsageError } from '../errors.js';
import { startsWithGgufMagic } from '../format/gguf-magic.js';

/** What to exec and which weights to hand it. */
export interface ResolvedModel {
  /** The executable: the llamafile itself, or the `--runtime`. */
  executable: string;
  /** Weights for `-m` (only with a runtime). */
  modelPath: string | undefined;
}

/**
 * Turns the `<model>` argument into an executable + weights: a path to a llamafile (run as is), a path to a .gguf
 * (needs `runtime`), or a store name from `llamactl pull` (looked up with findModel). Preflight: the files exist and
 * are readable.
 */
export async function resolveModel(
  model: string,
  runtime: string | undefined,
  env?: NodeJS.ProcessEnv,
): Promise<ResolvedModel> {
  const path = (await isFile(model)) ? resolve(model) : await storePath(model, env);
  await assertReadable(path);
  if (runtime !== undefined) {
    const runtimePath = resolve(runtime);
    if (!(await isFile(runtimePath))) {
      throw new NotFoundError(`No runtime at ${runtimePath}.`, { hint: 'Pass the path of a llamafile or llama-server.' });
    }
    return { executable: runtimePath, modelPath: path };
  }
  if (await startsWithGgufMagic(path)) {
    throw new UsageError(`${model} is a GGUF file: it needs a runtime to serve it.`, {
      hint: 'Add --runtime PATH (a llamafile or llama-server binary).',
      option: 'runtime',
    });
  }
  return { executable: path, modelPath: undefined };
}

async function storePath(model: string, env: NodeJS.ProcessEnv | undefined): Promise<string> {
  const { findModel } = await import('../store/models.js');
  try {
    return (await findModel(model, env)).path;
  } catch (error) {
    const looksLikePath = /^(\.{0,2}\/|~)/.test(model) || /\.(llamafile|gguf)$/i.test(model);
    if (error instanceof NotFoundError && looksLikePath) {
      throw new NotFoundError(`No file at ${resolve(model)}.`, {
        hint: 'Check the path, or pass a model name from `llamactl ls`.',
        cause: error,
      });
    }
    throw error;
  }
}

async function isFile(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isFile() ?? false;
}

async function assertReadable(path: string): Promise<void> {
  try {
    await access(path, constants.R_OK);
  } catch (error) {
    throw new NotFoundError(`Cannot read ${path}.`, { hint: 'Check its permissions.', cause: error });
  }
}
