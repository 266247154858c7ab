#!/usr/bin/env node
/**
 * npm run bench:serve — what startServer() adds to the engine's own start-up time.
 *
 * A: `startServer({ model: tiny.gguf, runtime: llama-server })`, timed from the call until it resolves (runtime
 *    detection cached after the warm-up run, port pick, spawn, readiness, watchdog).
 * B: the engine's own ready time: the same llama-server binary with the same argv, spawned directly, and a tight
 *    /health poll (a new request as soon as the previous one answers) until it says 200.
 * C: the same spawn, ready when the engine itself logs "listening on" (no polling at all). On a small machine the
 *    tight poll of B competes with the engine for CPU and can make B slower than A; C has no such bias.
 * Runs rotate A/B/C in one process; medians are reported. Target: median(A) − median(B or C) ≤ 30 ms.
 *
 * Needs `npm run build` and the engine (`npm run llama-cpp`). Options: --rounds N (default 9), --json, --no-tight (leave
 * out B, whose busy polling loads a small machine).
 */
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { performance } from 'node:perf_hooks';

const args = process.argv.slice(2);
const rounds = Number(args[args.indexOf('--rounds') + 1] ?? 0) || 9;
const asJson = args.includes('--json');
const skipTight = args.includes('--no-tight');

const { findLlamaCppBuild, ensureLlamaCppBuild } = await import('../dist/demo/llama-cpp-build.js');
const { ensureTinyModel } = await import('../dist/demo/tiny-model.js');
const { startServer } = await import('../dist/server/start-server.js');
const { terminateGroup } = await import('../dist/server/terminate-group.js');

// LLAMACTL_BENCH_SERVER / LLAMACTL_BENCH_GGUF: run with a given binary and model (e.g. on another machine).
const engine = process.env.LLAMACTL_BENCH_SERVER
  ? { serverPath: process.env.LLAMACTL_BENCH_SERVER }
  : ((await findLlamaCppBuild()) ?? (await ensureLlamaCppBuild({ onProgress: (m) => console.error(`engine: ${m}`) })));
const gguf = process.env.LLAMACTL_BENCH_GGUF ?? (await ensureTinyModel(engine));
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
    req.setTimeout(1000, () => req.destroy());
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

const children = new Set();
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    for (const pid of children) try { process.kill(-pid, 'SIGKILL'); } catch {}
    process.exit(130);
  });
}

/** The same llama-server, spawned directly; ready when /health says 200 ('tight' poll) or when it logs "listening". */
async function bare(mode) {
  const port = await freePort();
  const started = performance.now();
  const child = spawn(engine.serverPath, ['-m', gguf, '--host', '127.0.0.1', '--port', String(port), ...flags], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child.pid);
  child.stdout.resume();
  let output = '';
  let gone = false;
  const exited = new Promise((resolve) => child.once('exit', () => resolve((gone = true))));
  const ready =
    mode === 'tight'
      ? (async () => {
          while ((await status(port)) !== 200) if (gone) throw new Error(`llama-server exited:\n${output.slice(-2000)}`);
          return performance.now() - started;
        })()
      : new Promise((resolve, reject) => {
          child.stderr.on('data', (data) => {
            if (output.includes('listening on')) return;
            output += data;
            if (output.includes('listening on')) resolve(performance.now() - started);
          });
          void exited.then(() => reject(new Error(`llama-server exited:\n${output.slice(-2000)}`)));
        });
  if (mode === 'tight') child.stderr.on('data', (data) => (output += data));
  try {
    return { total: await ready };
  } finally {
    await terminateGroup(child.pid, { gone: () => exited });
    children.delete(child.pid);
  }
}

await viaStartServer(); // warm-up: runtime detection, page cache
await bare('tight');
const a = [];
const inner = [];
const tight = [];
const logged = [];
for (let round = 0; round < rounds; round++) {
  // Rotate the order so that no variant always runs first (or right after another).
  const steps = [
    async () => {
      const r = await viaStartServer();
      a.push(r.total);
      inner.push(r.readyMs);
    },
    async () => (skipTight ? undefined : tight.push((await bare('tight')).total)),
    async () => logged.push((await bare('log')).total),
  ];
  for (let i = 0; i < steps.length; i++) {
    await steps[(i + round) % steps.length]();
  }
}

const result = {
  rounds,
  startServerMedianMs: +median(a).toFixed(1),
  startServerSpawnToReadyMedianMs: +median(inner).toFixed(1),
  bareTightPollMedianMs: +median(tight).toFixed(1),
  bareListeningLineMedianMs: +median(logged).toFixed(1),
  overheadVsTightPollMs: +(median(a) - median(tight)).toFixed(1),
  overheadVsListeningLineMs: +(median(a) - median(logged)).toFixed(1),
  targetMs: 30,
};
result.pass = Math.max(skipTight ? -Infinity : result.overheadVsTightPollMs, result.overheadVsListeningLineMs) <= result.targetMs;
if (asJson) console.log(JSON.stringify(result));
else {
  console.log(`startServer() call → ready          median ${result.startServerMedianMs} ms (its spawn → ready ${result.startServerSpawnToReadyMedianMs} ms)`);
  console.log(`bare llama-server, tight /health poll  median ${result.bareTightPollMedianMs} ms (overhead ${result.overheadVsTightPollMs} ms)`);
  console.log(`bare llama-server, "listening" logged  median ${result.bareListeningLineMedianMs} ms (overhead ${result.overheadVsListeningLineMs} ms)`);
  console.log(`target ≤ ${result.targetMs} ms: ${result.pass ? 'PASS' : 'FAIL'} (${rounds} rounds, order rotated)`);
}
