/**
 * What a person wants to know about a GGUF: which model, how big, which quantisation, how much context, and the
 * numbers the memory estimate needs. Key names after llama.cpp's `gguf-py/gguf/constants.py`.
 */
import { FILE_TYPE_NAMES } from './gguf-constants.js';
import { kvNumber, kvString } from './gguf-reader.js';
import type { GgufMetadata } from './gguf-reader.js';

export interface ModelSummary {
  name: string | undefined;
  architecture: string | undefined;
  /** `general.size_label`, e.g. `405B`. */
  sizeLabel: string | undefined;
  /** `general.file_type` id and its quantisation name (`Q4_K_M`). */
  fileType: number | undefined;
  quantization: string | undefined;
  /** Context the model was trained for (`{arch}.context_length`). */
  contextLength: number | undefined;
  blockCount: number | undefined;
  embeddingLength: number | undefined;
  feedForwardLength: number | undefined;
  headCount: number | undefined;
  headCountKv: number | undefined;
  /** Per-layer KV head counts, when the model varies them by layer. */
  headCountKvPerLayer: number[] | undefined;
  /** Key / value width per head. */
  keyLength: number | undefined;
  valueLength: number | undefined;
  chatTemplate: boolean;
  vocabSize: number | undefined;
  /** Sum of the tensors' element counts. */
  parameterCount: number;
  /** Sum of the tensors' data sizes: what the weights take in memory. */
  tensorBytes: number;
  tensorCount: number;
  ggufVersion: number;
}

/** A number or a per-layer array of numbers (some architectures vary head counts by layer). */
function numberOrArray(meta: GgufMetadata, key: string): { value: number | undefined; perLayer: number[] | undefined } {
  const value = meta.kv.get(key)?.value;
  if (typeof value === 'object' && value.items) {
    const items = value.items.map(Number).filter((n) => Number.isFinite(n));
    return { value: items.length ? Math.max(...items) : undefined, perLayer: items };
  }
  return { value: kvNumber(meta, key), perLayer: undefined };
}

export function summarizeModel(meta: GgufMetadata): ModelSummary {
  const arch = kvString(meta, 'general.architecture');
  const archKey = (suffix: string) => (arch === undefined ? undefined : kvNumber(meta, `${arch}.${suffix}`));
  const fileType = kvNumber(meta, 'general.file_type');
  const headCount = arch === undefined ? undefined : numberOrArray(meta, `${arch}.attention.head_count`).value;
  const kv = arch === undefined ? { value: undefined, perLayer: undefined } : numberOrArray(meta, `${arch}.attention.head_count_kv`);
  const embeddingLength = archKey('embedding_length');
  const defaultHeadDim = embeddingLength && headCount ? embeddingLength / headCount : undefined;
  const tokens = meta.kv.get('tokenizer.ggml.tokens')?.value;
  let parameterCount = 0;
  let tensorBytes = 0;
  for (const tensor of meta.tensors) {
    parameterCount += tensor.elements;
    tensorBytes += tensor.bytes ?? 0;
  }
  return {
    name: kvString(meta, 'general.name'),
    architecture: arch,
    sizeLabel: kvString(meta, 'general.size_label'),
    fileType,
    quantization: fileType === undefined ? undefined : (FILE_TYPE_NAMES.get(fileType) ?? `file type ${fileType}`),
    contextLength: archKey('context_length'),
    blockCount: archKey('block_count'),
    embeddingLength,
    feedForwardLength: arch === undefined ? undefined : numberOrArray(meta, `${arch}.feed_forward_length`).value,
    headCount,
    // GGUF: head_count_kv defaults to head_count when absent.
    headCountKv: kv.value ?? headCount,
    headCountKvPerLayer: kv.perLayer,
    keyLength: archKey('attention.key_length') ?? defaultHeadDim,
    valueLength: archKey('attention.value_length') ?? defaultHeadDim,
    chatTemplate: kvString(meta, 'tokenizer.chat_template') !== undefined,
    vocabSize: archKey('vocab_size') ?? (typeof tokens === 'object' ? tokens.length : undefined),
    parameterCount,
    tensorBytes,
    tensorCount: meta.tensors.length,
    ggufVersion: meta.version,
  };
}
