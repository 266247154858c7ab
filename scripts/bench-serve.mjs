#!/usr/bin/env node
/**
 * npm run bench:serve — what startServer() adds to the engine's own start-up time.
 *
 * A: `startServer({ model: tiny.gguf, runtime: llama-server })`, timed from the call until it resolves (runtime
 *    detection cached after the warm-up run, port pick, spawn, readiness, watchdog).
 * B: the engine's own ready time: the same llama-server binary with the same argv, spawned directly, and a tight
 *    /health poll (a new request as soon as the previous one answers) until it says 200.
 * Runs alternate A/B in one process; medians are reported. Target: median(A) − median(B) ≤ 30 ms.
 *
 * Needs `npm run build` and the engine (`npm run engine`). Options: --rounds N (default 9), --json.
 */
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { performance } from 'node:perf_hooks';

const args = process.argv.slice(2);
const rounds = Number(args[args.indexOf('--rounds') + 1] ?? 0) || 9;
const asJson = args.includes('--json');

const { findEngine, ensureEngine } = await import('../dist/engine/engine.js');
const { ensureTinyModel } = await import('../dist/engine/tiny-model.js');
const { startServer } = await import('../dist/server/start-server.js');

const engine = (await findEngine()) ?? (await ensureEngine({ onProgress: (m) => console.error(`engine: ${m}`) }));
const gguf = await ensureTinyModel(engine);
const flags = ['-c', '256', '-t', '1', '-np', '1'];

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};

const freePort = () =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });

const status = (port) =>
  new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/health', agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', () => resolve(undefined));
    req.end();
  });

async function viaStartServer() {
  const started = performance.now();
  const server = await startServer({ model: gguf, runtime: engine.serverPath, ctxSize: 256, threads: 1, parallel: 1 });
  const total = performance.now() - started;
  await server.stop();
  return { total, readyMs: server.readyMs };
}

async function bare() {
  const port = await freePort();
  const started = performance.now();
  const child = spawn(engine.serverPath, ['-m', gguf, '--host', '127.0.0.1', '--port', String(port), ...flags], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.resume();
  child.stderr.resume();
  const exited = new Promise((resolve) => child.once('exit', resolve));
  while ((await status(port)) !== 200) {}
  const total = performance.now() - started;
  process.kill(-child.pid, 'SIGTERM');
  await exited;
  return { total };
}

await viaStartServer(); // warm-up: runtime detection, page cache
await bare();
const a = [];
const b = [];
const inner = [];
for (let round = 0; round < rounds; round++) {
  const first = round % 2 === 0;
  if (first) {
    const r = await viaStartServer();
    a.push(r.total);
    inner.push(r.readyMs);
  }
  b.push((await bare()).total);
  if (!first) {
    const r = await viaStartServer();
    a.push(r.total);
    inner.push(r.readyMs);
  }
}

const result = {
  rounds,
  startServerMedianMs: +median(a).toFixed(1),
  startServerSpawnToReadyMedianMs: +median(inner).toFixed(1),
  bareEngineMedianMs: +median(b).toFixed(1),
  overheadMs: +(median(a) - median(b)).toFixed(1),
  targetMs: 30,
};
result.pass = result.overheadMs <= result.targetMs;
if (asJson) console.log(JSON.stringify(result));
else {
  console.log(`startServer() call → ready   median ${result.startServerMedianMs} ms (spawn → ready ${result.startServerSpawnToReadyMedianMs} ms)`);
  console.log(`bare llama-server + tight /health poll   median ${result.bareEngineMedianMs} ms`);
  console.log(`overhead ${result.overheadMs} ms (target ≤ ${result.targetMs} ms) ${result.pass ? 'PASS' : 'FAIL'}; ${rounds} alternating rounds`);
}
