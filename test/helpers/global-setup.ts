/**
 * Vitest global setup: makes sure the llama.cpp build, the tiny model and the stand-in llamafile exist (all cached
 * across runs) before any test starts, and hands their paths to the test workers through the environment.
 */
import { join } from 'node:path';
import { ensureLlamaCppBuild } from '../../src/demo/llama-cpp-build.js';
import { ensureStandinLlamafile } from '../../src/demo/standin-llamafile.js';
import { ensureTinyModel } from '../../src/demo/tiny-model.js';

export default async function setup(): Promise<void> {
  const build = await ensureLlamaCppBuild({ onProgress: (message) => console.error(`llama.cpp: ${message}`) });
  process.env.LLAMACTL_TEST_SERVER = build.serverPath;
  process.env.LLAMACTL_TEST_RPC_SERVER = build.rpcServerPath;
  process.env.LLAMACTL_TEST_VOCAB = join(build.sourceDir, 'models', 'ggml-vocab-llama-spm.gguf');
  process.env.LLAMACTL_TEST_GGUF = await ensureTinyModel(build);
  process.env.LLAMACTL_TEST_LLAMAFILE = await ensureStandinLlamafile(build);
}
