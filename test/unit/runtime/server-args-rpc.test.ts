import { describe, expect, test } from 'vitest';
import { UsageError } from '../../../src/errors.js';
import { buildServerArgs } from '../../../src/runtime/server-args.js';

const base = { host: '127.0.0.1', port: 8123, modelPath: '/m/w.gguf', gpuLayers: 99 };

describe('buildServerArgs with RPC workers', () => {
  test('llama-server gets --rpc a,b before the user flags', () => {
    const args = buildServerArgs('llama-server', { ...base, rpc: ['10.0.0.2:50052', '10.0.0.3:50052'], extraArgs: ['-ts', '1,1'] });
    expect(args).toEqual(['-m', '/m/w.gguf', '--host', '127.0.0.1', '--port', '8123', '-ngl', '99',
      '--rpc', '10.0.0.2:50052,10.0.0.3:50052', '-lv', '4', '-ts', '1,1']);
  });

  test.each(['llamafile-legacy', 'llamafiler', 'llamafile-0.10'] as const)('%s has no RPC backend: refused', (kind) => {
    expect(() => buildServerArgs(kind, { ...base, rpc: ['10.0.0.2:50052'] })).toThrow(UsageError);
    expect(() => buildServerArgs(kind, { ...base, rpc: ['10.0.0.2:50052'] })).toThrow(/do not include llama\.cpp's RPC backend/);
  });
});
