import { describe, expect, test } from 'vitest';
import { estimateModelCost } from '../../../src/gateway/model-cost.js';
import { inspect } from '../../../src/inspect.js';

const gguf = process.env.LLAMACTL_TEST_GGUF!;
const runtime = process.env.LLAMACTL_TEST_SERVER!;

describe('estimateModelCost', () => {
  test('the estimate inspect prints, at the configured context', async () => {
    const cost = await estimateModelCost({ model: gguf, runtime, ctxSize: 256 });
    const info = await inspect(gguf, { ctxSize: 256 });
    expect(cost).toEqual({ ram: info.memory.totalBytes, gpu: 0, ctxSize: 256 });
    expect((await estimateModelCost({ model: gguf, runtime, ctxSize: 2048 })).ram).toBeGreaterThan(cost.ram);
  });

  test('with a GPU budget, the offloaded share counts there (2 blocks + output = 3 layers)', async () => {
    const whole = await estimateModelCost({ model: gguf, runtime, ctxSize: 256 });
    const one = await estimateModelCost({ model: gguf, runtime, ctxSize: 256, gpuLayers: 1 }, { gpuBudget: 2 ** 30 });
    expect(one.gpu).toBe(Math.round(whole.ram / 3));
    expect(one.ram + one.gpu).toBe(whole.ram);
    const all = await estimateModelCost({ model: gguf, runtime, ctxSize: 256, gpuLayers: 999 }, { gpuBudget: 2 ** 30 });
    expect(all).toMatchObject({ ram: 0, gpu: whole.ram });
    // Without a GPU budget, offloaded layers still count against RAM (the conservative reading).
    expect((await estimateModelCost({ model: gguf, runtime, ctxSize: 256, gpuLayers: 999 })).ram).toBe(whole.ram);
  });

  test('with RPC workers, the offloaded share lies on the workers and counts against neither budget', async () => {
    const whole = await estimateModelCost({ model: gguf, runtime, ctxSize: 256 });
    const two = await estimateModelCost({ model: gguf, runtime, ctxSize: 256, gpuLayers: 2, rpc: ['127.0.0.1:50052'] });
    expect(two).toMatchObject({ ram: whole.ram - Math.round((whole.ram * 2) / 3), gpu: 0 });
    const all = await estimateModelCost({ model: gguf, runtime, ctxSize: 256, gpuLayers: 99, rpc: ['127.0.0.1:50052'] }, { gpuBudget: 2 ** 30 });
    expect(all).toMatchObject({ ram: 0, gpu: 0 });
    // Without gpuLayers nothing is offloaded: the whole model stays on the gateway's machine.
    expect((await estimateModelCost({ model: gguf, runtime, ctxSize: 256, rpc: ['127.0.0.1:50052'] })).ram).toBe(whole.ram);
  });
});
