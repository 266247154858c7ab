/**
 * Random access to the bytes of a file that may be local, split into `.catN` shards, or remote. The format readers
 * (zip, GGUF, llamafile) only ever see this interface, so one reader serves all three.
 */
import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { FormatError, NotFoundError } from '../errors.js';

export interface RandomAccessSource {
  /** Total length in bytes. */
  readonly size: number;
  /** What to call it in error messages: a path, a URL. */
  readonly description: string;
  /** Exactly `length` bytes from `offset`; a FormatError when that runs past the end. */
  read(offset: number, length: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

/** Checks a read against the source's size; shared by every implementation. */
export function checkRange(source: { size: number; description: string }, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
    throw new FormatError(`Invalid read of ${length} bytes at offset ${offset} in ${source.description}.`);
  }
  if (offset + length > source.size) {
    throw new FormatError(
      `${source.description} is truncated: needed bytes ${offset}..${offset + length} but it has only ${source.size}.`,
      { hint: 'The file may be incomplete; download it again.' },
    );
  }
}

/** Opens a local file, mapping "does not exist" to NotFoundError. */
export async function openLocalFile(path: string): Promise<{ handle: FileHandle; size: number }> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new NotFoundError(`No such file: ${path}`, { cause: error });
    throw error;
  }
  const info = await handle.stat();
  if (!info.isFile()) {
    await handle.close();
    throw new FormatError(`${path} is not a regular file.`);
  }
  return { handle, size: info.size };
}

/** Reads exactly `length` bytes at `position` from a file handle (looping over short reads). */
export async function readFully(handle: FileHandle, into: Uint8Array, at: number, length: number, position: number) {
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(into, at + done, length - done, position + done);
    if (bytesRead === 0) throw new FormatError('The file became shorter while it was being read.');
    done += bytesRead;
  }
}

/** A local file. */
export class FileSource implements RandomAccessSource {
  private constructor(
    private readonly handle: FileHandle,
    readonly size: number,
    readonly description: string,
  ) {}

  static async open(path: string): Promise<FileSource> {
    const { handle, size } = await openLocalFile(path);
    return new FileSource(handle, size, path);
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(this, offset, length);
    const out = new Uint8Array(length);
    await readFully(this.handle, out, 0, length, offset);
    return out;
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

/** Bytes already in memory (tests, freshly written headers). */
export class BufferSource implements RandomAccessSource {
  readonly size: number;
  constructor(
    private readonly bytes: Uint8Array,
    readonly description = 'buffer',
  ) {
    this.size = bytes.length;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(this, offset, length);
    return this.bytes.subarray(offset, offset + length);
  }

  async close(): Promise<void> {}
}

/** A window [start, start + size) of another source, seen as a source of its own (a zip entry's data). */
export class SliceSource implements RandomAccessSource {
  readonly description: string;
  constructor(
    private readonly inner: RandomAccessSource,
    readonly start: number,
    readonly size: number,
    description?: string,
  ) {
    this.description = description ?? inner.description;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(this, offset, length);
    return this.inner.read(this.start + offset, length);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/**
 * Reads at least `minFetch` bytes at a time and keeps the last block, so a run of small sequential reads (a local
 * header, then the GGUF header behind it) costs one request on a remote source instead of several.
 */
export class PrefetchSource implements RandomAccessSource {
  private block: Uint8Array = new Uint8Array(0);
  private blockStart = 0;
  constructor(
    private readonly inner: RandomAccessSource,
    private readonly minFetch: number,
  ) {}

  get size(): number {
    return this.inner.size;
  }
  get description(): string {
    return this.inner.description;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(this, offset, length);
    const blockEnd = this.blockStart + this.block.length;
    if (offset >= this.blockStart && offset + length <= blockEnd) {
      return this.block.subarray(offset - this.blockStart, offset - this.blockStart + length);
    }
    // Reuse the cached bytes that overlap the start of the request; fetch only the rest.
    const cached = offset >= this.blockStart && offset < blockEnd ? this.block.subarray(offset - this.blockStart) : undefined;
    const from = offset + (cached?.length ?? 0);
    const fetchLength = Math.min(this.size - from, Math.max(offset + length - from, this.minFetch));
    const fresh = await this.inner.read(from, fetchLength);
    const block = cached ? new Uint8Array(cached.length + fresh.length) : fresh;
    if (cached) {
      block.set(cached, 0);
      block.set(fresh, cached.length);
    }
    this.block = block;
    this.blockStart = offset;
    return block.subarray(0, length);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
