#!/usr/bin/env node
/**
 * npm run bench:gateway — what `llamactl gateway` adds, side by side in one run (tiny model, CPU engine):
 *  (a) a non-streamed request (/v1/completions, 1 token) through the gateway vs. straight to the same engine:
 *      added latency, median and p99 (targets ≤ 1 ms, ≤ 3 ms);
 *  (b) a streamed request (32 tokens): time to first chunk and time per chunk, gateway vs. direct (≤ 0.5 ms added);
 *  (c) 16 concurrent clients over two models (8 slots each): tokens/s through the gateway vs. direct (≥ 0.95×), the
 *      gateway running as its own process (`llamactl gateway`) in a session of its own, as it does for users; its
 *      CPU per request is read from /proc (user + system); and, for reference, through a bare TCP relay in the
 *      gateway's place (its own process and session, bytes copied both ways, no HTTP): what the extra hop alone
 *      costs on this machine; one slice per side warms up, then twelve alternate, four per side;
 *  (d) cold start: a request for an unloaded model until its first byte, vs. startServer()'s ready time (≤ +20 ms);
 *  (e) (a) and (d) against llama-server's own router mode (`llama-server --models-dir DIR`, same build, same models);
 *  (f) Anthropic's Messages API (/v1/messages): added latency of a non-streamed request (1 token) and, streamed (32
 *      tokens), of the first event and per event, gateway vs. direct (the same bounds as (a) and (b)).
 * Rounds alternate gateway/direct so that machine noise hits both. Needs `npm run build` and the engine.
 * Options: --rounds N (default 200 for (a)), --seconds S measured for (c) (default 48, and a quarter more to warm up),
 * --only abcdef, --json, --shared-session (see gatewayProcess). Linux (reads the engine's port and key from /proc, as
 * the test helpers do).
 */
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

const args = process.argv.slice(2);
const option = (name, fallback) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback);
const rounds = option('--rounds', 200);
const seconds = option('--seconds', 48);
const asJson = args.includes('--json');
/** --shared-session: (c)'s gateway in the bench's own session (see gatewayProcess). */
const sharedSession = args.includes('--shared-session');
/** --only abcdef: run some of the parts. */
const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : 'abcdef';

const { findLlamaCppBuild, ensureLlamaCppBuild } = await import('../dist/demo/llama-cpp-build.js');
const { ensureTinyModel, writeTinyModel, vocabPath } = await import('../dist/demo/tiny-model.js');
const { startServer } = await import('../dist/server/start-server.js');
const { startGateway } = await import('../dist/gateway/start-gateway.js');

const engine = process.env.LLAMACTL_BENCH_SERVER
  ? { serverPath: process.env.LLAMACTL_BENCH_SERVER, sourceDir: process.env.LLAMACTL_BENCH_SOURCE }
  : ((await findLlamaCppBuild()) ?? (await ensureLlamaCppBuild({ onProgress: (m) => console.error(`engine: ${m}`) })));
const work = await mkdtemp(join(tmpdir(), 'llamactl-bench-gateway-'));
const ggufA = join(work, 'tiny-a.gguf');
const ggufB = join(work, 'tiny-b.gguf');
await copyFile(process.env.LLAMACTL_BENCH_GGUF ?? (await ensureTinyModel(engine)), ggufA);
await writeTinyModel(ggufB, { vocabPath: process.env.LLAMACTL_BENCH_VOCAB ?? vocabPath(engine), seed: 7 });
const log = (text) => asJson || console.error(text);

const agent = new Agent({ keepAlive: true, maxSockets: 64 });
const median = (values) => quantile(values, 0.5);
function quantile(values, q) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}
const round2 = (value) => Math.round(value * 100) / 100;

/** POSTs JSON (once more on a fresh connection if a kept-alive one turns out closed by the server). */
async function post(base, path, body, key, options = {}) {
  try {
    return await postOnce(base, path, body, key, options);
  } catch (error) {
    if (error.code !== 'ECONNRESET' || options.fresh) throw error;
    return postOnce(base, path, body, key, { fresh: true });
  }
}

/** POSTs JSON; resolves with the time of the first body byte, of each chunk, and the end (ms since the start). */
function postOnce(base, path, body, key, { fresh = false } = {}) {
  const url = new URL(base);
  const data = Buffer.from(JSON.stringify(body));
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path, method: 'POST', agent: fresh ? false : agent, headers: {
      'content-type': 'application/json', 'content-length': data.length, ...(key ? { authorization: `Bearer ${key}` } : {}),
    } }, (res) => {
      const chunks = [];
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        chunks.push(performance.now() - started);
        text += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode, chunks, total: performance.now() - started, text }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(data);
  });
}

function get(base, path) {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    request({ host: url.hostname, port: url.port, path, agent }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode, text }));
    }).on('error', reject).end();
  });
}

async function engineOf(gateway, name) {
  const models = gateway.models ? gateway.models() : JSON.parse((await get(gateway.url, '/gateway/models')).text).models;
  const pid = models.find((model) => model.name === name).pid;
  const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
  const environ = (await readFile(`/proc/${pid}/environ`, 'utf8')).split('\0');
  return { url: `http://127.0.0.1:${argv[argv.indexOf('--port') + 1]}`, key: environ.find((e) => e.startsWith('LLAMA_API_KEY=')).slice(14) };
}

const small = { runtime: engine.serverPath, ctxSize: 256, threads: 1, parallel: 1 };

/** `llamactl gateway` as its own process over `models` (a JSON config); resolves once it listens. */
async function gatewayProcess(models) {
  const config = join(work, 'gateway.json');
  const entries = Object.fromEntries(models.map(({ name, ...rest }) => [name, rest]));
  await writeFile(config, JSON.stringify({ port: 0, ttl: 0, queueSize: 64, models: entries }));
  // In a session of its own, as a user's gateway is (started from its own terminal, or with --detach), not in the
  // bench's: where the kernel groups CPU time by session (sched_autogroup), a gateway inside the bench's session
  // would share one session's CPU with the 16 clients that load it, which no real set-up does. --shared-session
  // measures it that way.
  const { line, ...gateway } = await nodeProcess('the gateway', [join(import.meta.dirname, '..', 'bin', 'llamactl.js'), 'gateway', '--config', config, '--json'], {
    detached: !sharedSession, env: { ...process.env, LLAMACTL_HOME: work }, ready: (text) => text.includes('"ready"'),
  });
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, () => {
      rmSync(work, { recursive: true, force: true });
      process.exit(130);
    });
  }
  return { url: JSON.parse(line).url, ...gateway };
}

/** (c)'s reference: copies bytes both ways, one port per engine, no HTTP parsing, nothing per request. */
const RELAY_SOURCE = `
import { createServer, connect } from 'node:net';
const ports = [];
for (const target of process.argv.slice(1).map(Number)) {
  const server = createServer({ noDelay: true }, (client) => {
    const engine = connect({ host: '127.0.0.1', port: target, noDelay: true });
    client.pipe(engine).pipe(client);
    for (const [a, b] of [[client, engine], [engine, client]]) a.on('error', () => b.destroy()).on('close', () => b.destroy());
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  ports.push(server.address().port);
}
console.log(JSON.stringify(ports));
`;

/** The bare relay as its own process, in a session of its own like the gateway; resolves with its ports. */
async function relayProcess(enginePorts) {
  const { line, ...relay } = await nodeProcess('the relay', ['--input-type=module', '-e', RELAY_SOURCE, ...enginePorts.map(String)], { detached: true, ready: () => true });
  return { ports: JSON.parse(line), ...relay };
}

/**
 * Runs `args` under node and resolves with its first stdout line that `ready` accepts. Out of our process group
 * (detached), a Ctrl-C no longer reaches it: it is stopped (SIGTERM; the gateway then stops its engines) when we exit.
 */
async function nodeProcess(name, args, { detached, env = process.env, ready }) {
  const child = spawn(process.execPath, args, { detached, stdio: ['ignore', 'pipe', 'inherit'], env });
  const stop = () => child.kill('SIGTERM');
  process.once('exit', stop);
  const line = await new Promise((resolve, reject) => {
    let text = '';
    child.stdout.on('data', (data) => {
      text += data;
      const lines = text.split('\n');
      text = lines.pop();
      for (const complete of lines) if (ready(complete)) resolve(complete);
    });
    child.once('exit', (code) => reject(new Error(`${name} exited (${code}) before it listened`)));
  });
  return {
    line, pid: child.pid,
    close: () => new Promise((resolve) => {
      process.off('exit', stop);
      child.once('exit', resolve);
      stop();
    }),
  };
}

const one = { prompt: 'Hello', max_tokens: 1, temperature: 0, cache_prompt: true };

/** (a)/(e-a)/(f): alternating non-streamed requests, `model` through `viaUrl` vs. straight to `direct`. */
async function added(viaUrl, model, direct, viaKey, path = '/v1/completions', body = one) {
  const via = [];
  const straight = [];
  for (let i = 0; i < 20; i++) await post(viaUrl, path, { ...body, model }, viaKey); // warm both paths
  for (let i = 0; i < 20; i++) await post(direct.url, path, body, direct.key);
  for (let i = 0; i < rounds; i++) {
    via.push((await post(viaUrl, path, { ...body, model }, viaKey)).total);
    straight.push((await post(direct.url, path, body, direct.key)).total);
  }
  return {
    direct: { median: round2(median(straight)), p99: round2(quantile(straight, 0.99)) },
    via: { median: round2(median(via)), p99: round2(quantile(via, 0.99)) },
    addedMedian: round2(median(via) - median(straight)),
    addedP99: round2(quantile(via, 0.99) - quantile(straight, 0.99)),
  };
}

async function streaming(gateway, direct, path = '/v1/completions', stream = { prompt: 'Once upon a time', max_tokens: 32, temperature: 0, stream: true }) {
  const result = { via: { ttft: [], perChunk: [] }, direct: { ttft: [], perChunk: [] } };
  for (let i = 0; i < 30; i++) {
    for (const [side, base, key, model] of [['via', gateway.url, undefined, 'tiny-a'], ['direct', direct.url, direct.key, undefined]]) {
      const { chunks } = await post(base, path, { ...stream, ...(model ? { model } : {}) }, key);
      result[side].ttft.push(chunks[0]);
      result[side].perChunk.push((chunks.at(-1) - chunks[0]) / Math.max(1, chunks.length - 1));
    }
  }
  const summary = (side) => ({ ttft: round2(median(result[side].ttft)), perChunk: round2(median(result[side].perChunk)) });
  const via = summary('via');
  const straight = summary('direct');
  return { via, direct: straight, addedTtft: round2(via.ttft - straight.ttft), addedPerChunk: round2(via.perChunk - straight.perChunk) };
}

/** CPU ms of a process (user + system, from /proc). */
const cpuMsOf = async (pid) => {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 1000 / 100; // clock ticks of 10 ms
};

/** (c): 16 clients, 8 per model, for an eighth of `seconds`; completion tokens per second and the gateway's CPU ms per request. */
async function throughput(targets, gatewayPid) {
  const deadline = performance.now() + (seconds * 1000) / 8;
  let tokens = 0;
  let requests = 0;
  const client = async ({ base, key, model }) => {
    while (performance.now() < deadline) {
      requests++;
      const { text } = await post(base, '/v1/completions', { prompt: 'Hello', max_tokens: 16, temperature: 0, ...(model ? { model } : {}) }, key);
      tokens += JSON.parse(text).usage?.completion_tokens ?? 0;
    }
  };
  const started = performance.now();
  const cpu = gatewayPid ? await cpuMsOf(gatewayPid) : 0;
  await Promise.all(Array.from({ length: 16 }, (_, i) => client(targets[i % 2])));
  const tokensPerS = tokens / ((performance.now() - started) / 1000);
  return { tokensPerS, cpuMs: gatewayPid ? (await cpuMsOf(gatewayPid) - cpu) / requests : undefined };
}

/**
 * (d): request → first byte for a model the gateway has unloaded (its idle TTL), vs. startServer() → ready. The first
 * load of a fresh gateway also reads the model's header once for its memory estimate; that is reported apart.
 */
async function coldStart() {
  const cold = [];
  const ready = [];
  const gateway = await startGateway({ port: 0, ttlMs: 0, models: [{ name: 'tiny-a', model: ggufA, ...small, ttlMs: 100 }] });
  const first = (await post(gateway.url, '/v1/completions', { ...one, model: 'tiny-a', stream: true })).chunks[0];
  for (let i = 0; i < 7; i++) {
    while (gateway.models()[0].state !== 'unloaded') await new Promise((resolve) => setTimeout(resolve, 20));
    const { chunks } = await post(gateway.url, '/v1/completions', { ...one, model: 'tiny-a', stream: true });
    cold.push(chunks[0]);
    const started = performance.now();
    const server = await startServer({ model: ggufA, ...small });
    ready.push(performance.now() - started);
    await server.stop();
  }
  await gateway.close();
  return { firstEverFirstByte: round2(first), gatewayFirstByte: round2(median(cold)), startServerReady: round2(median(ready)), added: round2(median(cold) - median(ready)) };
}

/** (e): llama-server's router mode over the same two models. */
async function routerMode() {
  const port = await new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port: free } = server.address();
      server.close(() => resolve(free));
    });
  });
  const child = spawn(engine.serverPath, ['--models-dir', work, '--host', '127.0.0.1', '--port', String(port), '-c', '256', '-t', '1', '-np', '1'], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const base = `http://127.0.0.1:${port}`;
  try {
    const deadline = performance.now() + 30_000;
    for (;;) {
      const ok = await get(base, '/health').then((r) => r.status, () => 0);
      if (ok === 200) break;
      if (performance.now() > deadline || child.exitCode !== null) return { available: false, reason: output.trim().split('\n').slice(-3).join(' | ') };
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const ids = JSON.parse((await get(base, '/v1/models')).text).data.map((m) => m.id);
    const id = ids.find((name) => name.includes('tiny-a'));
    const started = performance.now();
    const first = await post(base, '/v1/completions', { ...one, model: id, stream: true }, undefined, { fresh: true });
    const coldFirstByte = round2(first.chunks[0] ?? performance.now() - started);
    const routed = [];
    for (let i = 0; i < 20; i++) await post(base, '/v1/completions', { ...one, model: id });
    for (let i = 0; i < rounds; i++) routed.push((await post(base, '/v1/completions', { ...one, model: id })).total);
    return { available: true, models: ids, coldFirstByte, median: round2(median(routed)), p99: round2(quantile(routed, 0.99)) };
  } finally {
    try { process.kill(-child.pid, 'SIGKILL'); } catch {}
  }
}

const results = {};
try {
  const models = [{ name: 'tiny-a', model: ggufA, ...small }, { name: 'tiny-b', model: ggufB, ...small }];
  if (/[ab]/.test(only)) {
    const gateway = await startGateway({ port: 0, ttlMs: 0, models });
    await post(gateway.url, '/v1/completions', { ...one, model: 'tiny-a' });
    const direct = await engineOf(gateway, 'tiny-a');
    log('(a) non-streamed latency …');
    results.a = await added(gateway.url, 'tiny-a', direct);
    log(`    ${JSON.stringify(results.a)}`);
    log('(b) streaming …');
    results.b = await streaming(gateway, direct);
    log(`    ${JSON.stringify(results.b)}`);
    await gateway.close();
  }
  if (only.includes('c')) {
    const gateway = await gatewayProcess(models.map((model) => ({ ...model, ctxSize: 2048, parallel: 8, threads: 1 })));
    try {
      await Promise.all(['tiny-a', 'tiny-b'].map((model) => post(gateway.url, '/v1/completions', { ...one, model })));
      const direct = await Promise.all(['tiny-a', 'tiny-b'].map((name) => engineOf(gateway, name)));
      log('(c) 16 clients over two models …');
      const via = () => throughput([{ base: gateway.url, model: 'tiny-a' }, { base: gateway.url, model: 'tiny-b' }], gateway.pid);
      const straightTo = () => throughput(direct.map((d) => ({ base: d.url, key: d.key })));
      const relay = await relayProcess(direct.map((d) => Number(new URL(d.url).port)));
      const relayed = () => throughput(direct.map((d, i) => ({ base: `http://127.0.0.1:${relay.ports[i]}`, key: d.key })), relay.pid);
      try {
        // One slice per side first, not counted: a gateway runs for days, so (c) is its steady state, after the JIT
        // has compiled its request path (the first seconds cost about twice the CPU per request).
        const cold = await via();
        await straightTo();
        await relayed();
        // Then twelve slices, four a side, at positions whose mean is the same for each side (like ABBA for two), so
        // that a drift in the machine's load hits all three alike.
        const slices = { via: [], direct: [], relay: [] };
        const sides = { V: ['via', via], D: ['direct', straightTo], R: ['relay', relayed] };
        for (const side of 'VDRRDVDRVVRD') {
          const [name, measure] = sides[side];
          slices[name].push(await measure());
        }
        const mean = (list) => list.reduce((sum, slice) => sum + slice.tokensPerS, 0) / list.length;
        results.c = {
          viaTokensPerS: round2(mean(slices.via)), directTokensPerS: round2(mean(slices.direct)), ratio: round2(mean(slices.via) / mean(slices.direct)),
          gatewayCpuMsPerRequest: round2(median(slices.via.map((slice) => slice.cpuMs))), firstSliceCpuMsPerRequest: round2(cold.cpuMs),
          relayRatio: round2(mean(slices.relay) / mean(slices.direct)), relayCpuMsPerRequest: round2(median(slices.relay.map((slice) => slice.cpuMs))),
        };
      } finally {
        await relay.close();
      }
      log(`    ${JSON.stringify(results.c)}`);
    } finally {
      await gateway.close();
    }
  }
  if (only.includes('d')) {
    log('(d) cold start …');
    results.d = await coldStart();
    log(`    ${JSON.stringify(results.d)}`);
  }
  if (only.includes('f')) {
    const gateway = await startGateway({ port: 0, ttlMs: 0, models });
    await post(gateway.url, '/v1/completions', { ...one, model: 'tiny-a' });
    const direct = await engineOf(gateway, 'tiny-a');
    const ask = { messages: [{ role: 'user', content: 'Hello' }], temperature: 0 };
    log('(f) Messages API …');
    results.f = {
      plain: await added(gateway.url, 'tiny-a', direct, undefined, '/v1/messages', { ...ask, max_tokens: 1 }),
      stream: await streaming(gateway, direct, '/v1/messages', { ...ask, max_tokens: 32, stream: true }),
    };
    log(`    ${JSON.stringify(results.f)}`);
    await gateway.close();
  }
  if (only.includes('e')) {
    log('(e) llama-server router mode …');
    results.e = await routerMode().catch((error) => ({ available: false, reason: String(error) }));
    log(`    ${JSON.stringify(results.e)}`);
  }
} finally {
  agent.destroy();
  await rm(work, { recursive: true, force: true });
}
if (asJson || only !== 'abcdef') console.log(JSON.stringify(results));
else {
  const { a, b, c, d, e, f } = results;
  console.log(`(a) added latency, non-streamed: median ${a.addedMedian} ms (target ≤ 1), p99 ${a.addedP99} ms (target ≤ 3); direct ${a.direct.median}/${a.direct.p99} ms`);
  console.log(`(b) streaming: first chunk +${b.addedTtft} ms, per chunk +${b.addedPerChunk} ms (target ≤ 0.5); direct ${b.direct.ttft} / ${b.direct.perChunk} ms`);
  console.log(`(c) 16 clients, two models: ${c.viaTokensPerS} vs ${c.directTokensPerS} tokens/s direct = ${c.ratio}× (target ≥ 0.95); the gateway spends ${c.gatewayCpuMsPerRequest} ms CPU per request (${c.firstSliceCpuMsPerRequest} in its first seconds, not counted); a bare TCP relay in its place: ${c.relayRatio}× at ${c.relayCpuMsPerRequest} ms CPU per request`);
  console.log(`(d) cold start: first byte ${d.gatewayFirstByte} ms vs startServer ready ${d.startServerReady} ms = +${d.added} ms (target ≤ +20); a fresh gateway's very first load ${d.firstEverFirstByte} ms`);
  console.log(e.available
    ? `(e) llama-server router mode: cold first byte ${e.coldFirstByte} ms; warm non-streamed median ${e.median} ms, p99 ${e.p99} ms (gateway ${a.via.median}/${a.via.p99} ms)`
    : `(e) llama-server router mode not available in this build: ${e.reason}`);
  console.log(`(f) Messages API: non-streamed median +${f.plain.addedMedian} ms, p99 +${f.plain.addedP99} ms; streamed first event +${f.stream.addedTtft} ms, per event +${f.stream.addedPerChunk} ms (targets as (a), (b))`);
}
