import { AbortError, InsufficientMemoryError } from '../../errors.js';
import { systemMemory, type FitVerdict, type SystemMemory } from '../../format/fit.js';

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
  onFit?: ((verdict: FitVerdict | { level: 'unknown'; message: string }) => void) | undefined;
  signal?: AbortSignal | undefined;
  env?: NodeJS.ProcessEnv | undefined;
}

const gib = (bytes: number) => `${(bytes / 2 ** 30).toFixed(1)} GiB`;
const size = (bytes: number) => (bytes >= 2 ** 30 ? gib(bytes) : `${(bytes / 2 ** 20).toFixed(1)} MiB`);

/**
 * The memory check across machines: the estimate (weights + KV cache + margin, as for one machine) against the head's
 * available RAM plus every worker's memory. The split itself is llama.cpp's (by the devices' free memory, or
 * `--tensor-split`); this only refuses a model that cannot fit even across all of them, before anything is loaded.
 */
export async function checkRpcFit(weights: string, workers: readonly WorkerMemory[], options: RpcFitOptions): Promise<FitVerdict | undefined> {
  const { inspect } = await import('../../inspect.js');
  let required: number;
  let ctxSize: number;
  try {
    const result = await inspect(weights, { ctxSize: options.ctxSize || undefined, signal: options.signal, env: options.env });
    required = result.memory.totalBytes;
    ctxSize = result.memory.ctxSize;
  } catch (error) {
    if (error instanceof AbortError || options.signal?.aborted) throw error;
    options.onFit?.({ level: 'unknown', message: `Could not read the model's header: ${(error as Error).message}` });
    return undefined;
  }
  const head = options.memory ?? systemMemory();
  const workerBytes = workers.reduce((sum, worker) => sum + worker.bytes, 0);
  const available = head.availableBytes + workerBytes;
  const parts = [`head ${size(head.availableBytes)}`, ...workers.map((w) => `${w.endpoint} ${size(w.bytes)}${w.declared ? ' (declared)' : ''}`)];
  const needs = `The model needs about ${size(required)} of memory at a context of ${ctxSize} tokens`;
  const across = `the head and its ${workers.length} worker${workers.length === 1 ? '' : 's'} have ${size(available)} together (${parts.join(', ')})`;
  const fits = required <= available;
  const verdict: FitVerdict = {
    level: fits ? 'ok' : 'too-big',
    fits,
    requiredBytes: required,
    totalBytes: head.totalBytes + workerBytes,
    availableBytes: available,
    message: fits ? `${needs}; ${across}.` : `${needs}, but ${across}.`,
    hint: fits ? undefined : 'Add a worker, declare what a worker may use (HOST:PORT=MEM), or choose a smaller quantisation or context (-c).',
  };
  options.onFit?.(verdict);
  if (!fits && !options.force) {
    throw new InsufficientMemoryError(verdict.message, { hint: `${verdict.hint} Pass --force to start it anyway.` });
  }
  return verdict;
}
