/**
 * Will a model fit this machine's memory? An estimate from the GGUF header alone (so it works on a remote model
 * before a 230 GB download): the weights, plus the KV cache at the chosen context, plus a stated margin for compute
 * buffers and the runtime. Compared with total and available RAM.
 */
import { readFileSync } from 'node:fs';
import { freemem, totalmem } from 'node:os';
import { InsufficientMemoryError } from '../errors.js';
import type { GgufMetadata } from './gguf-reader.js';
import { summarizeModel } from './model-summary.js';
import type { ModelSummary } from './model-summary.js';
import { formatGiB } from '../text/format-bytes.js';

/** The margin added on top of weights + KV cache: compute buffers, the runtime, the OS's share. */
export const MEMORY_MARGIN = { fraction: 0.1, fixedBytes: 256 * 1024 * 1024 } as const;

export interface EstimateMemoryOptions {
  /** Context size in tokens (`-c`). */
  ctxSize: number;
  /** Bytes per KV cache element: 2 for the default f16 cache, 1 for q8_0. @default 2 */
  kvBytesPerElement?: number;
}

export interface MemoryEstimate {
  ctxSize: number;
  weightsBytes: number;
  kvCacheBytes: number;
  /** False when the header lacks what the KV formula needs (the cache is then counted as 0). */
  kvCacheKnown: boolean;
  marginBytes: number;
  totalBytes: number;
  /** How the numbers were made, for people. */
  formula: string;
}

function toSummary(meta: GgufMetadata | ModelSummary): ModelSummary {
  return 'kv' in meta ? summarizeModel(meta) : meta;
}

/**
 * weights + KV cache + margin, where KV cache = n_layer × n_ctx × n_head_kv × (key_length + value_length) × bytes per
 * element (key_length = value_length = head_dim for most models, i.e. n_head_kv × head_dim × 2).
 */
export function estimateMemory(meta: GgufMetadata | ModelSummary, options: EstimateMemoryOptions): MemoryEstimate {
  const summary = toSummary(meta);
  const { ctxSize, kvBytesPerElement = 2 } = options;
  if (!Number.isInteger(ctxSize) || ctxSize < 0) throw new TypeError(`ctxSize must be a whole number, got ${ctxSize}.`);
  const { blockCount, headCountKv, headCountKvPerLayer, keyLength, valueLength } = summary;
  let kvCacheBytes = 0;
  const kvCacheKnown = blockCount !== undefined && headCountKv !== undefined && keyLength !== undefined && valueLength !== undefined;
  if (kvCacheKnown) {
    const width = keyLength + valueLength;
    const heads = headCountKvPerLayer?.length === blockCount ? headCountKvPerLayer : Array<number>(blockCount).fill(headCountKv);
    for (const layerHeads of heads) kvCacheBytes += ctxSize * layerHeads * width * kvBytesPerElement;
  }
  const weightsBytes = summary.tensorBytes;
  const marginBytes = Math.round((weightsBytes + kvCacheBytes) * MEMORY_MARGIN.fraction) + MEMORY_MARGIN.fixedBytes;
  const formula =
    `weights (tensor bytes) + KV cache (${blockCount ?? '?'} layers × ${ctxSize} ctx × ${headCountKv ?? '?'} KV heads × ` +
    `(${keyLength ?? '?'} + ${valueLength ?? '?'}) × ${kvBytesPerElement} B) + margin ` +
    `(${MEMORY_MARGIN.fraction * 100}% + ${MEMORY_MARGIN.fixedBytes / 2 ** 20} MiB)`;
  return {
    ctxSize,
    weightsBytes,
    kvCacheBytes,
    kvCacheKnown,
    marginBytes,
    totalBytes: weightsBytes + kvCacheBytes + marginBytes,
    formula,
  };
}

export interface SystemMemory {
  totalBytes: number;
  /** What the OS can hand out now (Linux `MemAvailable`, which counts reclaimable cache; else `os.freemem()`). */
  availableBytes: number;
}

export function systemMemory(): SystemMemory {
  let availableBytes = freemem();
  try {
    const match = /^MemAvailable:\s+(\d+)\s+kB/m.exec(readFileSync('/proc/meminfo', 'utf8'));
    if (match) availableBytes = Number(match[1]) * 1024;
  } catch {
    // not Linux
  }
  return { totalBytes: totalmem(), availableBytes };
}

export interface FitVerdict {
  /** `ok`: fits in available memory; `tight`: fits in total RAM but not in what is available now; `too-big`. */
  level: 'ok' | 'tight' | 'too-big';
  fits: boolean;
  requiredBytes: number;
  totalBytes: number;
  availableBytes: number;
  message: string;
  hint: string | undefined;
}


/** Compares an estimate with this machine's memory (or the one given). */
export function checkFit(estimate: MemoryEstimate, memory: SystemMemory = systemMemory()): FitVerdict {
  const required = estimate.totalBytes;
  const base = { requiredBytes: required, totalBytes: memory.totalBytes, availableBytes: memory.availableBytes };
  const needs = `The model needs about ${formatGiB(required)} of memory at a context of ${estimate.ctxSize} tokens`;
  if (required > memory.totalBytes) {
    return {
      ...base,
      level: 'too-big',
      fits: false,
      message: `${needs}, but this machine has ${formatGiB(memory.totalBytes)} of RAM in total.`,
      hint: 'Choose a smaller quantisation or a smaller context (-c), or use a machine with more memory.',
    };
  }
  if (required > memory.availableBytes) {
    return {
      ...base,
      level: 'tight',
      fits: true,
      message: `${needs}; this machine has ${formatGiB(memory.totalBytes)} of RAM but only ${formatGiB(memory.availableBytes)} available now.`,
      hint: 'Close other programs or stop other servers first, or it will swap and run slowly.',
    };
  }
  return { ...base, level: 'ok', fits: true, message: `${needs}; ${formatGiB(memory.availableBytes)} available.`, hint: undefined };
}

/** A fit check that could not be made: the model's header could not be read (never a reason to refuse). */
export interface FitUnknown {
  level: 'unknown';
  fits: undefined;
  /** Why the check could not be made. */
  message: string;
  hint: undefined;
  requiredBytes: undefined;
  totalBytes: undefined;
  availableBytes: undefined;
}

/** What a fit check reports (pull's `fit` event, startServer's `onFit`): a verdict, or `unknown` with the reason. */
export type FitReport = FitVerdict | FitUnknown;

/**
 * The one fit check before a download or a start: estimates the model's memory from its header (`estimate` reads
 * it) and compares it with this machine's (or with what `compare` counts, e.g. a head and its RPC workers). A header
 * that cannot be read gives `unknown` with the reason; only an abort of `signal` (the caller's own) is thrown.
 */
export async function checkModelFit(
  estimate: () => Promise<MemoryEstimate>,
  options: {
    memory?: SystemMemory | undefined;
    signal?: AbortSignal | undefined;
    compare?: ((estimate: MemoryEstimate, memory: SystemMemory) => FitVerdict) | undefined;
  } = {},
): Promise<FitReport> {
  let memory: MemoryEstimate;
  try {
    memory = await estimate();
  } catch (error) {
    if (options.signal?.aborted) throw error;
    const message = `Could not read the model's header to check it fits in memory: ${(error as Error).message}`;
    return { level: 'unknown', fits: undefined, message, hint: undefined, requiredBytes: undefined, totalBytes: undefined, availableBytes: undefined };
  }
  return (options.compare ?? checkFit)(memory, options.memory ?? systemMemory());
}

/**
 * The typed error for a verdict that does not fit (for callers that were asked to be strict); `also` is added to
 * the verdict's hint (how to go ahead anyway).
 */
export function insufficientMemoryError(verdict: FitVerdict, also?: string): InsufficientMemoryError {
  const hint = also === undefined ? (verdict.hint ?? 'Free some memory first.') : `${verdict.hint ?? ''} ${also}`.trim();
  return new InsufficientMemoryError(verdict.message, { hint });
}
