/**
 * GGUF v3 writer: metadata (every value type, arrays included) plus tensors, each data block aligned. Used to make
 * the tiny test model and corrupt variants of it in tests.
 */
import { open } from 'node:fs/promises';
import { GGML_TYPES, GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, GgufType } from '../format/gguf-constants.js';
import type { GgufArray, GgufKv, GgufValue } from '../format/gguf-reader.js';

export interface GgufTensorInput {
  name: string;
  /** ggml order: dims[0] is the fastest-varying. */
  dims: number[];
  /** ggml type id. */
  type: number;
  data: Uint8Array;
}

export interface GgufWriteInput {
  kv: Iterable<GgufKv>;
  tensors?: GgufTensorInput[];
  /** Data alignment; written as general.alignment when not the default. @default 32 */
  alignment?: number;
}

const encoder = new TextEncoder();

/** Growable little-endian byte buffer. */
class ByteWriter {
  private buffer = new Uint8Array(64 * 1024);
  private view = new DataView(this.buffer.buffer);
  length = 0;

  private reserve(n: number): void {
    if (this.length + n <= this.buffer.length) return;
    let size = this.buffer.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buffer.subarray(0, this.length));
    this.buffer = next;
    this.view = new DataView(next.buffer);
  }
  u8(v: number) {
    this.reserve(1);
    this.view.setUint8(this.length, v);
    this.length += 1;
  }
  i8(v: number) {
    this.reserve(1);
    this.view.setInt8(this.length, v);
    this.length += 1;
  }
  u16(v: number) {
    this.reserve(2);
    this.view.setUint16(this.length, v, true);
    this.length += 2;
  }
  i16(v: number) {
    this.reserve(2);
    this.view.setInt16(this.length, v, true);
    this.length += 2;
  }
  u32(v: number) {
    this.reserve(4);
    this.view.setUint32(this.length, v, true);
    this.length += 4;
  }
  i32(v: number) {
    this.reserve(4);
    this.view.setInt32(this.length, v, true);
    this.length += 4;
  }
  f32(v: number) {
    this.reserve(4);
    this.view.setFloat32(this.length, v, true);
    this.length += 4;
  }
  f64(v: number) {
    this.reserve(8);
    this.view.setFloat64(this.length, v, true);
    this.length += 8;
  }
  u64(v: bigint | number) {
    this.reserve(8);
    this.view.setBigUint64(this.length, BigInt(v), true);
    this.length += 8;
  }
  i64(v: bigint | number) {
    this.reserve(8);
    this.view.setBigInt64(this.length, BigInt(v), true);
    this.length += 8;
  }
  bytes(b: Uint8Array) {
    this.reserve(b.length);
    this.buffer.set(b, this.length);
    this.length += b.length;
  }
  string(s: string) {
    const b = encoder.encode(s);
    this.u64(b.length);
    this.bytes(b);
  }
  padTo(alignment: number) {
    const pad = (alignment - (this.length % alignment)) % alignment;
    this.bytes(new Uint8Array(pad));
  }
  result(): Uint8Array {
    return this.buffer.subarray(0, this.length);
  }
}

function writeValue(w: ByteWriter, type: GgufType, value: GgufValue): void {
  const num = () => Number(value);
  switch (type) {
    case GgufType.UINT8:
      return w.u8(num());
    case GgufType.INT8:
      return w.i8(num());
    case GgufType.UINT16:
      return w.u16(num());
    case GgufType.INT16:
      return w.i16(num());
    case GgufType.UINT32:
      return w.u32(num());
    case GgufType.INT32:
      return w.i32(num());
    case GgufType.FLOAT32:
      return w.f32(num());
    case GgufType.BOOL:
      return w.u8(value ? 1 : 0);
    case GgufType.STRING:
      return w.string(String(value));
    case GgufType.UINT64:
      return w.u64(value as bigint | number);
    case GgufType.INT64:
      return w.i64(value as bigint | number);
    case GgufType.FLOAT64:
      return w.f64(num());
    case GgufType.ARRAY: {
      const array = value as GgufArray;
      if (!array.items) throw new TypeError('Cannot write a GGUF array that was skipped when it was read.');
      w.u32(array.itemType);
      w.u64(array.items.length);
      for (const item of array.items) writeValue(w, array.itemType, item);
      return;
    }
    default:
      throw new TypeError(`Unknown GGUF value type ${String(type)}.`);
  }
}

/** The GGUF header + metadata + tensor infos, padded to the alignment; tensor data follows. */
export function encodeGgufHeader(input: GgufWriteInput): { header: Uint8Array; offsets: number[]; alignment: number } {
  const alignment = input.alignment ?? GGUF_DEFAULT_ALIGNMENT;
  const kv = [...input.kv].filter((entry) => entry.key !== 'general.alignment');
  if (alignment !== GGUF_DEFAULT_ALIGNMENT) kv.push({ key: 'general.alignment', type: GgufType.UINT32, value: alignment });
  const tensors = input.tensors ?? [];
  const w = new ByteWriter();
  w.u32(GGUF_MAGIC);
  w.u32(3);
  w.u64(tensors.length);
  w.u64(kv.length);
  for (const entry of kv) {
    w.string(entry.key);
    w.u32(entry.type);
    writeValue(w, entry.type, entry.value);
  }
  const offsets: number[] = [];
  let offset = 0;
  for (const tensor of tensors) {
    const info = GGML_TYPES.get(tensor.type);
    const elements = tensor.dims.reduce((a, b) => a * b, 1);
    if (info && (elements / info.blockSize) * info.typeSize !== tensor.data.length) {
      throw new TypeError(`Tensor ${tensor.name}: ${tensor.data.length} bytes do not match its shape and type.`);
    }
    w.string(tensor.name);
    w.u32(tensor.dims.length);
    for (const dim of tensor.dims) w.i64(dim);
    w.u32(tensor.type);
    w.u64(offset);
    offsets.push(offset);
    offset += Math.ceil(tensor.data.length / alignment) * alignment;
  }
  w.padTo(alignment);
  return { header: w.result(), offsets, alignment };
}

/** Writes a complete GGUF file. Returns its size in bytes. */
export async function writeGguf(path: string, input: GgufWriteInput): Promise<number> {
  const { header, alignment } = encodeGgufHeader(input);
  const handle = await open(path, 'w');
  try {
    let position = 0;
    await handle.write(header, 0, header.length, position);
    position += header.length;
    for (const tensor of input.tensors ?? []) {
      await handle.write(tensor.data, 0, tensor.data.length, position);
      const padded = Math.ceil(tensor.data.length / alignment) * alignment;
      if (padded > tensor.data.length) await handle.write(new Uint8Array(padded - tensor.data.length), 0, padded - tensor.data.length, position + tensor.data.length);
      position += padded;
    }
    return position;
  } finally {
    await handle.close();
  }
}
