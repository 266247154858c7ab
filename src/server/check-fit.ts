import { AbortError, InsufficientMemoryError } from '../errors.js';
import type { FitVerdict, SystemMemory } from '../format/fit.js';

export interface ServeFitOptions {
  ctxSize?: number | undefined;
  gpuLayers?: number | undefined;
  /** Start even when the model will not fit in RAM. */
  force?: boolean | undefined;
  memory?: SystemMemory | undefined;
  onFit?: ((verdict: FitVerdict | { level: 'unknown'; message: string }) => void) | undefined;
  signal?: AbortSignal | undefined;
  env?: NodeJS.ProcessEnv | undefined;
}

/**
 * The RAM check before spawning: reads the weights' GGUF header (local, a few KB) and refuses a model that cannot
 * fit this machine's RAM, unless `force` is set or layers are offloaded to a GPU (whose memory we cannot see).
 * A header that cannot be read never blocks the start: the engine reports a corrupt model better than we can.
 */
export async function checkServeFit(weights: string, options: ServeFitOptions): Promise<void> {
  const { inspect } = await import('../inspect.js');
  let verdict: FitVerdict;
  try {
    const result = await inspect(weights, {
      ctxSize: options.ctxSize || undefined,
      memory: options.memory,
      signal: options.signal,
      env: options.env,
    });
    verdict = result.fit;
  } catch (error) {
    if (error instanceof AbortError || options.signal?.aborted) throw error;
    options.onFit?.({ level: 'unknown', message: `Could not read the model's header: ${(error as Error).message}` });
    return;
  }
  options.onFit?.(verdict);
  const offloading = (options.gpuLayers ?? 0) > 0;
  if (!verdict.fits && !options.force && !offloading) {
    throw new InsufficientMemoryError(verdict.message, {
      hint: `${verdict.hint ?? ''} Pass --force to start it anyway.`.trim(),
    });
  }
}
