import { describe, expect, test } from 'vitest';
import { UsageError } from '../../../src/errors.js';
import { parseGatewayConfig } from '../../../src/gateway/config.js';

const YAML = `host: 127.0.0.1
port: 8181
apiKeys: [ "\${KEY}" ]
memoryBudget: 48GB
ttl: 10m
preload: [ llama-8b ]
models:
  llama-8b:
    model: Meta-Llama-3.1-8B-Instruct.Q4_K_M
    runtime: /opt/llama.cpp/llama-server
    ctxSize: 8192
    gpuLayers: 999
    parallel: 2
    ttl: 30m
    args: [ "--flash-attn", "on" ]
    aliases: [ "meta/meta-llama-3.1-8b-instruct", "@cf/meta/llama-3.1-8b-instruct" ]
`;

function error(text: string, env: NodeJS.ProcessEnv = {}): string {
  try {
    parseGatewayConfig(text, 'gw.yaml', env);
  } catch (caught) {
    expect(caught).toBeInstanceOf(UsageError);
    return (caught as Error).message;
  }
  throw new Error('no error');
}

describe('parseGatewayConfig', () => {
  test('the issue example parses, with ${VAR} expanded and units converted', () => {
    const config = parseGatewayConfig(YAML, 'gw.yaml', { KEY: 'sekrit' });
    expect(config).toMatchObject({ host: '127.0.0.1', port: 8181, apiKeys: ['sekrit'], memoryBudget: 48e9, ttlMs: 600_000, preload: ['llama-8b'] });
    expect(config.models).toEqual([
      {
        name: 'llama-8b', model: 'Meta-Llama-3.1-8B-Instruct.Q4_K_M', runtime: '/opt/llama.cpp/llama-server', ctxSize: 8192,
        gpuLayers: 999, parallel: 2, ttlMs: 1_800_000, args: ['--flash-attn', 'on'],
        aliases: ['meta/meta-llama-3.1-8b-instruct', '@cf/meta/llama-3.1-8b-instruct'],
      },
    ]);
  });

  test('JSON is YAML', () => {
    const config = parseGatewayConfig('{"port": 9000, "models": {"a": {"model": "a.gguf", "ttl": 0}}}', 'gw.json');
    expect(config).toEqual({ port: 9000, models: [{ name: 'a', model: 'a.gguf', ttlMs: 0 }] });
  });

  test('errors name the file, the line and the key', () => {
    expect(error('port: 8181\nmodels:\n  a:\n    model: x\n    ctxSize: big\n')).toMatch(/^gw\.yaml:5: models\.a\.ctxSize must be a whole number/);
    expect(error('hots: 1.2.3.4\n')).toMatch(/^gw\.yaml:1: unknown key "hots"/);
    expect(error('ttl: 10 parsecs\n')).toMatch(/^gw\.yaml:1: ttl takes a duration such as .* got "10 parsecs"\.$/);
    expect(error('memoryBudget: lots\n')).toMatch(/^gw\.yaml:1: memoryBudget takes a size such as 48GB/);
    expect(error('models:\n  a:\n    ctxSize: 5\n')).toMatch(/^gw\.yaml:2: models\.a needs `model`/);
    expect(error('models:\n  a:\n    model: x\n    gpulayers: 5\n')).toMatch(/^gw\.yaml:4: models\.a: unknown key "gpulayers"/);
    expect(error('apiKeys: ["${NOPE}"]\n')).toMatch(/^gw\.yaml:1: apiKeys uses \$\{NOPE\}, which is not set/);
    expect(error('{"port": 1,\n "models": [1,\n')).toMatch(/^gw\.yaml:\d+:/);
    expect(error('port: 70000\n')).toMatch(/port must be at most 65535/);
  });

  test('durations and sizes read as the CLI flags do; a plain number is seconds or bytes', () => {
    const config = parseGatewayConfig('ttl: 600\nqueueTimeout: 1.5h\nshutdownGrace: 0\nmemoryBudget: 8G\nmaxBodySize: 1024\n', 'gw.yaml');
    expect(config).toEqual({ ttlMs: 600_000, queueTimeoutMs: 5_400_000, shutdownGraceMs: 0, memoryBudget: 8 * 2 ** 30, maxBodyBytes: 1024 });
  });

  test('rpc: workers as for serve --rpc (a list or one comma-separated string), checked at load', () => {
    const config = parseGatewayConfig(
      'models:\n  big:\n    model: big.gguf\n    rpc: [ "10.0.0.2:50052=24G", "10.0.0.3:50052" ]\n  small:\n    model: s.gguf\n    rpc: "a:1,b:2"\n',
      'gw.yaml',
    );
    expect(config.models?.map((model) => model.rpc)).toEqual([['10.0.0.2:50052=24G', '10.0.0.3:50052'], ['a:1,b:2']]);
    expect(error('models:\n  a:\n    model: x\n    rpc: [ "nope" ]\n')).toMatch(/^gw\.yaml:4: models\.a\.rpc: worker "nope": expected HOST:PORT/);
    expect(error('models:\n  a:\n    model: x\n    rpc: "h:1,h:1"\n')).toMatch(/^gw\.yaml:4: models\.a\.rpc: names h:1 twice/);
    expect(error('models:\n  a:\n    model: x\n    rpc: 5\n')).toMatch(/^gw\.yaml:4: models\.a\.rpc: .*HOST:PORT/);
  });
});
