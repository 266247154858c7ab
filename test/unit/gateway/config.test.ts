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
    expect(error('ttl: 10 parsecs\n')).toMatch(/^gw\.yaml:1: ttl must be a duration/);
    expect(error('models:\n  a:\n    ctxSize: 5\n')).toMatch(/^gw\.yaml:2: models\.a needs `model`/);
    expect(error('models:\n  a:\n    model: x\n    gpulayers: 5\n')).toMatch(/^gw\.yaml:4: models\.a: unknown key "gpulayers"/);
    expect(error('apiKeys: ["${NOPE}"]\n')).toMatch(/^gw\.yaml:1: apiKeys uses \$\{NOPE\}, which is not set/);
    expect(error('{"port": 1,\n "models": [1,\n')).toMatch(/^gw\.yaml:\d+:/);
    expect(error('port: 70000\n')).toMatch(/port must be at most 65535/);
  });
});
