import { expect, test } from 'vitest';
import { connectHost, formatUrl, parseLogLine } from '../../../src/server/parse-log-line.js';

test.each([
  ['0.00.325.528 I srv  llama_server: listening on http://127.0.0.1:18123', { type: 'listening', host: '127.0.0.1', port: 18123 }],
  ['main: server is listening on http://[::1]:8080 - starting the main loop', { type: 'listening', host: '::1', port: 8080 }],
  ['llama server listening at http://0.0.0.0:8080', { type: 'listening', host: '0.0.0.0', port: 8080 }],
  ['{"tid":"1","level":"INFO","function":"main","line":1,"msg":"HTTP server listening","hostname":"127.0.0.1","port":"8081"}', { type: 'listening', host: '127.0.0.1', port: 8081 }],
  ['{"message":"HTTP server listening","hostname":"127.0.0.1","port":"9000"}', { type: 'listening', host: '127.0.0.1', port: 9000 }],
  ['listen http://127.0.0.1:8080', { type: 'listening', host: '127.0.0.1', port: 8080 }],
  ['{"msg":"model loaded","level":"INFO"}', { type: 'loaded' }],
  ['0.00.325.435 I srv  llama_server: model loaded', { type: 'loaded' }],
  ['llm_load_tensors: offloaded 33/33 layers to GPU', { type: 'offload', offloaded: 33, total: 33 }],
  ['load_tensors: offloaded 0/3 layers to GPU', { type: 'offload', offloaded: 0, total: 3 }],
  ["srv  start: couldn't bind HTTP server socket, hostname: 127.0.0.1, port: 8080", { type: 'bind-failed' }],
  ['load_model: loading model', undefined],
  ['....................', undefined],
  ['{not json', undefined],
])('%s', (line, event) => {
  expect(parseLogLine(line)).toEqual(event);
});

test.each([
  ['0.0.0.0', '127.0.0.1'],
  ['::', '::1'],
  ['127.0.0.2', '127.0.0.2'],
])('connectHost(%s) = %s', (host, expected) => expect(connectHost(host)).toBe(expected));

test('formatUrl brackets IPv6 literals', () => {
  expect(formatUrl('::1', 80)).toBe('http://[::1]:80');
  expect(formatUrl('127.0.0.1', 80)).toBe('http://127.0.0.1:80');
});

// Real logs of a CUDA build of the same llama.cpp on an H100 (see test/fixtures/gpu/README.md).
test.each([
  ['llama-server-cuda-h100-ngl99.log', { offloaded: 3, total: 3 }],
  ['llama-server-cuda-h100-ngl1.log', { offloaded: 1, total: 3 }],
])('finds the GPU offload and the ready lines in the recorded %s', async (file, gpu) => {
  const { readFile } = await import('node:fs/promises');
  const log = await readFile(new URL(`../../fixtures/gpu/${file}`, import.meta.url), 'utf8');
  const events = log.split('\n').map(parseLogLine).filter((event) => event !== undefined);
  expect(events.filter((e) => e.type === 'offload')).toEqual([{ type: 'offload', ...gpu }]);
  expect(events.find((e) => e.type === 'listening')).toMatchObject({ host: '127.0.0.1' });
  expect(events.some((e) => e.type === 'loaded')).toBe(true);
});
