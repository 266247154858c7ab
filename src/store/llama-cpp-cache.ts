/**
 * Where the cached llama.cpp build (src/demo/llama-cpp-build.ts makes it) lies, and whether it is complete. Here, on
 * the store's floor, so that the RPC head and `llamactl worker` can use that build's binaries without importing the
 * demo code that builds it.
 */
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { readSmallFile } from '../system/regular-file.js';
import { LLAMA_CPP_PIN } from '../version.js';
import { cacheDir } from './paths.js';

export interface LlamaCppBuild {
  /** The `llama-server` binary. */
  serverPath: string;
  /** The `rpc-server` binary of the same build (llama.cpp's RPC backend, for `llamactl worker`). */
  rpcServerPath: string;
  /** The llama.cpp checkout it was built from (holds `models/ggml-vocab-*.gguf`). */
  sourceDir: string;
  /** llama.cpp release tag, e.g. `v0.5.0`. */
  tag: string;
}

/** What the cached build contains; a stamp with other contents is rebuilt. */
export const BUILD_CONTENTS = 'llama-server+rpc-server';

export interface BuildStamp {
  tag: string;
  contents?: string;
  nodeLlamaCpp: string;
  builtAt: string;
  buildSeconds: number;
}

// The folder (and its `engine.json` stamp) keep the names of earlier versions, so a cached build stays valid.
export function buildDir(env: NodeJS.ProcessEnv): string {
  return join(cacheDir(env), 'engine', `llama.cpp-${LLAMA_CPP_PIN.llamaCppTag}`);
}

/** The build if it is already there, else undefined. Never builds. */
export async function findLlamaCppBuild(env: NodeJS.ProcessEnv = process.env): Promise<LlamaCppBuild | undefined> {
  const dir = buildDir(env);
  const build: LlamaCppBuild = {
    serverPath: join(dir, 'bin', 'llama-server'),
    rpcServerPath: join(dir, 'bin', 'rpc-server'),
    sourceDir: join(dir, 'src'),
    tag: LLAMA_CPP_PIN.llamaCppTag,
  };
  try {
    // Read without blocking and bounded, as every state file is (system/regular-file.ts).
    const stamp = JSON.parse(await readSmallFile(join(dir, 'engine.json'), 64 * 1024)) as BuildStamp;
    if (stamp.tag !== LLAMA_CPP_PIN.llamaCppTag || stamp.nodeLlamaCpp !== LLAMA_CPP_PIN.nodeLlamaCpp) return undefined;
    if (stamp.contents !== BUILD_CONTENTS) return undefined;
    await access(build.serverPath, constants.X_OK);
    await access(build.rpcServerPath, constants.X_OK);
    return build;
  } catch {
    return undefined;
  }
}
