import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HubAuthError } from '../../src/errors.js';
import { FaultHub as LocalHub } from '../helpers/fault-hub.js';
import { inspect } from '../../src/inspect.js';
import { writeStandinLlamafile } from '../../src/demo/standin-llamafile.js';
import { GgufType } from '../../src/format/gguf-constants.js';
import { encodeGgufHeader } from '../../src/demo/gguf-writer.js';
import { runCli } from '../helpers/cli.js';

function fixture(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: test/helpers/global-setup.ts did not run.`);
  return value;
}

const REPO = 'Test/Tiny-llamafile';
const GATED = 'Test/Private-llamafile';
const TOKEN = 'hf_inspect_secret';
const plenty = { totalBytes: 2 ** 40, availableBytes: 2 ** 40 };

describe('inspect, remote and from the CLI', () => {
  let hub: LocalHub;
  let home: string;
  let size: number;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    const bytes = await readFile(fixture('LLAMACTL_TEST_LLAMAFILE'));
    size = bytes.length;
    const third = Math.floor(size / 3);
    const shards = {
      'Tiny.F16.cat0.llamafile': bytes.subarray(0, third),
      'Tiny.F16.cat1.llamafile': bytes.subarray(third, 2 * third),
      'Tiny.F16.cat2.llamafile': bytes.subarray(2 * third),
    };
    hub = await LocalHub.start({
      repos: {
        [REPO]: { files: { ...shards, 'tiny-weights.gguf': { path: fixture('LLAMACTL_TEST_GGUF') }, 'README.md': '# tiny\n' } },
        [GATED]: { files: { 'Tiny.F16.llamafile': bytes }, token: TOKEN },
      },
    });
    home = await mkdtemp(join(tmpdir(), 'llamactl-inspect-'));
    env = { LLAMACTL_HOME: home, HF_ENDPOINT: hub.endpoint, HF_TOKEN: '', NO_COLOR: '1' };
  });
  afterAll(async () => {
    await hub?.close();
    await rm(home, { recursive: true, force: true });
  });

  it('reads a remote .catN shard set with a few small Range requests', async () => {
    const before = hub.requests.length;
    const result = await inspect(`${REPO}:F16`, { env, memory: plenty });
    expect(result).toMatchObject({
      origin: 'remote',
      repo: REPO,
      files: ['Tiny.F16.cat0.llamafile', 'Tiny.F16.cat1.llamafile', 'Tiny.F16.cat2.llamafile'],
      size,
      kind: 'llamafile',
      ggufName: 'tiny-llama.gguf',
      args: ['-m', 'tiny-llama.gguf', '...'],
      model: { name: 'llamactl tiny test model', blockCount: 2, vocabSize: 32002, chatTemplate: true },
      fit: { level: 'ok' },
    });
    const sent = hub.requests.slice(before);
    // revision + tree, then the tail and the GGUF header: a redirect and a ranged read each.
    expect(result.remote!.requests).toBe(sent.length);
    expect(sent.length).toBeLessThanOrEqual(6);
    expect(sent.filter((r) => r.origin === 'cdn').every((r) => r.status === 206 && r.headers.range)).toBe(true);
    const cdnBytes = sent.filter((r) => r.origin === 'cdn').reduce((sum, r) => sum + r.bytes, 0);
    expect(result.remote!.bytes).toBe(cdnBytes);
    expect(cdnBytes).toBeLessThan(1.2e6); // of a 9.1 MB file
  });

  it('reads a 405B-sized tokenizer header (9.4 MB: 128k tokens, 280k merges) in a few requests', async () => {
    const tokens = Array.from({ length: 128_256 }, (_, i) => `tok_${i}`);
    const merges = Array.from({ length: 280_147 }, (_, i) => `a${i} b${i}`);
    const array = (itemType: GgufType, items: (string | number)[]) => ({ itemType, length: items.length, items });
    const { header } = encodeGgufHeader({
      kv: [
        { key: 'general.architecture', type: GgufType.STRING, value: 'llama' },
        { key: 'llama.block_count', type: GgufType.UINT32, value: 126 },
        { key: 'tokenizer.ggml.tokens', type: GgufType.ARRAY, value: array(GgufType.STRING, tokens) },
        { key: 'tokenizer.ggml.scores', type: GgufType.ARRAY, value: array(GgufType.FLOAT32, tokens.map(() => 0)) },
        { key: 'tokenizer.ggml.token_type', type: GgufType.ARRAY, value: array(GgufType.INT32, tokens.map(() => 1)) },
        { key: 'tokenizer.ggml.merges', type: GgufType.ARRAY, value: array(GgufType.STRING, merges) },
      ],
      tensors: [{ name: 't', dims: [8], type: 0, data: new Uint8Array(32) }],
    });
    const gguf = join(home, 'big.gguf');
    await writeFile(gguf, Buffer.concat([header, Buffer.alloc(32 + 5_000_000)]));
    const llamafile = join(home, 'big.llamafile');
    await writeStandinLlamafile(llamafile, { ggufPath: gguf, serverPath: '/bin/false' });
    const bytes = await readFile(llamafile);
    // As in Mozilla's 405B sets, the whole header lies in cat0 (their shards are ~50 GB).
    const files = {
      'Big.Q2_K.cat0.llamafile': bytes.subarray(0, bytes.length - 300_000),
      'Big.Q2_K.cat1.llamafile': bytes.subarray(bytes.length - 300_000),
    };
    const big = await LocalHub.start({ repos: { 'Test/Big-llamafile': { files } } });
    try {
      const result = await inspect('Test/Big-llamafile:Q2_K', { env: { ...env, HF_ENDPOINT: big.endpoint }, memory: plenty });
      expect(result.model).toMatchObject({ vocabSize: 128_256, blockCount: 126 });
      expect(result.remote!.requests).toBe(big.requests.length);
      // 2 API calls, the tail, then the header in windows of up to 4 MiB (each shard's first read is redirected).
      expect(result.remote!.requests).toBeLessThanOrEqual(12);
      expect(result.remote!.bytes).toBeLessThan(header.length + 4 * 2 ** 20 + 70_000);
    } finally {
      await big.close();
    }
  });

  it('reads a remote bare GGUF, and names the quant choices when the ref is ambiguous', async () => {
    const gguf = await inspect(REPO, { env, file: 'tiny-weights.gguf', memory: plenty });
    expect(gguf).toMatchObject({ kind: 'gguf', model: { parameterCount: 4_170_304 } });
    await expect(inspect(REPO, { env })).rejects.toThrow(/holds 2 models/);
  });

  it('sends the token to the hub only, never to the CDN', async () => {
    await expect(inspect(GATED, { env })).rejects.toBeInstanceOf(HubAuthError);
    const before = hub.requests.length;
    const result = await inspect(GATED, { env: { ...env, HF_TOKEN: TOKEN }, memory: plenty });
    expect(result.model.name).toBe('llamactl tiny test model');
    const sent = hub.requests.slice(before);
    expect(sent.filter((r) => r.origin === 'hub').every((r) => r.headers.authorization === `Bearer ${TOKEN}`)).toBe(true);
    expect(sent.filter((r) => r.origin === 'cdn').some((r) => r.headers.authorization)).toBe(false);
  });

  it('`llamactl inspect <ref> --json` and the human view', async () => {
    const json = await runCli(['inspect', `${REPO}:F16`, '--json', '-c', '1024'], { env });
    expect(json.exitCode, json.stderr).toBe(0);
    const parsed = JSON.parse(json.stdout) as { memory: { ctxSize: number; kvCacheBytes: number }; remote: { requests: number } };
    expect(parsed.memory).toMatchObject({ ctxSize: 1024, kvCacheBytes: 2 * 1024 * 2 * 32 * 2 });
    expect(parsed.remote.requests).toBeLessThanOrEqual(6);

    const human = await runCli(['inspect', fixture('LLAMACTL_TEST_LLAMAFILE')], { env });
    expect(human.exitCode, human.stderr).toBe(0);
    expect(human.stdout).toContain('llamactl tiny test model (llama, 4M, F16)');
    expect(human.stdout).toMatch(/Defaults\s+-m tiny-llama.gguf \.\.\./);
    expect(human.stdout).toMatch(/Memory\s+about .* at a context of 2048 \(llamafile default\)/);
  });

  it('retries a reset connection, and explains a server that ignores Range', async () => {
    hub.setFaults([{ kind: 'reset', origin: 'cdn', times: 1, afterBytes: 10 }]);
    const retried = await inspect(`${REPO}:F16`, { env, memory: plenty });
    expect(retried.model.blockCount).toBe(2);
    hub.setFaults([{ kind: 'no-range', origin: 'cdn', times: Number.POSITIVE_INFINITY }]);
    await expect(inspect(`${REPO}:F16`, { env })).rejects.toThrow(/honours Range requests|HTTP 200/);
    hub.setFaults([]);
  });

  it('finds a model in the store by name or owner/repo:QUANT before asking the hub', async () => {
    const dir = join(home, 'models', 'Store', 'Tiny-llamafile');
    await mkdir(dir, { recursive: true });
    await copyFile(fixture('LLAMACTL_TEST_LLAMAFILE'), join(dir, 'Tiny.F16.llamafile'));
    const before = hub.requests.length;
    const byName = await inspect('Tiny.F16.llamafile', { env, memory: plenty });
    expect(byName).toMatchObject({ origin: 'store', files: [join(dir, 'Tiny.F16.llamafile')], remote: undefined });
    const byRef = await inspect('Store/Tiny-llamafile:F16', { env, memory: plenty });
    expect(byRef.origin).toBe('store');
    expect(hub.requests.length).toBe(before);
  });

  it('exits with clear errors on bad input', async () => {
    const notModel = await runCli(['inspect', fixture('LLAMACTL_TEST_SERVER')], { env });
    expect(notModel.exitCode).toBe(5);
    expect(notModel.stderr).toMatch(/not a llamafile or zip archive/);
    const missing = await runCli(['inspect', 'no-such-model'], { env });
    expect(missing.exitCode).toBe(3);
    const badCtx = await runCli(['inspect', fixture('LLAMACTL_TEST_GGUF'), '-c', 'big'], { env });
    expect(badCtx.exitCode).toBe(2);
  });
});
