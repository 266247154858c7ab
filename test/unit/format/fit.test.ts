import { describe, expect, it } from 'vitest';
import { InsufficientMemoryError } from '../../../src/errors.js';
import { checkFit, estimateMemory, insufficientMemoryError } from '../../../src/format/fit.js';
import type { ModelSummary } from '../../../src/format/model-summary.js';
import { readGgufMetadata } from '../../../src/format/llamafile.js';
import { ctxFromArgs } from '../../../src/format/header-estimate.js';

const GiB = 2 ** 30;
const MiB = 2 ** 20;

/** Llama 3.1 8B's shape: 32 layers, 32 heads, 8 KV heads, head dim 128; 4.9 GB of Q4_K_M weights. */
const llama8b: ModelSummary = {
  name: 'Meta Llama 3.1 8B Instruct',
  architecture: 'llama',
  sizeLabel: '8B',
  fileType: 15,
  quantization: 'Q4_K_M',
  contextLength: 131072,
  blockCount: 32,
  embeddingLength: 4096,
  feedForwardLength: 14336,
  headCount: 32,
  headCountKv: 8,
  headCountKvPerLayer: undefined,
  keyLength: 128,
  valueLength: 128,
  chatTemplate: true,
  vocabSize: 128256,
  parameterCount: 8_030_261_248,
  tensorBytes: 4_920_000_000,
  tensorCount: 292,
  ggufVersion: 3,
};

describe('estimateMemory', () => {
  it('Llama 3.1 8B at 8192 tokens: 1 GiB of f16 KV cache', () => {
    const estimate = estimateMemory(llama8b, { ctxSize: 8192 });
    // 32 layers × 8192 tokens × (8 heads × 128) × 2 (K and V) × 2 bytes = 1 073 741 824
    expect(estimate.kvCacheBytes).toBe(32 * 8192 * 8 * 128 * 2 * 2);
    expect(estimate.kvCacheBytes).toBe(GiB);
    expect(estimate.weightsBytes).toBe(4_920_000_000);
    // margin: 10% of (4 920 000 000 + 1 073 741 824) + 256 MiB
    expect(estimate.marginBytes).toBe(Math.round(599_374_182.4) + 256 * MiB);
    expect(estimate.totalBytes).toBe(4_920_000_000 + GiB + 599_374_182 + 268_435_456);
    expect(estimate.formula).toContain('32 layers × 8192 ctx × 8 KV heads × (128 + 128) × 2 B');
  });

  it('scales the cache with the context and the element size (q8_0 cache: 1 byte)', () => {
    expect(estimateMemory(llama8b, { ctxSize: 131072 }).kvCacheBytes).toBe(16 * GiB);
    expect(estimateMemory(llama8b, { ctxSize: 8192, kvBytesPerElement: 1 }).kvCacheBytes).toBe(GiB / 2);
  });

  it('sums per-layer KV head counts when a model varies them', () => {
    const estimate = estimateMemory({ ...llama8b, blockCount: 3, headCountKvPerLayer: [2, 0, 4] }, { ctxSize: 100 });
    expect(estimate.kvCacheBytes).toBe(100 * (2 + 0 + 4) * 256 * 2);
  });

  it('counts no cache, and says so, when the header lacks the numbers', () => {
    const estimate = estimateMemory({ ...llama8b, blockCount: undefined }, { ctxSize: 4096 });
    expect(estimate).toMatchObject({ kvCacheBytes: 0, kvCacheKnown: false });
  });

  it('works from GGUF metadata: the tiny model at 2048 tokens', async () => {
    const meta = await readGgufMetadata(process.env.LLAMACTL_TEST_GGUF!);
    // 2 layers × 2048 × 2 KV heads × (16 + 16) × 2 bytes
    expect(estimateMemory(meta, { ctxSize: 2048 }).kvCacheBytes).toBe(2 * 2048 * 2 * 32 * 2);
  });
});

describe('checkFit', () => {
  const estimate = estimateMemory(llama8b, { ctxSize: 8192 }); // ~6.4 GiB
  it.each([
    { total: 64 * GiB, available: 32 * GiB, level: 'ok', fits: true },
    { total: 16 * GiB, available: 4 * GiB, level: 'tight', fits: true },
    { total: 6 * GiB, available: 5 * GiB, level: 'too-big', fits: false },
  ])('$level with $total total / $available available', ({ total, available, level, fits }) => {
    const verdict = checkFit(estimate, { totalBytes: total, availableBytes: available });
    expect(verdict).toMatchObject({ level, fits, requiredBytes: estimate.totalBytes });
    expect(verdict.message).toContain('at a context of 8192 tokens');
  });

  it('turns a verdict into InsufficientMemoryError (exit code 6)', () => {
    const error = insufficientMemoryError(checkFit(estimate, { totalBytes: GiB, availableBytes: GiB }));
    expect(error).toBeInstanceOf(InsufficientMemoryError);
    expect(error.exitCode).toBe(6);
    expect(error.message).toMatch(/needs about 6\.4 GiB .* has 1\.0 GiB of RAM in total/);
    expect(error.hint).toMatch(/smaller quantisation/);
  });
});

describe('ctxFromArgs', () => {
  it.each([
    [undefined, undefined],
    [['-m', 'x.gguf'], undefined],
    [['-c', '4096'], 4096],
    [['-c', '4096', '--ctx-size', '0'], 0],
    [['-c'], undefined],
    [['-c', 'lots'], undefined],
  ])('%j → %s', (args, expected) => {
    expect(ctxFromArgs(args)).toBe(expected);
  });
});
