/**
 * GGUF constants, after llama.cpp's `ggml/include/gguf.h`, `ggml/include/ggml.h` and `gguf-py/gguf/constants.py`.
 */

export const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
export const GGUF_DEFAULT_ALIGNMENT = 32;
/** GGML_MAX_DIMS */
export const GGUF_MAX_DIMS = 4;

/** Metadata value type ids. */
export enum GgufType {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
}

/** Encoded size of a fixed-size value type; strings and arrays have none. */
export function fixedSize(type: GgufType): number | undefined {
  switch (type) {
    case GgufType.UINT8:
    case GgufType.INT8:
    case GgufType.BOOL:
      return 1;
    case GgufType.UINT16:
    case GgufType.INT16:
      return 2;
    case GgufType.UINT32:
    case GgufType.INT32:
    case GgufType.FLOAT32:
      return 4;
    case GgufType.UINT64:
    case GgufType.INT64:
    case GgufType.FLOAT64:
      return 8;
    default:
      return undefined;
  }
}

export interface GgmlTypeInfo {
  name: string;
  /** Elements per block. */
  blockSize: number;
  /** Bytes per block. */
  typeSize: number;
}

const QK_K = 256;

/** ggml tensor types: id → name, block size, bytes per block (gguf-py `GGML_QUANT_SIZES`). */
export const GGML_TYPES: ReadonlyMap<number, GgmlTypeInfo> = new Map(
  (
    [
      [0, 'F32', 1, 4],
      [1, 'F16', 1, 2],
      [2, 'Q4_0', 32, 2 + 16],
      [3, 'Q4_1', 32, 2 + 2 + 16],
      [6, 'Q5_0', 32, 2 + 4 + 16],
      [7, 'Q5_1', 32, 2 + 2 + 4 + 16],
      [8, 'Q8_0', 32, 2 + 32],
      [9, 'Q8_1', 32, 2 + 2 + 32],
      [10, 'Q2_K', 256, 2 + 2 + QK_K / 16 + QK_K / 4],
      [11, 'Q3_K', 256, 2 + QK_K / 4 + QK_K / 8 + 12],
      [12, 'Q4_K', 256, 2 + 2 + QK_K / 2 + 12],
      [13, 'Q5_K', 256, 2 + 2 + QK_K / 2 + QK_K / 8 + 12],
      [14, 'Q6_K', 256, 2 + QK_K / 2 + QK_K / 4 + QK_K / 16],
      [15, 'Q8_K', 256, 4 + QK_K + QK_K / 8],
      [16, 'IQ2_XXS', 256, 2 + QK_K / 4],
      [17, 'IQ2_XS', 256, 2 + QK_K / 4 + QK_K / 32],
      [18, 'IQ3_XXS', 256, 2 + QK_K / 4 + QK_K / 8],
      [19, 'IQ1_S', 256, 2 + QK_K / 8 + QK_K / 16],
      [20, 'IQ4_NL', 32, 2 + 16],
      [21, 'IQ3_S', 256, 2 + QK_K / 4 + QK_K / 8 + QK_K / 32 + 4],
      [22, 'IQ2_S', 256, 2 + QK_K / 4 + QK_K / 16],
      [23, 'IQ4_XS', 256, 2 + 2 + QK_K / 2 + QK_K / 64],
      [24, 'I8', 1, 1],
      [25, 'I16', 1, 2],
      [26, 'I32', 1, 4],
      [27, 'I64', 1, 8],
      [28, 'F64', 1, 8],
      [29, 'IQ1_M', 256, QK_K / 8 + QK_K / 16 + QK_K / 32],
      [30, 'BF16', 1, 2],
      [34, 'TQ1_0', 256, 2 + 4 * 13],
      [35, 'TQ2_0', 256, 2 + 64],
      [39, 'MXFP4', 32, 1 + 16],
      [40, 'NVFP4', 64, 4 + 32],
      [41, 'Q1_0', 128, 2 + 16],
      [42, 'Q2_0', 64, 2 + 16],
    ] as const
  ).map(([id, name, blockSize, typeSize]) => [id, { name, blockSize, typeSize }]),
);

export const GGML_TYPE_F32 = 0;
export const GGML_TYPE_F16 = 1;

/** `general.file_type` (llama.h `llama_ftype`) → the quantisation name people use ("Q4_K_M"). */
export const FILE_TYPE_NAMES: ReadonlyMap<number, string> = new Map([
  [0, 'F32'],
  [1, 'F16'],
  [2, 'Q4_0'],
  [3, 'Q4_1'],
  [4, 'Q4_1_SOME_F16'],
  [7, 'Q8_0'],
  [8, 'Q5_0'],
  [9, 'Q5_1'],
  [10, 'Q2_K'],
  [11, 'Q3_K_S'],
  [12, 'Q3_K_M'],
  [13, 'Q3_K_L'],
  [14, 'Q4_K_S'],
  [15, 'Q4_K_M'],
  [16, 'Q5_K_S'],
  [17, 'Q5_K_M'],
  [18, 'Q6_K'],
  [19, 'IQ2_XXS'],
  [20, 'IQ2_XS'],
  [21, 'Q2_K_S'],
  [22, 'IQ3_XS'],
  [23, 'IQ3_XXS'],
  [24, 'IQ1_S'],
  [25, 'IQ4_NL'],
  [26, 'IQ3_S'],
  [27, 'IQ3_M'],
  [28, 'IQ2_S'],
  [29, 'IQ2_M'],
  [30, 'IQ4_XS'],
  [31, 'IQ1_M'],
  [32, 'BF16'],
  [36, 'TQ1_0'],
  [37, 'TQ2_0'],
  [38, 'MXFP4_MOE'],
  [39, 'NVFP4'],
  [40, 'Q1_0'],
  [41, 'Q2_0'],
]);
