/**
 * What a model costs the memory budget: the GGUF-based estimate that `inspect` and the fit check use (weights + KV
 * cache at the configured context + margin). With GPU offload and a GPU budget, the offloaded share of it counts
 * against the GPU budget instead of RAM. With RPC workers the offloaded share lies on the workers (startServer checks
 * that it fits there), so it counts against neither budget.
 */
import { stat } from 'node:fs/promises';
import { MEMORY_MARGIN } from '../format/fit.js';
import { inspect } from '../inspect.js';
import { resolveModel } from '../server/resolve-model.js';
import type { GatewayModelConfig } from './config.js';

export interface ModelCost {
  /** Bytes of RAM. */
  ram: number;
  /** Bytes of GPU memory (0 without offload or without a GPU budget). */
  gpu: number;
  /** The context the estimate is for. */
  ctxSize: number;
}

export async function estimateModelCost(
  model: Pick<GatewayModelConfig, 'model' | 'runtime' | 'ctxSize' | 'gpuLayers' | 'rpc'>,
  options: { env?: NodeJS.ProcessEnv | undefined; gpuBudget?: number | undefined } = {},
): Promise<ModelCost> {
  const resolved = await resolveModel(model.model, model.runtime, options.env);
  const weights = resolved.modelPath ?? resolved.executable;
  const info = await inspect(weights, { ctxSize: model.ctxSize || undefined, env: options.env }).catch(() => undefined);
  if (!info) {
    // A header we cannot read (a GGUF version newer than our reader, say) must not block the start, as in `serve`:
    // the file's size stands in for the weights, and the engine says better than we can if the file is broken.
    const size = (await stat(weights)).size;
    return { ram: Math.round(size * (1 + MEMORY_MARGIN.fraction)) + MEMORY_MARGIN.fixedBytes, gpu: 0, ctxSize: model.ctxSize ?? 0 };
  }
  const total = info.memory.totalBytes;
  const layers = model.gpuLayers ?? 0;
  const remote = (model.rpc?.length ?? 0) > 0;
  if ((options.gpuBudget === undefined && !remote) || layers <= 0) return { ram: total, gpu: 0, ctxSize: info.memory.ctxSize };
  // llama.cpp offloads the repeating blocks and then the output layer: blockCount + 1 layers in all.
  const offloadable = (info.model.blockCount ?? layers) + 1;
  const offloaded = Math.round(total * Math.min(1, layers / offloadable));
  return { ram: total - offloaded, gpu: remote ? 0 : offloaded, ctxSize: info.memory.ctxSize };
}
