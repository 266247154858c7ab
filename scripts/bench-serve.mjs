#!/usr/bin/env node
/**
 * npm run bench:serve — how soon startServer() reports ready, against the bare engine, in one run.
 *
 * A: `startServer({ model: tiny.gguf, runtime: llama-server })` in the foreground, timed from the call until it
 *    resolves (model resolution, fit check, runtime detection (cached after the warm-up), port pick, spawn, the three
 *    readiness conditions: /health 200, the "listening" line, one /slots answer).
 * D: the same with `detach: true` (the engine writes to a log file, which llamactl follows; a record is written).
 * B: the same llama-server binary and argv spawned directly, ready when it logs "listening on" (read from its pipe).
 * T: (--tight) B with a tight /health poll instead (it competes with the engine for CPU on a small machine).
 * Rounds rotate the variants. Printed: median and p90 of each, the differences to B, and for A and D "ready minus
 * last condition": when startServer resolved minus when the last of its readiness conditions was seen (all in this
 * process's performance.now()), plus the call → spawn part. Targets (issue 18): A − B ≤ 25 ms (median) and ready
 * minus last condition ≤ 10 ms (median).
 *
 * Needs `npm run build` and the engine (`npm run llama-cpp`). Options: --rounds N (default 30), --json, --tight,
 * --no-detach. LLAMACTL_BENCH_SERVER / LLAMACTL_BENCH_GGUF: another binary and model.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

const args = process.argv.slice(2);
const rounds = Number(args[args.indexOf('--rounds') + 1] ?? 0) || 30;
const asJson = args.includes('--json');
const withTight = args.includes('--tight');
const withDetach = !args.includes('--no-detach');

const { findLlamaCppBuild, ensureLlamaCppBuild } = await import('../dist/demo/llama-cpp-build.js');
const { ensureTinyModel } = await import('../dist/demo/tiny-model.js');
const { startServer } = await import('../dist/server/start-server.js');
const { terminateGroup } = await import('../dist/server/terminate-group.js');

const engine = process.env.LLAMACTL_BENCH_SERVER
  ? { serverPath: process.env.LLAMACTL_BENCH_SERVER }
  : ((await findLlamaCppBuild()) ?? (await ensureLlamaCppBuild({ onProgress: (m) => console.error(`engine: ${m}`) })));
const gguf = process.env.LLAMACTL_BENCH_GGUF ?? (await ensureTinyModel(engine));
const flags = ['-c', '256', '-t', '1', '-np', '1'];
const home = mkdtempSync(join(tmpdir(), 'llamactl-bench-serve-'));
const env = { ...process.env, LLAMACTL_HOME: home };

const quantile = (values, q) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
};
const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};
const stats = (values) => ({ median: +median(values).toFixed(1), p90: +quantile(values, 0.9).toFixed(1) });

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

/** One startServer() start: call → resolved, call → spawn, and resolved minus the last readiness condition seen. */
async function viaStartServer(detach) {
  const started = performance.now();
  const server = await startServer({ model: gguf, runtime: engine.serverPath, ctxSize: 256, threads: 1, parallel: 1, detach, env });
  const resolved = performance.now();
  // `readiness` is missing in builds before it existed (run this script against an older dist/ to compare).
  const { spawnedAt = NaN, healthAt, listeningAt, loopAt } = server.readiness ?? {};
  await server.stop();
  return {
    total: resolved - started,
    toSpawn: spawnedAt - started,
    afterLast: resolved - Math.max(healthAt ?? 0, listeningAt ?? 0, loopAt ?? 0),
    listening: (listeningAt ?? NaN) - spawnedAt,
  };
}

const children = new Set();
const cleanUp = () => {
  for (const pid of children) try { process.kill(-pid, 'SIGKILL'); } catch {}
  rmSync(home, { recursive: true, force: true });
};
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    cleanUp();
    process.exit(130);
  });
}

/** The same llama-server, spawned directly; ready when it logs "listening" or ('tight') when /health says 200. */
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
    return await ready;
  } finally {
    await terminateGroup(child.pid, { gone: () => exited });
    children.delete(child.pid);
  }
}

const runs = { a: [], d: [], b: [], t: [] };
try {
  // Warm-up: runtime detection, page cache, JIT. It is also what a one-shot `llamactl serve` pays: the watchdog's
  // boot and the header read (memoised after it), so it is reported on its own.
  runs.first = await viaStartServer(false);
  if (withDetach) await viaStartServer(true);
  await bare('log');
  for (let round = 0; round < rounds; round++) {
    const steps = [
      async () => runs.a.push(await viaStartServer(false)),
      async () => withDetach && runs.d.push(await viaStartServer(true)),
      async () => runs.b.push(await bare('log')),
      async () => withTight && runs.t.push(await bare('tight')),
    ];
    // Rotate the order so that no variant always runs first (or right after another).
    for (let i = 0; i < steps.length; i++) await steps[(i + round) % steps.length]();
  }
} finally {
  cleanUp();
}

const bareStats = stats(runs.b);
const variant = (list) =>
  list.length === 0
    ? undefined
    : {
        callToReady: stats(list.map((r) => r.total)),
        overBareListening: +(median(list.map((r) => r.total)) - median(runs.b)).toFixed(1),
        overBareListeningP90: +(quantile(list.map((r) => r.total), 0.9) - quantile(runs.b, 0.9)).toFixed(1),
        callToSpawn: stats(list.map((r) => r.toSpawn)),
        spawnToListeningSeen: stats(list.map((r) => r.listening)),
        readyMinusLastCondition: stats(list.map((r) => r.afterLast)),
      };
const result = {
  rounds,
  bareListening: bareStats,
  bareTightPoll: runs.t.length ? stats(runs.t) : undefined,
  startServer: variant(runs.a),
  startServerDetached: variant(runs.d),
  firstStartInProcessMs: +runs.first.total.toFixed(1),
  targets: { overBareListeningMs: 25, readyMinusLastConditionMs: 10 },
};
result.pass =
  result.startServer.overBareListening <= 25 && result.startServer.readyMinusLastCondition.median <= 10;
if (asJson) console.log(JSON.stringify(result));
else {
  const row = (label, s) => `${label.padEnd(42)} median ${String(s.median).padStart(6)} ms   p90 ${String(s.p90).padStart(6)} ms`;
  console.log(row('bare llama-server, spawn → "listening"', bareStats));
  if (result.bareTightPoll) console.log(row('bare llama-server, spawn → tight /health 200', result.bareTightPoll));
  for (const [label, v] of [['startServer()', result.startServer], ['startServer({ detach: true })', result.startServerDetached]]) {
    if (!v) continue;
    console.log(row(`${label} call → ready`, v.callToReady) + `   (over bare: median ${v.overBareListening} ms, p90 ${v.overBareListeningP90} ms)`);
    console.log(row('  of which call → spawn', v.callToSpawn));
    console.log(row('  spawn → "listening" seen by llamactl', v.spawnToListeningSeen));
    console.log(row('  ready minus last condition seen', v.readyMinusLastCondition));
  }
  console.log(`first start in this process (watchdog boot, header read, JIT): call → ready ${result.firstStartInProcessMs} ms`);
  console.log(`targets: over bare ≤ 25 ms, ready minus last condition ≤ 10 ms (medians): ${result.pass ? 'PASS' : 'FAIL'} (${rounds} rounds, order rotated)`);
}
