import { stat } from 'node:fs/promises';
import { checkModelFit, insufficientMemoryError, type FitReport, type MemoryEstimate, type SystemMemory } from '../format/fit.js';
import { estimateFromHeader } from '../format/header-estimate.js';
import { FileSource } from '../format/source.js';

export interface ServeFitOptions {
  ctxSize?: number | undefined;
  gpuLayers?: number | undefined;
  /** Start even when the model will not fit in RAM. */
  force?: boolean | undefined;
  memory?: SystemMemory | undefined;
  onFit?: ((report: FitReport) => void) | undefined;
  signal?: AbortSignal | undefined;
}

/**
 * The RAM check before spawning: reads the weights' GGUF header (local, a few KB) and refuses a model that cannot
 * fit this machine's RAM, unless `force` is set or layers are offloaded to a GPU (whose memory we cannot see).
 * A header that cannot be read never blocks the start: the engine reports a corrupt model better than we can.
 */
export async function checkServeFit(weights: string, options: ServeFitOptions): Promise<void> {
  const report = await checkModelFit(() => estimateWeights(weights, options.ctxSize), {
    memory: options.memory,
    signal: options.signal,
  });
  options.onFit?.(report);
  const offloading = (options.gpuLayers ?? 0) > 0;
  if (report.fits === false && !options.force && !offloading) {
    throw insufficientMemoryError(report, 'Set `force` to start it anyway.');
  }
}

/**
 * Estimates already made in this process, by file identity and context: a gateway or a library user starting the
 * same weights again skips the header read (5-11 ms on 2 cores, most of startServer's own time before the spawn).
 * A file changed in place (size, mtime, inode) is read again; the machine's free memory is always read afresh.
 */
const estimates = new Map<string, MemoryEstimate>();
const MAX_ESTIMATES = 64;

/** The memory estimate of local weights (a `.gguf` or `.llamafile`) from their header, at `ctxSize` or the default. */
export async function estimateWeights(weights: string, ctxSize: number | undefined): Promise<MemoryEstimate> {
  const facts = await stat(weights, { bigint: true });
  const key = [weights, facts.dev, facts.ino, facts.size, facts.mtimeNs, facts.ctimeNs, ctxSize || 0].join('\0');
  const known = estimates.get(key);
  if (known) return structuredClone(known);
  const source = await FileSource.open(weights);
  try {
    const { memory } = await estimateFromHeader(source, { ctxSize: ctxSize || undefined });
    if (estimates.size >= MAX_ESTIMATES) estimates.delete(estimates.keys().next().value!);
    estimates.set(key, memory);
    return memory;
  } finally {
    await source.close();
  }
}
