import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { delimiter, dirname, join, resolve } from 'node:path';
import { NotFoundError } from '../errors.js';
import { findLlamaCppBuild } from '../store/llama-cpp-cache.js';

export interface FindRpcServerOptions {
  /** `--rpc-server PATH`: used as is (must exist and be executable). */
  explicit?: string | undefined;
  /** The llama-server the head side would use (e.g. `--runtime`): its directory is searched first. */
  llamaServer?: string | undefined;
  env?: NodeJS.ProcessEnv | undefined;
}

export interface FoundRpcServer {
  path: string;
  /** Where it was found, for messages: `--rpc-server`, `beside /usr/local/bin/llama-server`, `PATH`, `llama.cpp build`. */
  source: string;
}

/** llama.cpp renamed the binary ggml-rpc-server in late 2025; packages ship either name. */
const NAMES = ['rpc-server', 'ggml-rpc-server'];

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

async function onPath(name: string, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  for (const dir of (env.PATH ?? '').split(delimiter).filter(Boolean)) {
    const candidate = join(dir, name);
    if (await isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/**
 * Which `rpc-server` to run: `--rpc-server`, else the one beside the llama-server llamactl would use (the given one,
 * else the first on PATH: the same build is what the head needs), else `rpc-server` on PATH, else the one of
 * llamactl's own llama.cpp build (`npm run llama-cpp`, `llamactl demo`). None → a NotFoundError saying where to get one.
 */
export async function findRpcServer(options: FindRpcServerOptions = {}): Promise<FoundRpcServer> {
  const env = options.env ?? process.env;
  if (options.explicit !== undefined) {
    const path = resolve(options.explicit);
    if (!(await isExecutable(path))) {
      throw new NotFoundError(`No executable rpc-server at ${path}.`, {
        hint: 'Check the path given with --rpc-server (and its executable bit).',
      });
    }
    return { path, source: '--rpc-server' };
  }
  const tried: string[] = [];
  const llamaServer = options.llamaServer ? resolve(options.llamaServer) : await onPath('llama-server', env);
  if (llamaServer) {
    for (const name of NAMES) {
      const beside = join(dirname(llamaServer), name);
      if (await isExecutable(beside)) return { path: beside, source: `beside ${llamaServer}` };
    }
    tried.push(`beside ${llamaServer}`);
  }
  for (const name of NAMES) {
    const fromPath = await onPath(name, env);
    if (fromPath) return { path: fromPath, source: 'PATH' };
  }
  tried.push('PATH');
  const build = await findLlamaCppBuild(env);
  if (build) return { path: build.rpcServerPath, source: 'llama.cpp build' };
  tried.push("llamactl's llama.cpp build");
  throw new NotFoundError(`No rpc-server found (looked at: ${tried.join(', ')}).`, {
    hint:
      'Build llama.cpp with -DGGML_RPC=ON (cmake --build build --target rpc-server) and pass --rpc-server PATH, ' +
      'or run `npm run llama-cpp` in llamactl to build its own',
  });
}
