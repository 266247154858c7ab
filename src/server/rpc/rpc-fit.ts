import { checkModelFit, insufficientMemoryError, systemMemory, type FitReport, type FitVerdict, type MemoryEstimate, type SystemMemory } from '../../format/fit.js';
import { estimateWeights } from '../check-fit.js';

export interface WorkerMemory {
  endpoint: string;
  /** What the worker may hold: declared (`HOST:PORT=MEM`) or its devices' free memory as rpc-server reports it. */
  bytes: number;
  declared: boolean;
}

export interface RpcFitOptions {
  ctxSize?: number | undefined;
  force?: boolean | undefined;
  /** The head's memory. @default this machine's */
  memory?: SystemMemory | undefined;
  onFit?: ((report: FitReport) => void) | undefined;
  signal?: AbortSignal | undefined;
}

// Binary units, as llama.cpp prints its buffers and as the workers report their memory.
const size = (bytes: number) => (bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(1)} GiB` : `${(bytes / 2 ** 20).toFixed(1)} MiB`);

/**
 * The memory check across machines: the estimate (weights + KV cache + margin, as for one machine) against the head's
 * available RAM plus every worker's memory. The split itself is llama.cpp's (by the devices' free memory, or
 * `--tensor-split`); this only refuses a model that cannot fit even across all of them, before anything is loaded.
 * A header that cannot be read never blocks the start (`unknown`), as on one machine.
 */
export async function checkRpcFit(weights: string, workers: readonly WorkerMemory[], options: RpcFitOptions): Promise<FitReport> {
  const report = await checkModelFit(() => estimateWeights(weights, options.ctxSize), {
    memory: options.memory ?? systemMemory(),
    signal: options.signal,
    compare: (estimate, head) => acrossMachines(estimate, head, workers),
  });
  options.onFit?.(report);
  if (report.fits === false && !options.force) throw insufficientMemoryError(report, 'Set `force` to start it anyway.');
  return report;
}

function acrossMachines(estimate: MemoryEstimate, head: SystemMemory, workers: readonly WorkerMemory[]): FitVerdict {
  const required = estimate.totalBytes;
  const workerBytes = workers.reduce((sum, worker) => sum + worker.bytes, 0);
  const available = head.availableBytes + workerBytes;
  const parts = [
    `head ${size(head.availableBytes)}`,
    ...workers.map((w) => `${w.endpoint} ${size(w.bytes)}${w.declared ? ' (declared)' : ''}`),
  ];
  const needs = `The model needs about ${size(required)} of memory at a context of ${estimate.ctxSize} tokens`;
  const across = `the head and its ${workers.length} worker${workers.length === 1 ? '' : 's'} have ${size(available)} together (${parts.join(', ')})`;
  const fits = required <= available;
  return {
    level: fits ? 'ok' : 'too-big',
    fits,
    requiredBytes: required,
    totalBytes: head.totalBytes + workerBytes,
    availableBytes: available,
    message: fits ? `${needs}; ${across}.` : `${needs}, but ${across}.`,
    hint: fits ? undefined : 'Add a worker, declare what a worker may use (HOST:PORT=MEM), or choose a smaller quantisation or context (-c).',
  };
}
