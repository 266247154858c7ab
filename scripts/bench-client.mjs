#!/usr/bin/env node
/**
 * npm run bench:client — what the typed client costs on top of a raw HTTP request.
 *
 * 1. A 256-token streamed /completion against the real engine (tiny model), through LlamafileClient (SSE decoded,
 *    frames parsed and typed) vs. a raw undici request that only reads the bytes; alternating, medians of wall time
 *    and of this process' CPU time. Target: ≤ 5 % wall-time overhead.
 * 2. SseDecoder throughput on synthetic /completion frames fed in 64 KiB chunks. Target: ≥ 100 MB/s.
 *
 * Needs `npm run build` and the engine (`npm run llama-cpp`). Options: --rounds N (default 21), --json, --url URL
 * (measure against a server that is already running instead of starting the tiny model).
 */
import { performance } from 'node:perf_hooks';
import { request, Agent } from 'undici';

const args = process.argv.slice(2);
const rounds = Number(args[args.indexOf('--rounds') + 1] ?? 0) || 21;
const asJson = args.includes('--json');

const urlArg = args.includes('--url') ? args[args.indexOf('--url') + 1] : undefined;
const { LlamafileClient } = await import('../dist/client/client.js');
const { SseDecoder } = await import('../dist/client/sse.js');

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};
const cpuMs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

// ---------------------------------------------------------------------------------------------------------------
// 1. Streamed completion: client vs raw undici

// --url: an already running server (e.g. on a quieter machine); otherwise the engine serves the tiny model.
const server = urlArg ? { url: urlArg, stop: async () => {} } : await startTinyServer();

async function startTinyServer() {
  const { findLlamaCppBuild, ensureLlamaCppBuild } = await import('../dist/demo/llama-cpp-build.js');
  const { ensureTinyModel } = await import('../dist/demo/tiny-model.js');
  const { startServer } = await import('../dist/server/start-server.js');
  const engine = (await findLlamaCppBuild()) ?? (await ensureLlamaCppBuild({ onProgress: (m) => console.error(`engine: ${m}`) }));
  const model = await ensureTinyModel(engine);
  return startServer({ model, runtime: engine.serverPath, ctxSize: 512, parallel: 1 });
}
const body = { prompt: 'Once upon a time', n_predict: 256, ignore_eos: true, temperature: 0, seed: 1, stream: true };
const client = new LlamafileClient({ baseUrl: server.url });
const raw = new Agent({ connections: 1, keepAliveTimeout: 30_000 });

async function viaClient() {
  let tokens = 0;
  for await (const frame of client.completion(body)) if (frame.stop) tokens = frame.tokens_predicted;
  return tokens;
}

async function viaRaw(retry = true) {
  let response;
  try {
    response = await request(`${server.url}/completion`, {
      dispatcher: raw,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  } catch (error) {
    // The same single retry the client makes when the server has closed a kept-alive socket.
    if (retry && error.code === 'UND_ERR_SOCKET') return viaRaw(false);
    throw error;
  }
  let bytes = 0;
  for await (const chunk of response.body) bytes += chunk.length;
  return bytes;
}

async function time(run) {
  const cpu = cpuMs();
  const start = performance.now();
  const result = await run();
  return { wall: performance.now() - start, cpu: cpuMs() - cpu, result };
}

const samples = { client: [], raw: [], clientCpu: [], rawCpu: [] };
try {
  for (let i = 0; i < 3; i++) {
    await viaClient();
    await viaRaw();
  }
  for (let i = 0; i < rounds; i++) {
    // Alternate which goes first, so neither always runs on a warmer server.
    const order = i % 2 === 0 ? ['client', 'raw'] : ['raw', 'client'];
    for (const which of order) {
      const { wall, cpu, result } = await time(which === 'client' ? viaClient : viaRaw);
      if (which === 'client' && result !== 256) throw new Error(`expected 256 tokens, got ${result}`);
      samples[which].push(wall);
      samples[`${which}Cpu`].push(cpu);
    }
  }
} finally {
  await client.close();
  await raw.close();
  await server.stop();
}

const clientMs = median(samples.client);
const rawMs = median(samples.raw);
const stream = {
  tokens: 256,
  rounds,
  client_ms: round(clientMs),
  raw_ms: round(rawMs),
  overhead_pct: round(((clientMs - rawMs) / rawMs) * 100),
  client_cpu_ms: round(median(samples.clientCpu)),
  raw_cpu_ms: round(median(samples.rawCpu)),
};

// ---------------------------------------------------------------------------------------------------------------
// 2. SSE decoder throughput

const frame = (i) =>
  `data: ${JSON.stringify({ index: 0, content: ` tok${i} héllo`, tokens: [1000 + (i % 30000)], stop: false, id_slot: 0, tokens_predicted: i, tokens_evaluated: 5 })}\n\n`;
const text = Array.from({ length: 4096 }, (_, i) => frame(i)).join('');
const block = Buffer.from(text.repeat(Math.ceil((32 * 1024 * 1024) / text.length)));
const chunks = [];
for (let offset = 0; offset < block.length; offset += 65536) chunks.push(block.subarray(offset, offset + 65536));

function parseRun(withJson) {
  const decoder = new SseDecoder();
  let events = 0;
  const start = performance.now();
  for (const chunk of chunks) {
    for (const event of decoder.push(chunk)) {
      events++;
      if (withJson) JSON.parse(event.data);
    }
  }
  decoder.end();
  return { seconds: (performance.now() - start) / 1000, events };
}
parseRun(false);
const decodeRuns = Array.from({ length: 5 }, () => parseRun(false));
const jsonRuns = Array.from({ length: 3 }, () => parseRun(true));
const mb = block.length / 1e6;
const parser = {
  bytes: block.length,
  events: decodeRuns[0].events,
  decode_mb_per_s: round(mb / median(decodeRuns.map((r) => r.seconds))),
  decode_and_json_mb_per_s: round(mb / median(jsonRuns.map((r) => r.seconds))),
};

const report = { stream, parser, targets: { overhead_pct_max: 5, parser_mb_per_s_min: 100 } };
if (asJson) {
  console.log(JSON.stringify(report));
} else {
  console.log(`streamed completion, ${stream.tokens} tokens, ${rounds} alternating rounds (medians):`);
  console.log(`  client ${stream.client_ms} ms   raw undici ${stream.raw_ms} ms   overhead ${stream.overhead_pct} % (target ≤ 5 %)`);
  console.log(`  CPU in this process: client ${stream.client_cpu_ms} ms   raw ${stream.raw_cpu_ms} ms`);
  console.log(`SSE decoder on ${round(mb)} MB (${parser.events} frames, 64 KiB chunks):`);
  console.log(`  decode ${parser.decode_mb_per_s} MB/s (target ≥ 100)   decode + JSON.parse ${parser.decode_and_json_mb_per_s} MB/s`);
}
const ok = stream.overhead_pct <= 5 && parser.decode_mb_per_s >= 100;
if (!ok) process.exitCode = 1;

function round(value) {
  return Math.round(value * 10) / 10;
}
