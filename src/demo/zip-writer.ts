/**
 * A PKZIP writer for llamafile-style archives: stored (uncompressed) entries only, each entry's data optionally
 * aligned (zipalign pads the local header's extra field so the GGUF starts on a 64 KiB boundary and can be mmapped
 * in place), ZIP64 records when sizes or offsets pass 4 GiB or when forced (tests), and an optional prefix before the
 * archive (the executable part of a llamafile). Offsets in the archive are absolute file offsets, prefix included.
 */
import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { openLocalFile, readFully } from '../format/source.js';
import {
  CENTRAL_HEADER_SIG,
  CENTRAL_HEADER_SIZE,
  EOCD_SIG,
  LOCAL_HEADER_SIG,
  LOCAL_HEADER_SIZE,
  METHOD_STORED,
  PADDING_EXTRA_ID,
  U16_MAX,
  U32_MAX,
  ZIP64_EOCD_SIG,
  ZIP64_EOCD_SIZE,
  ZIP64_EXTRA_ID,
  ZIP64_LOCATOR_SIG,
} from '../format/zip-constants.js';

export interface ZipEntryInput {
  name: string;
  /** The entry's bytes, or… */
  data?: Uint8Array;
  /** …a local file to copy in. */
  path?: string;
  /** Align the entry's data to a multiple of this many bytes (65536 for GGUF weights). @default 1 */
  align?: number;
}

export interface ZipEntryLayout {
  name: string;
  size: number;
  crc32: number;
  /** Absolute offset of the local header. */
  headerOffset: number;
  /** Absolute offset of the first data byte. */
  dataOffset: number;
  zip64: boolean;
}

export interface WriteZipOptions {
  /** Bytes before the archive, or a function of the layout that returns exactly `prefixLength` bytes. */
  prefix?: Uint8Array | ((layout: ZipEntryLayout[]) => Uint8Array);
  /** Length of a prefix given as a function. */
  prefixLength?: number;
  /** Write ZIP64 records even when nothing needs them. @default false */
  forceZip64?: boolean;
}

const encoder = new TextEncoder();
const CHUNK = 1024 * 1024;

async function withEntrySource<T>(entry: ZipEntryInput, body: (size: number, read: ReadChunk) => Promise<T>) {
  if (entry.data) {
    const data = entry.data;
    return body(data.length, async (position, length) => data.subarray(position, position + length));
  }
  if (!entry.path) throw new TypeError(`Zip entry ${entry.name} has neither data nor path.`);
  const { handle, size } = await openLocalFile(entry.path);
  try {
    return await body(size, async (position, length) => {
      const buffer = new Uint8Array(length);
      await readFully(handle, buffer, 0, length, position);
      return buffer;
    });
  } finally {
    await handle.close();
  }
}
type ReadChunk = (position: number, length: number) => Promise<Uint8Array>;

async function measure(entry: ZipEntryInput): Promise<{ size: number; crc32: number }> {
  return withEntrySource(entry, async (size, read) => {
    let crc = 0;
    for (let at = 0; at < size; at += CHUNK) crc = crc32(await read(at, Math.min(CHUNK, size - at)), crc);
    return { size, crc32: crc };
  });
}

class Bytes {
  private readonly view: DataView;
  readonly bytes: Uint8Array;
  private at = 0;
  constructor(size: number) {
    this.bytes = new Uint8Array(size);
    this.view = new DataView(this.bytes.buffer);
  }
  u16(v: number) {
    this.view.setUint16(this.at, v, true);
    this.at += 2;
    return this;
  }
  u32(v: number) {
    this.view.setUint32(this.at, v, true);
    this.at += 4;
    return this;
  }
  u64(v: number) {
    this.view.setBigUint64(this.at, BigInt(v), true);
    this.at += 8;
    return this;
  }
  raw(b: Uint8Array) {
    this.bytes.set(b, this.at);
    this.at += b.length;
    return this;
  }
}

const VERSION_STORED = 10;
const VERSION_ZIP64 = 45;
const MADE_BY_UNIX = (3 << 8) | VERSION_ZIP64;
const DOS_DATE_1980 = 0x21; // 1980-01-01, fixed so archives are reproducible

/** The fields local and central headers share, from "version needed" to the name length. */
function sharedFields(header: Bytes, entry: ZipEntryLayout, name: Uint8Array): Bytes {
  return header
    .u16(entry.zip64 ? VERSION_ZIP64 : VERSION_STORED)
    .u16(0x0800) // names are UTF-8
    .u16(METHOD_STORED)
    .u16(0)
    .u16(DOS_DATE_1980)
    .u32(entry.crc32)
    .u32(entry.zip64 ? U32_MAX : entry.size)
    .u32(entry.zip64 ? U32_MAX : entry.size)
    .u16(name.length);
}

function localHeader(entry: ZipEntryLayout, name: Uint8Array, padding: number): Uint8Array {
  const zip64Extra = entry.zip64 ? 20 : 0;
  const header = new Bytes(LOCAL_HEADER_SIZE + name.length + zip64Extra + padding);
  sharedFields(header.u32(LOCAL_HEADER_SIG), entry, name)
    .u16(zip64Extra + padding)
    .raw(name);
  if (entry.zip64) header.u16(ZIP64_EXTRA_ID).u16(16).u64(entry.size).u64(entry.size);
  if (padding > 0) header.u16(PADDING_EXTRA_ID).u16(padding - 4);
  return header.bytes;
}

function centralHeader(entry: ZipEntryLayout, name: Uint8Array): Uint8Array {
  const zip64Extra = entry.zip64 ? 28 : 0;
  const header = new Bytes(CENTRAL_HEADER_SIZE + name.length + zip64Extra);
  sharedFields(header.u32(CENTRAL_HEADER_SIG).u16(MADE_BY_UNIX), entry, name)
    .u16(zip64Extra)
    .u16(0) // comment
    .u16(0) // disk
    .u16(0) // internal attributes
    .u32((0o100644 << 16) >>> 0)
    .u32(entry.zip64 ? U32_MAX : entry.headerOffset)
    .raw(name);
  if (entry.zip64) header.u16(ZIP64_EXTRA_ID).u16(24).u64(entry.size).u64(entry.size).u64(entry.headerOffset);
  return header.bytes;
}

function endRecords(count: number, cdOffset: number, cdSize: number, zip64: boolean): Uint8Array {
  const eocdSize = 22;
  const out = new Bytes((zip64 ? ZIP64_EOCD_SIZE + 20 : 0) + eocdSize);
  if (zip64) {
    const recordOffset = cdOffset + cdSize;
    out
      .u32(ZIP64_EOCD_SIG)
      .u64(ZIP64_EOCD_SIZE - 12)
      .u16(MADE_BY_UNIX)
      .u16(VERSION_ZIP64)
      .u32(0)
      .u32(0)
      .u64(count)
      .u64(count)
      .u64(cdSize)
      .u64(cdOffset);
    out.u32(ZIP64_LOCATOR_SIG).u32(0).u64(recordOffset).u32(1);
  }
  out
    .u32(EOCD_SIG)
    .u16(0)
    .u16(0)
    .u16(zip64 ? U16_MAX : count)
    .u16(zip64 ? U16_MAX : count)
    .u32(zip64 ? U32_MAX : cdSize)
    .u32(zip64 ? U32_MAX : cdOffset)
    .u16(0);
  return out.bytes;
}

async function writeAt(handle: FileHandle, bytes: Uint8Array, position: number): Promise<number> {
  let done = 0;
  while (done < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, done, bytes.length - done, position + done);
    done += bytesWritten;
  }
  return position + bytes.length;
}

/** Writes a zip archive (stored entries) to `outPath`, after an optional prefix. Returns where each entry landed. */
export async function writeZip(
  outPath: string,
  entries: ZipEntryInput[],
  options: WriteZipOptions = {},
): Promise<ZipEntryLayout[]> {
  const { prefix, forceZip64 = false } = options;
  const prefixLength = typeof prefix === 'function' ? options.prefixLength : (prefix?.length ?? 0);
  if (prefixLength === undefined) throw new TypeError('writeZip: a prefix function needs prefixLength.');

  const names = entries.map((entry) => encoder.encode(entry.name));
  const layout: ZipEntryLayout[] = [];
  const paddings: number[] = [];
  let offset = prefixLength;
  for (const [i, entry] of entries.entries()) {
    const { size, crc32: crc } = await measure(entry);
    const zip64 = forceZip64 || size >= U32_MAX || offset >= U32_MAX;
    const dataStart = offset + LOCAL_HEADER_SIZE + names[i]!.length + (zip64 ? 20 : 0);
    const align = entry.align ?? 1;
    let padding = (align - (dataStart % align)) % align;
    if (padding > 0 && padding < 4) padding += align; // an extra field needs at least its 4-byte header
    layout.push({ name: entry.name, size, crc32: crc, headerOffset: offset, dataOffset: dataStart + padding, zip64 });
    paddings.push(padding);
    offset = dataStart + padding + size;
  }
  const prefixBytes = typeof prefix === 'function' ? prefix(layout) : prefix;
  if (prefixBytes && prefixBytes.length !== prefixLength) {
    throw new TypeError(`writeZip: the prefix is ${prefixBytes.length} bytes, not the promised ${prefixLength}.`);
  }

  const handle = await open(outPath, 'w');
  try {
    let position = prefixBytes ? await writeAt(handle, prefixBytes, 0) : 0;
    for (const [i, entry] of entries.entries()) {
      const placed = layout[i]!;
      position = await writeAt(handle, localHeader(placed, names[i]!, paddings[i]!), position);
      await withEntrySource(entry, async (size, read) => {
        if (size !== placed.size) throw new Error(`${entry.path} changed size while the archive was written.`);
        for (let at = 0; at < size; at += CHUNK) {
          position = await writeAt(handle, await read(at, Math.min(CHUNK, size - at)), position);
        }
      });
    }
    const cdOffset = position;
    for (const [i, placed] of layout.entries()) {
      position = await writeAt(handle, centralHeader(placed, names[i]!), position);
    }
    const cdSize = position - cdOffset;
    const zip64 = forceZip64 || layout.some((e) => e.zip64) || layout.length >= U16_MAX || cdOffset >= U32_MAX;
    await writeAt(handle, endRecords(layout.length, cdOffset, cdSize, zip64), position);
  } finally {
    await handle.close();
  }
  return layout;
}
