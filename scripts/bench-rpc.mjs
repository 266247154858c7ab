#!/usr/bin/env node
// npm run bench:rpc — the tiny model and a bigger random-weight one (same writer), served on one host vs. split over
// two rpc-server workers on loopback, and over three network namespaces (with 1 ms and 5 ms of tc netem delay where
// the kernel has netem; plain veths otherwise); plus the overhead of llamactl's start-up checks (worker probes, fit
// across machines) over a bare `llama-server --rpc` start. Medians; greedy decoding, fixed seed. Needs `npm run build`.
import { execa } from 'execa';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheDir, startServer, startWorker, stopAllServers } from '../dist/index.js';
import { findLlamaCppBuild } from '../dist/demo/llama-cpp-build.js';
import { ensureFile, ensureTinyModel, vocabPath, writeTinyModel } from '../dist/demo/tiny-model.js';
import { createLab, labAvailable } from './netns-lab.mjs';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const TOKENS = 64;
const CLI = fileURLToPath(new URL('../bin/llamactl.js', import.meta.url));
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

// Runs in this process and, as source text, inside the head's namespace: time to first token and tokens/s of a
// streamed /completion, measured by the client.
const MEASURE = `async function measure(url, rounds, tokens) {
  const out = [];
  for (let i = 0; i < rounds; i++) {
    const started = performance.now();
    const response = await fetch(url + '/completion', { method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'Once upon a time', n_predict: tokens, temperature: 0, seed: 42, stream: true, cache_prompt: false }) });
    let first, count = 0, pending = '';
    const decoder = new TextDecoder();
    for await (const chunk of response.body) {
      pending += decoder.decode(chunk, { stream: true });
      const events = pending.split('\\n\\n');
      pending = events.pop();
      for (const event of events) if (event.startsWith('data: ') && JSON.parse(event.slice(6)).content !== undefined) { count++; first ??= performance.now(); }
    }
    const end = performance.now();
    out.push({ ttftMs: first - started, tokensPerSecond: (count - 1) / ((end - first) / 1000) });
  }
  return out;
}`;
const measure = new Function(`${MEASURE}; return measure;`)();

function summary(runs) {
  return { ttftMs: +median(runs.map((r) => r.ttftMs)).toFixed(1), tokensPerSecond: +median(runs.map((r) => r.tokensPerSecond)).toFixed(1) };
}

const engine = await findLlamaCppBuild();
if (!engine) throw new Error('No llama.cpp build: run `npm run llama-cpp` first.');
const tiny = await ensureTinyModel(engine);
const bigConfig = { blockCount: 8, embeddingLength: 512, headCount: 8, headCountKv: 4, feedForwardLength: 1408 };
const big = await ensureFile(join(cacheDir(), 'fixtures', 'bench-rpc-big-v1.gguf'), (tmp) =>
  writeTinyModel(tmp, { vocabPath: vocabPath(engine), config: bigConfig }));
const base = { runtime: engine.serverPath, ctxSize: 256, threads: 1, parallel: 1 };
const results = [];

// Node 20 has no `await using` in plain JS: everything started goes on this list and is stopped in reverse.
async function using(body) {
  const started = [];
  try {
    return await body((thing) => (started.push(thing), thing));
  } finally {
    for (const thing of started.reverse()) await thing.stop();
  }
}
const workerOptions = { port: 0, threads: 1, rpcServer: engine.rpcServerPath };

for (const [label, model] of [['tiny (8.3 MB)', tiny], ['bigger (8 layers × 512, ~118 MB)', big]]) {
  await using(async (keep) => {
    const server = keep(await startServer({ ...base, model }));
    results.push({ model: label, mode: 'one host', ...summary(await measure(server.url, ROUNDS, TOKENS)) });
  });
  await using(async (keep) => {
    const a = keep(await startWorker(workerOptions));
    const b = keep(await startWorker(workerOptions));
    const server = keep(await startServer({ ...base, model, rpc: [a.address, b.address], gpuLayers: 99 }));
    results.push({ model: label, mode: 'two workers, loopback', ...summary(await measure(server.url, ROUNDS, TOKENS)) });
  });
}

const lab = await labAvailable();
const delays = lab.netns ? [] : lab.netem ? [0] : [1, 5];
const notes = [];
if (lab.netns) notes.push(`namespaces skipped: ${lab.netns}`);
else if (lab.netem) notes.push(`no delay in the namespaces: ${lab.netem}`);
for (const delayMs of delays) {
  const net = await createLab({ delayMs, rateMbit: 1000 });
  const home = join(cacheDir(), `bench-rpc-home-${process.pid}`);
  const env = { ...process.env, LLAMACTL_HOME: home };
  try {
    for (const [index, worker] of net.workers.entries()) {
      await net.exec(worker.ns, process.execPath, [CLI, 'worker', '--host', worker.host, '--port', '50052', '-t', '1',
        '--rpc-server', engine.rpcServerPath, '--detach', '--name', `w${index}`], { env });
    }
    for (const [label, model] of [['tiny (8.3 MB)', tiny], ['bigger (8 layers × 512, ~118 MB)', big]]) {
      const rpc = net.workers.map((w) => `${w.host}:50052`).join(',');
      const serve = await net.exec(net.ns.head, process.execPath, [CLI, 'serve', model, '--runtime', engine.serverPath, '--rpc', rpc,
        '-ngl', '99', '-c', '256', '-t', '1', '--detach', '--json', '--name', 'head'], { env });
      const ready = serve.stdout.trim().split('\n').map((l) => JSON.parse(l)).find((e) => e.type === 'ready');
      const script = `${MEASURE}; process.stdout.write(JSON.stringify(await measure(process.argv[1], ${ROUNDS}, ${TOKENS})));`;
      const { stdout } = await net.exec(net.ns.head, process.execPath, ['--input-type=module', '-e', script, ready.url], { env });
      results.push({ model: label, mode: `two workers, namespaces, ${delayMs} ms delay`, ...summary(JSON.parse(stdout)) });
      await execa(process.execPath, [CLI, 'stop', 'head'], { env });
    }
  } finally {
    await stopAllServers({ env });
    await net.destroy();
    await rm(home, { recursive: true, force: true });
  }
}

// Start-up overhead: startServer({ rpc }) call → ready, against the same llama-server argv spawned bare and polled.
await using(async (keep) => {
  const a = keep(await startWorker(workerOptions));
  const b = keep(await startWorker(workerOptions));
  const llamactl = [];
  const bare = [];
  const checks = [];
  for (let round = 0; round < ROUNDS * 2 + 1; round++) {
    let started = performance.now();
    let checkMs;
    const server = await startServer({ ...base, model: tiny, rpc: [a.address, b.address], gpuLayers: 99, onRpc: (e) => e.type === 'workers' && (checkMs = e.checkMs) });
    llamactl.push(performance.now() - started);
    checks.push(checkMs);
    const argv = server.argv.slice(1);
    await server.stop();
    started = performance.now();
    const child = execa(engine.serverPath, argv, { reject: false, stdio: 'ignore' });
    const url = server.url;
    for (;;) {
      const status = await fetch(`${url}/health`).then((r) => r.status, () => 0);
      if (status === 200) break;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    bare.push(performance.now() - started);
    child.kill('SIGTERM');
    await child;
  }
  results.push({
    mode: 'start-up, tiny model over two loopback workers',
    llamactlMs: +median(llamactl).toFixed(1), bareMs: +median(bare).toFixed(1),
    overheadMs: +(median(llamactl) - median(bare)).toFixed(1), workerChecksMs: median(checks),
  });
});

console.table(results);
if (notes.length) console.log(notes.join('\n'));
console.log(JSON.stringify({ rounds: ROUNDS, tokens: TOKENS, results, notes }));
