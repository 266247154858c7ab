import { describe, expect, it } from 'vitest';
import { parseMemory, parseRpcList } from '../../../../src/server/rpc/parse-rpc.js';

describe('parseRpcList', () => {
  it('splits a comma list and several flags, with declared memory', () => {
    expect(parseRpcList(['10.0.0.2:50052=24G,10.0.0.3:50052', 'gpu-box:50053=512M'])).toEqual([
      { host: '10.0.0.2', port: 50052, endpoint: '10.0.0.2:50052', declaredBytes: 24 * 2 ** 30 },
      { host: '10.0.0.3', port: 50052, endpoint: '10.0.0.3:50052', declaredBytes: undefined },
      { host: 'gpu-box', port: 50053, endpoint: 'gpu-box:50053', declaredBytes: 512 * 2 ** 20 },
    ]);
  });

  it('refuses what llama.cpp would misread, with the reason', () => {
    expect(() => parseRpcList('')).toThrow(/at least one worker/);
    expect(() => parseRpcList('10.0.0.2')).toThrow(/expected HOST:PORT/);
    expect(() => parseRpcList('10.0.0.2:0')).toThrow(/expected HOST:PORT/);
    expect(() => parseRpcList('10.0.0.2:70000')).toThrow(/expected HOST:PORT/);
    expect(() => parseRpcList('[::1]:50052')).toThrow(/IPv6/);
    expect(() => parseRpcList('fe80::1:50052')).toThrow(/IPv6/);
    expect(() => parseRpcList('a:1,a:1')).toThrow(/twice/);
    expect(() => parseRpcList('a b:1')).toThrow(/expected HOST:PORT/);
    expect(() => parseRpcList(Array.from({ length: 17 }, (_, i) => `h:${i + 1}`))).toThrow(/at most 16/);
    expect(() => parseRpcList('a:1=lots')).toThrow(/Bad memory size/);
  });
});

describe('parseMemory', () => {
  it('takes MiB without a unit and binary units with one', () => {
    expect(parseMemory('2048')).toBe(2048 * 2 ** 20);
    expect(parseMemory('1.5G')).toBe(1.5 * 2 ** 30);
    expect(parseMemory('64MiB')).toBe(64 * 2 ** 20);
    expect(parseMemory('8k')).toBe(8192);
    expect(() => parseMemory('0')).toThrow();
    expect(() => parseMemory('-1G')).toThrow();
  });
});
