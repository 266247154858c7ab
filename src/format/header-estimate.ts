/**
 * From a model's header to its memory estimate: reads the llamafile (or GGUF) header, picks the context the server
 * would use, and estimates weights + KV cache + margin. Shared by `inspect`, the fit check of `pull` and `serve`.
 */
import { estimateMemory, type MemoryEstimate } from './fit.js';
import { readLlamafile, type LlamafileInfo } from './llamafile.js';
import { summarizeModel, type ModelSummary } from './model-summary.js';
import type { RandomAccessSource } from './source.js';

/** llamafile's default context from 0.8.14 on (`common.h` of llamafile 0.8.14 and 0.9.3; 512 before, 0 in 0.8.13). */
export const LLAMAFILE_DEFAULT_CTX = 8192;

export interface HeaderEstimate {
  info: LlamafileInfo;
  model: ModelSummary;
  memory: MemoryEstimate;
  /** Where the context came from. */
  ctxSource: 'option' | 'args' | 'default';
}

export interface HeaderEstimateOptions {
  /** Context size. @default the `.args` `-c`, else llamafile's 8192 (capped at the model's) */
  ctxSize?: number | undefined;
  expect?: 'llamafile' | 'gguf' | undefined;
  /** Largest read window (remote sources read less past the header's end with a smaller one). */
  maxWindow?: number | undefined;
}

/** Reads the header from `source` (which the caller closes) and estimates the model's memory. */
export async function estimateFromHeader(source: RandomAccessSource, options: HeaderEstimateOptions = {}): Promise<HeaderEstimate> {
  const info = await readLlamafile(source, { expect: options.expect, ...(options.maxWindow !== undefined ? { maxWindow: options.maxWindow } : {}) });
  const model = summarizeModel(info.gguf);
  const fromArgs = ctxFromArgs(info.args);
  let ctxSource: HeaderEstimate['ctxSource'] = 'default';
  let ctxSize = Math.min(LLAMAFILE_DEFAULT_CTX, model.contextLength ?? LLAMAFILE_DEFAULT_CTX);
  if (options.ctxSize !== undefined) {
    ctxSource = 'option';
    ctxSize = options.ctxSize;
  } else if (fromArgs !== undefined) {
    ctxSource = 'args';
    ctxSize = fromArgs;
  }
  // -c 0 means "the model's trained context".
  if (ctxSize === 0) ctxSize = model.contextLength ?? LLAMAFILE_DEFAULT_CTX;
  return { info, model, memory: estimateMemory(model, { ctxSize }), ctxSource };
}

/** The last `-c` / `--ctx-size` value in `.args` (later values win in llamafile's parsers). */
export function ctxFromArgs(args: string[] | undefined): number | undefined {
  let value: number | undefined;
  for (let i = 0; args && i < args.length - 1; i++) {
    if (args[i] === '-c' || args[i] === '--ctx-size') {
      const n = Number(args[i + 1]);
      // llama.cpp's n_ctx is an int32; a larger value in a hostile .args is ignored, not turned into an absurd estimate.
      if (Number.isSafeInteger(n) && n >= 0 && n <= 2 ** 31 - 1) value = n;
    }
  }
  return value;
}
