/**
 * Random access to the bytes of a file that may be local, split into `.catN` shards, or remote. The format readers
 * (zip, GGUF, llamafile) only ever see this interface, so one reader serves all three.
 */
import { open, stat } from 'node:fs/promises';
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

/** Size of a local file, or NotFoundError. */
export async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(`No such file: ${path}`);
    throw error;
  }
}
