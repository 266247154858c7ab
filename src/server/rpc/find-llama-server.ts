import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { NotFoundError } from '../../errors.js';
import { findLlamaCppBuild } from '../../store/llama-cpp-cache.js';

/**
 * The llama-server a head runs when no `--runtime` is given: the first on PATH, else llamactl's own llama.cpp build (npm run llama-cpp).
 * (llamafile runtimes do not include llama.cpp's RPC backend, so a head is always an upstream llama-server.)
 */
export async function findLlamaServer(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  for (const dir of (env.PATH ?? '').split(delimiter).filter(Boolean)) {
    const candidate = join(dir, 'llama-server');
    if (await access(candidate, constants.X_OK).then(() => true, () => false)) return candidate;
  }
  const build = await findLlamaCppBuild(env);
  if (build) return build.serverPath;
  throw new NotFoundError("Serving across RPC workers needs llama-server, and none was found (PATH, then llamactl's own llama.cpp build).", {
    hint: 'Pass --runtime PATH/llama-server (a llama.cpp build with -DGGML_RPC=ON), or run `npm run llama-cpp` in llamactl.',
  });
}
