/**
 * Reads the central directory of a PKZIP archive the way llamafile does (LF@0.9.3 `llamafile/zip.c`): scan the last
 * 64 KiB backwards for the end-of-central-directory record (and the ZIP64 locator before it), walk the central
 * directory, take 64-bit sizes and offsets from the ZIP64 extra field when a 32-bit field is 0xFFFFFFFF, and find an
 * entry's data after its local header. The archive may follow a prefix (a llamafile's executable part): offsets are
 * absolute, and archives whose offsets were not adjusted for the prefix are detected and corrected.
 */
import { FormatError } from '../errors.js';
import { quoteName } from '../text/quote.js';
import type { RandomAccessSource } from './source.js';
import {
  CENTRAL_HEADER_SIG,
  CENTRAL_HEADER_SIZE,
  EOCD_SIG,
  EOCD_SIZE,
  LOCAL_HEADER_SIG,
  LOCAL_HEADER_SIZE,
  U16_MAX,
  U32_MAX,
  ZIP64_EOCD_SIG,
  ZIP64_EOCD_SIZE,
  ZIP64_EXTRA_ID,
  ZIP64_LOCATOR_SIG,
  ZIP64_LOCATOR_SIZE,
} from './zip-constants.js';

export interface ZipEntry {
  name: string;
  /** 0 = stored; anything else is compressed. */
  method: number;
  compressedSize: number;
  size: number;
  crc32: number;
  /** Absolute offset of the local header. */
  headerOffset: number;
}

export interface ZipDirectory {
  entries: ZipEntry[];
  zip64: boolean;
  /** Absolute offset of the central directory. */
  directoryOffset: number;
  /** The bytes read from the end of the source (callers reuse them to avoid another read). */
  tail: { offset: number; bytes: Uint8Array };
}

/** EOCD (22) + the longest comment + the ZIP64 locator and record before it. */
const TAIL_SIZE = EOCD_SIZE + U16_MAX + ZIP64_LOCATOR_SIZE + ZIP64_EOCD_SIZE;
const decoder = new TextDecoder();
/** About a million entries; a llamafile has a few dozen. Bounds what a corrupt record can make us read. */
const MAX_DIRECTORY_BYTES = 64 * 1024 * 1024;

function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function u64(view: DataView, at: number, what: string): number {
  const value = view.getBigUint64(at, true);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new FormatError(`Corrupt zip: ${what} is ${value}.`);
  return Number(value);
}

/** Reads `length` bytes at `offset`, from the tail already in memory when it covers them. */
export async function readWithTail(
  source: RandomAccessSource,
  tail: ZipDirectory['tail'] | undefined,
  offset: number,
  length: number,
): Promise<Uint8Array> {
  if (!tail) return source.read(offset, length);
  if (offset >= tail.offset && offset + length <= tail.offset + tail.bytes.length) {
    return tail.bytes.subarray(offset - tail.offset, offset - tail.offset + length);
  }
  return source.read(offset, length);
}

/** Finds and walks the central directory. */
export async function readZipDirectory(source: RandomAccessSource): Promise<ZipDirectory> {
  const where = source.description;
  const notZip = async () => {
    // A file that starts like a llamafile (APE prolog) or a zip but has no end record was cut short.
    const head = Buffer.from(await source.read(0, Math.min(8, source.size)));
    if (head.subarray(0, 6).toString('latin1') === 'MZqFpD' || (head.length >= 4 && head.readUInt32LE(0) === 0x04034b50)) {
      return new FormatError(`${where} looks truncated: it starts like a llamafile, but its end (the zip directory) is missing.`, {
        hint: 'The download or copy is incomplete: pull it again (a pull resumes), or join all of its .catN shards.',
      });
    }
    return new FormatError(`${where} is not a llamafile or zip archive (no end-of-central-directory record found).`, {
      hint: 'Pass a .llamafile, a .gguf, or the first .catN shard of a split llamafile.',
    });
  };
  if (source.size < EOCD_SIZE) throw await notZip();
  const tailOffset = Math.max(0, source.size - TAIL_SIZE);
  const tail = { offset: tailOffset, bytes: await source.read(tailOffset, source.size - tailOffset) };
  const view = viewOf(tail.bytes);

  let eocd = -1;
  for (let at = tail.bytes.length - EOCD_SIZE; at >= 0; at--) {
    if (view.getUint32(at, true) === EOCD_SIG && at + EOCD_SIZE + view.getUint16(at + 20, true) <= tail.bytes.length) {
      eocd = at;
      break;
    }
  }
  if (eocd < 0) throw await notZip();

  let count = view.getUint16(eocd + 10, true);
  let directorySize = view.getUint32(eocd + 12, true);
  let directoryOffset = view.getUint32(eocd + 16, true);
  let recordOffset = tailOffset + eocd; // where the directory is expected to end
  let zip64 = false;
  const locator = eocd - ZIP64_LOCATOR_SIZE;
  if (locator >= 0 && view.getUint32(locator, true) === ZIP64_LOCATOR_SIG) {
    zip64 = true;
    const zip64Offset = u64(view, locator + 8, 'the ZIP64 end record offset');
    // An archive after a prefix may carry an unadjusted offset: the record sits right before the locator.
    const expected = tailOffset + locator - ZIP64_EOCD_SIZE;
    const candidates = [zip64Offset, expected].filter((o) => o >= 0 && o + ZIP64_EOCD_SIZE <= source.size);
    let record: DataView | undefined;
    for (const candidate of candidates) {
      const bytes = viewOf(await readWithTail(source, tail, candidate, ZIP64_EOCD_SIZE));
      if (bytes.getUint32(0, true) === ZIP64_EOCD_SIG) {
        record = bytes;
        recordOffset = candidate;
        break;
      }
    }
    if (!record) throw new FormatError(`Corrupt zip in ${where}: the ZIP64 end record is missing.`);
    count = u64(record, 32, 'the entry count');
    directorySize = u64(record, 40, 'the central directory size');
    directoryOffset = u64(record, 48, 'the central directory offset');
  } else if (count === U16_MAX || directorySize === U32_MAX || directoryOffset === U32_MAX) {
    throw new FormatError(`Corrupt zip in ${where}: 32-bit fields overflow but there is no ZIP64 locator.`);
  }

  if (directorySize > MAX_DIRECTORY_BYTES) {
    throw new FormatError(`Corrupt zip in ${where}: a central directory of ${directorySize} bytes is implausibly large.`);
  }
  if (directorySize > recordOffset || count * CENTRAL_HEADER_SIZE > directorySize) {
    throw new FormatError(
      `Corrupt zip in ${where}: a central directory of ${directorySize} bytes and ${count} entries does not fit.`,
    );
  }
  // The directory ends where the end records start; a difference is the length of a prefix the offsets ignore.
  const shift = recordOffset - directorySize - directoryOffset;
  if (shift < 0) throw new FormatError(`Corrupt zip in ${where}: the central directory offset points past its end.`);
  directoryOffset += shift;
  const directory = await readWithTail(source, tail, directoryOffset, directorySize);
  const entries = parseDirectory(directory, count, shift, where);
  return { entries, zip64, directoryOffset, tail };
}

function parseDirectory(bytes: Uint8Array, count: number, shift: number, where: string): ZipEntry[] {
  const view = viewOf(bytes);
  const entries: ZipEntry[] = [];
  let at = 0;
  for (let i = 0; i < count; i++) {
    if (at + CENTRAL_HEADER_SIZE > bytes.length || view.getUint32(at, true) !== CENTRAL_HEADER_SIG) {
      throw new FormatError(`Corrupt zip in ${where}: central directory entry #${i} is damaged.`);
    }
    const method = view.getUint16(at + 10, true);
    const crc32 = view.getUint32(at + 16, true);
    let compressedSize = view.getUint32(at + 20, true);
    let size = view.getUint32(at + 24, true);
    const nameLength = view.getUint16(at + 28, true);
    const extraLength = view.getUint16(at + 30, true);
    const commentLength = view.getUint16(at + 32, true);
    let headerOffset = view.getUint32(at + 42, true);
    const end = at + CENTRAL_HEADER_SIZE + nameLength + extraLength + commentLength;
    if (end > bytes.length) throw new FormatError(`Corrupt zip in ${where}: central directory entry #${i} is cut off.`);
    const name = decoder.decode(bytes.subarray(at + CENTRAL_HEADER_SIZE, at + CENTRAL_HEADER_SIZE + nameLength));
    // ZIP64 extra: the 64-bit values of the 32-bit fields that are 0xFFFFFFFF, in this order.
    let extra = at + CENTRAL_HEADER_SIZE + nameLength;
    const extraEnd = extra + extraLength;
    while (extra + 4 <= extraEnd) {
      const id = view.getUint16(extra, true);
      const length = view.getUint16(extra + 2, true);
      if (extra + 4 + length > extraEnd) throw new FormatError(`Corrupt zip in ${where}: bad extra field in ${quoteName(name, 80)}.`);
      if (id === ZIP64_EXTRA_ID) {
        let field = extra + 4;
        const take = (label: string) => {
          if (field + 8 > extra + 4 + length) throw new FormatError(`Corrupt zip in ${where}: short ZIP64 field in ${quoteName(name, 80)}.`);
          const value = u64(view, field, `${label} of ${quoteName(name, 80)}`);
          field += 8;
          return value;
        };
        if (size === U32_MAX) size = take('the size');
        if (compressedSize === U32_MAX) compressedSize = take('the compressed size');
        if (headerOffset === U32_MAX) headerOffset = take('the header offset');
      }
      extra += 4 + length;
    }
    entries.push({ name, method, compressedSize, size, crc32, headerOffset: headerOffset + shift });
    at = end;
  }
  return entries;
}

/** Absolute offset of an entry's first data byte (after its local header, whose extra field may pad it). */
export async function entryDataOffset(
  source: RandomAccessSource,
  entry: ZipEntry,
  tail?: ZipDirectory['tail'],
): Promise<number> {
  const header = viewOf(await readWithTail(source, tail, entry.headerOffset, LOCAL_HEADER_SIZE));
  if (header.getUint32(0, true) !== LOCAL_HEADER_SIG) {
    throw new FormatError(`Corrupt zip in ${source.description}: no local header for ${quoteName(entry.name, 80)}.`);
  }
  const dataOffset = entry.headerOffset + LOCAL_HEADER_SIZE + header.getUint16(26, true) + header.getUint16(28, true);
  if (dataOffset + entry.compressedSize > source.size) {
    throw new FormatError(`${source.description} is truncated: ${quoteName(entry.name, 80)} ends past the end of the file.`, {
      hint: 'The file may be incomplete; download it again.',
    });
  }
  return dataOffset;
}
