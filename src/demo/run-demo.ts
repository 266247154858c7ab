/**
 * `llamactl demo`: the whole main job, end to end and offline, on a built-in model. It builds (or reuses) llama.cpp's
 * `llama-server`, makes a tiny llamafile, splits it into `.catN.llamafile` shards on an in-process local hub, pulls
 * them back into one verified executable, serves it, streams a completion through the typed client, and stops.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, open, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { predict, type Prediction } from '../client/predict.js';
import { IntegrityError } from '../errors.js';
import { pull, type PullEvent } from '../pull.js';
import { startServer } from '../server/start-server.js';
import { ensureLlamaCppBuild, findLlamaCppBuild } from './llama-cpp-build.js';
import { LocalHub } from './local-hub.js';
import { ensureStandinLlamafile } from './standin-llamafile.js';
import { ensureTinyModel } from './tiny-model.js';

export type DemoStep = 'engine' | 'model' | 'hub' | 'pull' | 'serve' | 'generate' | 'stop';

export type DemoEvent =
  | { type: 'step'; step: DemoStep; message: string }
  | { type: 'step-done'; step: DemoStep; message: string; ms: number }
  | { type: 'engine-build'; message: string }
  | { type: 'pull'; event: PullEvent }
  | { type: 'token'; text: string };

export interface DemoOptions {
  /** The prompt to complete. @default 'Once upon a time' */
  prompt?: string | undefined;
  /** @default 48 */
  maxTokens?: number | undefined;
  /** Shards to split the demo llamafile into. @default 3 */
  shards?: number | undefined;
  onEvent?: ((event: DemoEvent) => void) | undefined;
  signal?: AbortSignal | undefined;
  env?: NodeJS.ProcessEnv | undefined;
}

export interface DemoResult {
  /** The llamafile assembled by `pull` (deleted when the demo ends). */
  path: string;
  size: number;
  sha256: string;
  shards: { name: string; size: number; sha256: string }[];
  url: string;
  readyMs: number;
  prediction: Prediction;
  totalMs: number;
}

const DEMO_REPO = 'llamactl/tiny-demo-llamafile';
const DEMO_BASENAME = 'TinyLlama-Demo.F16';

export async function runDemo(options: DemoOptions = {}): Promise<DemoResult> {
  const emit = options.onEvent ?? (() => {});
  const env = options.env ?? process.env;
  const signal = options.signal;
  const started = performance.now();
  const step = async <T>(name: DemoStep, message: string, body: () => Promise<T>, done: (value: T) => string) => {
    signal?.throwIfAborted();
    emit({ type: 'step', step: name, message });
    const t0 = performance.now();
    const value = await body();
    emit({ type: 'step-done', step: name, message: done(value), ms: performance.now() - t0 });
    return value;
  };

  const work = await mkdtemp(join(tmpdir(), 'llamactl-demo-'));
  try {
    const engine = await step(
      'engine',
      'llama.cpp engine (llama-server)',
      async () =>
        (await findLlamaCppBuild(env)) ??
        ensureLlamaCppBuild({ env, ...(signal ? { signal } : {}), onProgress: (message) => emit({ type: 'engine-build', message }) }),
      (found) => `ready: ${found.serverPath}`,
    );

    const artifact = await step(
      'model',
      'tiny llamafile (random-weight Llama GGUF + llamafile-format test stand-in)',
      async () => {
        await ensureTinyModel(engine, env);
        const path = await ensureStandinLlamafile(engine, env);
        return { path, ...(await hashFile(path)) };
      },
      (made) => `${made.size} bytes, sha256 ${made.sha256.slice(0, 16)}…`,
    );

    const shardCount = Math.max(1, options.shards ?? 3);
    const files = await splitIntoShards(artifact.path, artifact.size, shardCount, work);
    await using hub = await step(
      'hub',
      `serving ${shardCount} .catN.llamafile shards from an in-process local hub`,
      () => LocalHub.start({ repos: { [DEMO_REPO]: { files: Object.fromEntries(files.map((f) => [f.name, { path: f.path }])) } } }),
      (started) => `${started.endpoint} (${files.map((f) => f.name).join(', ')})`,
    );

    const pulled = await step(
      'pull',
      `llamactl pull ${DEMO_REPO}`,
      () =>
        pull(DEMO_REPO, {
          endpoint: hub.endpoint,
          dir: join(work, 'models'),
          // Its own home, so the pull's record lands in the demo's temp folder, not the user's store.
          env: { ...env, HF_TOKEN: '', LLAMACTL_HOME: join(work, 'home') },
          onProgress: (event) => emit({ type: 'pull', event }),
          ...(signal ? { signal } : {}),
        }),
      (result) => `${result.path} (${result.size} bytes, ${result.shards.length} shards verified)`,
    );
    const joined = await hashFile(pulled.path);
    if (joined.sha256 !== artifact.sha256) {
      throw new IntegrityError(`The joined file ${pulled.path} differs from the original llamafile.`);
    }

    await using server = await step(
      'serve',
      `llamactl serve ${pulled.path}`,
      () => startServer({ model: pulled.path, ctxSize: 512, threads: 2, parallel: 1, env, ...(signal ? { signal } : {}) }),
      (running) => `ready at ${running.url} in ${Math.round(running.readyMs)} ms (pid ${running.pid})`,
    );

    const prompt = options.prompt ?? 'Once upon a time';
    const prediction = await step(
      'generate',
      `streaming a completion of ${JSON.stringify(prompt)} (random weights: expect gibberish)`,
      () =>
        predict(
          server.client,
          { prompt, max_tokens: options.maxTokens ?? 48, seed: 42, temperature: 0.8 },
          { onToken: (text) => emit({ type: 'token', text }), ...(signal ? { signal } : {}) },
        ),
      (done) =>
        `${done.metrics.output_token_count} tokens, ${done.metrics.tokens_per_second?.toFixed(0) ?? '?'} tokens/s, ` +
        `first token after ${((done.metrics.time_to_first_token ?? 0) * 1000).toFixed(0)} ms`,
    );

    await step('stop', 'stopping the server', () => server.stop(), () => 'stopped');
    return {
      path: pulled.path,
      size: pulled.size,
      sha256: joined.sha256,
      shards: pulled.shards,
      url: server.url,
      readyMs: server.readyMs,
      prediction,
      totalMs: performance.now() - started,
    };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function hashFile(path: string): Promise<{ size: number; sha256: string }> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return { size: (await stat(path)).size, sha256: hash.digest('hex') };
}

/** Splits a file into `count` `Name.cat{i}.llamafile` pieces, the way the big models are published on the hub. */
async function splitIntoShards(path: string, size: number, count: number, dir: string) {
  const pieceSize = Math.ceil(size / count);
  const source = await open(path, 'r');
  try {
    const shards: { name: string; path: string }[] = [];
    for (let i = 0; i < count; i++) {
      const name = `${DEMO_BASENAME}.cat${i}.llamafile`;
      const target = join(dir, name);
      const start = i * pieceSize;
      const length = Math.max(0, Math.min(pieceSize, size - start));
      const bytes = Buffer.allocUnsafe(length);
      await source.read(bytes, 0, length, start);
      const out = await open(target, 'w');
      try {
        await out.writeFile(bytes);
      } finally {
        await out.close();
      }
      shards.push({ name, path: target });
    }
    return shards;
  } finally {
    await source.close();
  }
}
