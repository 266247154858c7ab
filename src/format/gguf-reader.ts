/**
 * GGUF metadata reader (versions 2 and 3): header, every key/value pair, tensor infos. Works on any
 * RandomAccessSource, at any offset (a GGUF stored inside a llamafile's zip). Big arrays such as the vocabulary are
 * skipped over (their length is kept) unless the caller asks for them; every count and length is checked against
 * the bytes left, so absurd values fail fast with a FormatError.
 */
import { FormatError } from '../errors.js';
import { quoteName } from '../text/quote.js';
import { ByteCursor } from './byte-cursor.js';
import type { CursorOptions } from './byte-cursor.js';
import {
  GGML_TYPES,
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAGIC,
  GGUF_MAX_DIMS,
  GgufType,
  fixedSize,
} from './gguf-constants.js';
import type { RandomAccessSource } from './source.js';

export type GgufScalar = number | bigint | boolean | string;
export interface GgufArray {
  itemType: GgufType;
  length: number;
  /** The items; undefined when the array was skipped (longer than `maxArrayItems`). */
  items: GgufValue[] | undefined;
}
export type GgufValue = GgufScalar | GgufArray;

export interface GgufKv {
  key: string;
  type: GgufType;
  value: GgufValue;
}

export interface GgufTensorInfo {
  name: string;
  /** ggml order: dims[0] is the fastest-varying. */
  dims: number[];
  /** ggml type id. */
  type: number;
  /** ggml type name, or `type<N>` for a type this reader does not know. */
  typeName: string;
  /** Offset relative to the start of the tensor data section. */
  offset: number;
  elements: number;
  /** Bytes of data; undefined for an unknown type. */
  bytes: number | undefined;
}

export interface GgufMetadata {
  version: number;
  /** Key/value pairs in file order. */
  kv: Map<string, GgufKv>;
  tensors: GgufTensorInfo[];
  alignment: number;
  /** Absolute offset (in the source) of the GGUF's first byte. */
  offset: number;
  /** Absolute offset of the tensor data section. */
  dataOffset: number;
}

export interface ReadGgufOptions extends CursorOptions {
  /** Where the GGUF starts in the source. @default 0 */
  offset?: number;
  /** Arrays longer than this are skipped, not materialised. `Infinity` reads everything. @default 64 */
  maxArrayItems?: number;
  /** Read the tensor infos too. @default true */
  tensors?: boolean;
  /** Longest string value accepted. @default 64 MiB */
  maxStringBytes?: number;
}

function describe(source: RandomAccessSource, offset: number): string {
  return offset === 0 ? source.description : `the GGUF at offset ${offset} of ${source.description}`;
}

/** Reads a GGUF's header, metadata and tensor infos. */
export async function readGguf(source: RandomAccessSource, options: ReadGgufOptions = {}): Promise<GgufMetadata> {
  const { offset = 0, maxArrayItems = 64, tensors: wantTensors = true, maxStringBytes = 64 * 1024 * 1024 } = options;
  const cursor = new ByteCursor(source, offset, options);
  const where = describe(source, offset);
  if (source.size - offset < 24) throw new FormatError(`${where} is too short to be a GGUF file.`);

  const magic = await cursor.u32('the GGUF magic');
  if (magic !== GGUF_MAGIC) {
    throw new FormatError(`${where} is not a GGUF file (it does not start with "GGUF").`, {
      hint: 'Pass a .gguf file or a llamafile.',
    });
  }
  const version = await cursor.u32('the GGUF version');
  if (version === 1) throw new FormatError(`${where} is GGUF version 1, which is no longer supported.`);
  if (version === 0x02000000 || version === 0x03000000) {
    throw new FormatError(`${where} is a big-endian GGUF, which llamactl (like llamafile) does not read.`);
  }
  if (version !== 2 && version !== 3) throw new FormatError(`${where} has unknown GGUF version ${version}.`);

  // A tensor info takes at least 8 (name length) + 4 (n_dims) + 4 (type) + 8 (offset) bytes, a KV pair at least
  // 8 (key length) + 4 (type) + 1 (value).
  const tensorCount = await cursor.length('the tensor count', 24);
  const kvCount = await cursor.length('the key/value count', 13);

  const readString = async (what: string): Promise<string> => {
    const length = await cursor.length(`the length of ${what}`);
    if (length > maxStringBytes) {
      throw new FormatError(`${where} is corrupt: ${what} is ${length} bytes long (limit ${maxStringBytes}).`);
    }
    return cursor.string(length, what);
  };

  const readValue = async (type: number, what: string, depth: number): Promise<GgufValue> => {
    switch (type) {
      case GgufType.UINT8:
        return cursor.u8(what);
      case GgufType.INT8:
        return cursor.i8(what);
      case GgufType.UINT16:
        return cursor.u16(what);
      case GgufType.INT16:
        return cursor.i16(what);
      case GgufType.UINT32:
        return cursor.u32(what);
      case GgufType.INT32:
        return cursor.i32(what);
      case GgufType.FLOAT32:
        return cursor.f32(what);
      case GgufType.BOOL:
        return (await cursor.u8(what)) !== 0;
      case GgufType.STRING:
        return readString(what);
      case GgufType.UINT64:
        return cursor.u64(what);
      case GgufType.INT64:
        return cursor.i64(what);
      case GgufType.FLOAT64:
        return cursor.f64(what);
      case GgufType.ARRAY:
        return readArray(what, depth);
      default:
        throw new FormatError(`${where} is corrupt: ${what} has unknown value type ${type}.`);
    }
  };

  const readArray = async (what: string, depth: number): Promise<GgufArray> => {
    if (depth > 8) throw new FormatError(`${where} is corrupt: arrays nested too deeply in ${what}.`);
    const itemType = (await cursor.u32(`the item type of ${what}`)) as GgufType;
    if (!(itemType in GgufType)) throw new FormatError(`${where} is corrupt: ${what} has unknown item type ${itemType}.`);
    const size = fixedSize(itemType);
    const length = await cursor.length(`the length of ${what}`, size ?? 8);
    if (length > maxArrayItems) {
      if (size !== undefined) cursor.skip(length * size, what);
      else if (itemType === GgufType.STRING) await cursor.skipStrings(length, what);
      else for (let i = 0; i < length; i++) await skipValue(itemType, what, depth + 1);
      return { itemType, length, items: undefined };
    }
    const items: GgufValue[] = [];
    for (let i = 0; i < length; i++) items.push(await readValue(itemType, `${what}[${i}]`, depth + 1));
    return { itemType, length, items };
  };

  const skipValue = async (type: GgufType, what: string, depth: number): Promise<void> => {
    const size = fixedSize(type);
    if (size !== undefined) return cursor.skip(size, what);
    if (type === GgufType.STRING) return cursor.skip(await cursor.length(`the length of ${what}`), what);
    await readArray(what, depth); // nested arrays are rare and small in practice; their own limit applies
  };

  const kv = new Map<string, GgufKv>();
  for (let i = 0; i < kvCount; i++) {
    const key = await readString(`key #${i}`);
    // Keys and tensor names come from the file: shown clipped and escaped in any message about them.
    const shownKey = quoteName(key, 80);
    const type = await cursor.u32(`the type of ${shownKey}`);
    const value = await readValue(type, shownKey, 0);
    kv.set(key, { key, type, value });
  }

  const alignment = kvNumber({ kv }, 'general.alignment') ?? GGUF_DEFAULT_ALIGNMENT;
  if (!Number.isSafeInteger(alignment) || alignment <= 0 || alignment > 2 ** 30 || (alignment & (alignment - 1)) !== 0) {
    throw new FormatError(`${where} is corrupt: general.alignment ${alignment} is not a power of two.`);
  }

  const tensors: GgufTensorInfo[] = [];
  if (wantTensors) {
    for (let i = 0; i < tensorCount; i++) tensors.push(await readTensorInfo(cursor, where, i, readString));
  }
  const dataOffset = wantTensors
    ? offset + Math.ceil((cursor.position - offset) / alignment) * alignment
    : Number.NaN;
  for (const tensor of tensors) {
    if (dataOffset + tensor.offset + (tensor.bytes ?? 0) > source.size) {
      throw new FormatError(
        `${where} is truncated: the data of tensor ${quoteName(tensor.name, 80)} ends past the end of the file ` +
          `(${source.size} bytes).`,
        { hint: 'The file may be incomplete; download it again.' },
      );
    }
  }
  return { version, kv, tensors, alignment, offset, dataOffset };
}

async function readTensorInfo(
  cursor: ByteCursor,
  where: string,
  index: number,
  readString: (what: string) => Promise<string>,
): Promise<GgufTensorInfo> {
  const name = await readString(`the name of tensor #${index}`);
  const shown = quoteName(name, 80);
  const nDims = await cursor.u32(`the dimension count of ${shown}`);
  if (nDims < 1 || nDims > GGUF_MAX_DIMS) {
    throw new FormatError(`${where} is corrupt: tensor ${shown} has ${nDims} dimensions (1 to ${GGUF_MAX_DIMS}).`);
  }
  const dims: number[] = [];
  let elements = 1n;
  for (let d = 0; d < nDims; d++) {
    const dim = await cursor.i64(`dimension ${d} of ${shown}`);
    if (dim < 0n) throw new FormatError(`${where} is corrupt: tensor ${shown} has a negative dimension.`);
    elements *= dim;
    if (elements > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new FormatError(`${where} is corrupt: tensor ${shown} claims more than 2^53 elements.`);
    }
    dims.push(Number(dim));
  }
  const type = await cursor.u32(`the type of ${shown}`);
  const offset = await cursor.u64(`the offset of ${shown}`);
  if (offset > BigInt(Number.MAX_SAFE_INTEGER)) throw new FormatError(`${where} is corrupt: tensor ${shown} offset.`);
  const info = GGML_TYPES.get(type);
  const count = Number(elements);
  let bytes: number | undefined;
  if (info) {
    if (count % info.blockSize !== 0) {
      throw new FormatError(
        `${where} is corrupt: tensor ${shown} has ${count} elements, not a multiple of ${info.name}'s block ` +
          `size ${info.blockSize}.`,
      );
    }
    bytes = (count / info.blockSize) * info.typeSize;
  }
  return { name, dims, type, typeName: info?.name ?? `type${type}`, offset: Number(offset), elements: count, bytes };
}

/** The value of a numeric key as a number (u64/i64 converted), or undefined. */
export function kvNumber(meta: Pick<GgufMetadata, 'kv'>, key: string): number | undefined {
  const value = meta.kv.get(key)?.value;
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  return undefined;
}

export function kvString(meta: Pick<GgufMetadata, 'kv'>, key: string): string | undefined {
  const value = meta.kv.get(key)?.value;
  return typeof value === 'string' ? value : undefined;
}
