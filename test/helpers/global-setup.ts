/**
 * Vitest global setup: makes sure the engine, the tiny model and the stand-in llamafile exist (all cached across
 * runs) before any test starts, and hands their paths to the test workers through the environment.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ensureEngine } from '../../src/engine/engine.js';

export default async function setup(): Promise<void> {
  const engine = await ensureEngine({ onProgress: (message) => console.error(`engine: ${message}`) });
  process.env.LLAMACTL_TEST_SERVER = engine.serverPath;
  process.env.LLAMACTL_TEST_RPC_SERVER = engine.rpcServerPath;
  process.env.LLAMACTL_TEST_VOCAB = join(engine.sourceDir, 'models', 'ggml-vocab-llama-spm.gguf');
  // The fixture generators land separately; wire them as soon as their modules exist.
  const here = new URL('../../src/engine/', import.meta.url);
  const tinyModel = new URL('tiny-model.ts', here);
  if (existsSync(tinyModel)) {
    const { ensureTinyModel } = await import(tinyModel.href);
    process.env.LLAMACTL_TEST_GGUF = await ensureTinyModel(engine);
  }
  const standin = new URL('standin-llamafile.ts', here);
  if (existsSync(standin)) {
    const { ensureStandinLlamafile } = await import(standin.href);
    process.env.LLAMACTL_TEST_LLAMAFILE = await ensureStandinLlamafile(engine);
  }
}
