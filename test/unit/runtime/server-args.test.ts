import { describe, expect, test } from 'vitest';
import { UsageError } from '../../../src/errors.js';
import { buildServerArgs, buildServerEnv, effectiveKind, healthPath, loopPath } from '../../../src/runtime/server-args.js';

const base = { host: '127.0.0.1', port: 8123 };
const all = { ...base, ctxSize: 256, gpuLayers: 99, threads: 2, parallel: 3 };

describe('buildServerArgs', () => {
  test.each([
    ['llamafile-legacy', base, ['--server', '--nobrowser', '--log-disable', '--host', '127.0.0.1', '--port', '8123']],
    [
      'llamafile-legacy',
      { ...all, modelPath: '/m/w.gguf', apiKey: 'k' },
      ['--server', '--nobrowser', '--log-disable', '-m', '/m/w.gguf', '--host', '127.0.0.1', '--port', '8123',
        '-c', '256', '-ngl', '99', '-t', '2', '-np', '3', '--api-key', 'k'],
    ],
    ['llamafile-0.10', base, ['--server', '--host', '127.0.0.1', '--port', '8123']],
    [
      'llamafile-0.10',
      { ...all, apiKey: 'k' },
      ['--server', '--host', '127.0.0.1', '--port', '8123', '-c', '256', '-ngl', '99', '-t', '2', '-np', '3', '-lv', '4'],
    ],
    ['llama-server', { ...base, modelPath: 'w.gguf' }, ['-m', 'w.gguf', '--host', '127.0.0.1', '--port', '8123']],
    ['llama-server', { ...base, modelPath: 'w.gguf', apiKey: 'k' }, ['-m', 'w.gguf', '--host', '127.0.0.1', '--port', '8123']],
    [
      'llama-server',
      { ...all, modelPath: 'w.gguf', extraArgs: ['--jinja', '-c', '512'] },
      ['-m', 'w.gguf', '--host', '127.0.0.1', '--port', '8123', '-c', '256', '-ngl', '99', '-t', '2', '-np', '3', '-lv', '4', '--jinja', '-c', '512'],
    ],
    // The user's own verbosity wins over the -lv 4 that makes upstream print its offload line.
    [
      'llama-server',
      { ...base, modelPath: 'w.gguf', gpuLayers: 10, extraArgs: ['-lv', '2'] },
      ['-m', 'w.gguf', '--host', '127.0.0.1', '--port', '8123', '-ngl', '10', '-lv', '2'],
    ],
    ['llama-server', { ...base, modelPath: 'w.gguf', gpuLayers: 0 }, ['-m', 'w.gguf', '--host', '127.0.0.1', '--port', '8123', '-ngl', '0']],
    ['llamafiler', { ...all, extraArgs: ['--v2'] }, ['--server', '--v2', '-l', '127.0.0.1:8123', '-c', '256', '-ngl', '99', '-t', '2', '-s', '3']],
    ['llamafiler', { ...base, host: '::1' }, ['--server', '--v2', '-l', '[::1]:8123']],
  ] as const)('%s %j', (kind, options, expected) => {
    expect(buildServerArgs(kind, options)).toEqual(expected);
  });

  test('llama-server without weights is a usage error', () => {
    expect(() => buildServerArgs('llama-server', base)).toThrow(UsageError);
  });

  test('llamafiler refuses an API key (it has none; an unknown flag would make it exit 1)', () => {
    expect(() => buildServerArgs('llamafiler', { ...base, apiKey: 'k' })).toThrow(/API keys/);
  });

  test('every llamafile ≤0.9 argv carries --server --nobrowser so no browser or chat REPL starts', () => {
    const args = buildServerArgs('llamafile-legacy', { ...base, modelPath: 'x' });
    expect(args.slice(0, 2)).toEqual(['--server', '--nobrowser']);
  });
});

describe('buildServerEnv', () => {
  // Upstream llama-server (and llamafile 0.10, which runs it) reads --api-key from LLAMA_API_KEY: off the argv
  // that `ps` shows everyone. llamafile 0.8/0.9 only take the flag (on their argv, above).
  test.each([
    ['llama-server', { apiKey: 'k' }, { LLAMA_API_KEY: 'k' }],
    ['llamafile-0.10', { apiKey: 'k' }, { LLAMA_API_KEY: 'k' }],
    ['llamafile-legacy', { apiKey: 'k' }, {}],
    ['llama-server', {}, {}],
  ] as const)('%s %j', (kind, options, expected) => {
    expect(buildServerEnv(kind, options)).toEqual(expected);
  });
});

describe('effectiveKind / healthPath / loopPath', () => {
  test.each([
    ['llamafile-legacy', [], 'llamafile-legacy', '/health', undefined],
    ['llamafile-legacy', ['--v2'], 'llamafiler', '/v1/models', undefined],
    ['llamafile-0.10', ['--v2'], 'llamafile-0.10', '/health', '/slots'],
    ['llama-server', [], 'llama-server', '/health', '/slots'],
  ] as const)('%s + %j → %s on %s, loop probe %s', (kind, extra, expected, path, loop) => {
    expect(effectiveKind(kind, extra)).toBe(expected);
    expect(healthPath(effectiveKind(kind, extra))).toBe(path);
    expect(loopPath(effectiveKind(kind, extra))).toBe(loop);
  });
});
