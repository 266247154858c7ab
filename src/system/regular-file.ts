import { constants, type BigIntStats, type Stats } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { UsageError } from '../errors.js';

/** What a file system entry is, in words, for a message that refuses it. */
export function describeKind(stats: Stats | BigIntStats): string {
  if (stats.isFile()) return 'a regular file';
  if (stats.isDirectory()) return 'a directory';
  if (stats.isFIFO()) return 'a FIFO (named pipe)';
  if (stats.isCharacterDevice()) return 'a character device';
  if (stats.isBlockDevice()) return 'a block device';
  if (stats.isSocket()) return 'a socket';
  if (stats.isSymbolicLink()) return 'a symbolic link';
  return 'not a regular file';
}

/**
 * Opens `path` for reading without ever blocking, and only if it is a regular file. O_NONBLOCK makes the open of a
 * FIFO return at once (a plain open waits for a writer, forever), and the check is an fstat of the opened
 * descriptor, so a FIFO or device swapped in after some earlier stat of the path is still refused. For regular files
 * O_NONBLOCK changes nothing. Anything else is a UsageError naming what it is; ENOENT and the like pass through.
 */
export async function openRegularFile(
  path: string,
  why = 'llamactl reads only regular files',
  hint?: string,
): Promise<{ handle: FileHandle; stats: BigIntStats }> {
  const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const stats = await handle.stat({ bigint: true });
    if (!stats.isFile()) throw new UsageError(`${path} is ${describeKind(stats)}, not a regular file: ${why}.`, hint === undefined ? {} : { hint });
    return { handle, stats };
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/**
 * The text of a small file llamactl wrote itself (a record, a journal, a lock), read without blocking and at most
 * `maxBytes`: a FIFO, a device or an oversized file put in its place is a UsageError, never a hang or a huge
 * allocation. ENOENT passes through.
 */
export async function readSmallFile(path: string, maxBytes: number): Promise<string> {
  const { handle, stats } = await openRegularFile(path, 'llamactl keeps its state in regular files', 'Remove it.');
  const tooLarge = () => new UsageError(`${path} is larger than ${maxBytes} bytes: it is not a file llamactl wrote.`, { hint: 'Remove it.' });
  try {
    if (stats.size > BigInt(maxBytes)) throw tooLarge();
    // Read to EOF, in pieces, and never past the bound: a file that grows after the fstat is bounded too.
    const pieces: Buffer[] = [];
    let length = 0;
    for (;;) {
      const piece = Buffer.alloc(Math.min(65536, maxBytes + 1 - length));
      const { bytesRead } = await handle.read(piece, 0, piece.length, length);
      if (bytesRead === 0) break;
      pieces.push(piece.subarray(0, bytesRead));
      length += bytesRead;
      if (length > maxBytes) throw tooLarge();
    }
    return Buffer.concat(pieces).toString('utf8');
  } finally {
    await handle.close();
  }
}
