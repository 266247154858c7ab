/**
 * Sources made of several parts joined end to end, as a split llamafile's `.catN` shards are: a read at any offset
 * of the joined file is served from the part(s) it falls in. Local shards are files; remote ones are URLs read
 * with HTTP `Range` (see http-source.ts). Both share the offset arithmetic here.
 */
import type { FileHandle } from 'node:fs/promises';
import { checkRange, openLocalFile, readFully } from './source.js';
import type { RandomAccessSource } from './source.js';

/** Reads `length` bytes at `offset` of part `index` into `into` at `at`. */
export type ReadPart = (index: number, offset: number, length: number, into: Uint8Array, at: number) => Promise<void>;

/** Splits a read over parts of the given sizes and runs `readPart` for each piece, in order. */
export async function readAcrossParts(
  sizes: readonly number[],
  offset: number,
  length: number,
  readPart: ReadPart,
): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  let partStart = 0;
  let done = 0;
  for (let index = 0; index < sizes.length && done < length; index++) {
    const partSize = sizes[index]!;
    const partEnd = partStart + partSize;
    const position = offset + done;
    if (position < partEnd) {
      const inPart = position - partStart;
      const n = Math.min(partSize - inPart, length - done);
      await readPart(index, inPart, n, out, done);
      done += n;
    }
    partStart = partEnd;
  }
  return out;
}

/** Local `.catN` shards, joined in the order given. */
export class LocalShardSource implements RandomAccessSource {
  readonly size: number;
  private constructor(
    private readonly handles: FileHandle[],
    private readonly sizes: number[],
    readonly description: string,
  ) {
    this.size = sizes.reduce((a, b) => a + b, 0);
  }

  static async open(paths: readonly string[]): Promise<LocalShardSource> {
    const handles: FileHandle[] = [];
    const sizes: number[] = [];
    try {
      for (const path of paths) {
        const { handle, size } = await openLocalFile(path);
        handles.push(handle);
        sizes.push(size);
      }
    } catch (error) {
      await Promise.all(handles.map((h) => h.close()));
      throw error;
    }
    const description = paths.length === 1 ? paths[0]! : `${paths[0]} (+${paths.length - 1} shards)`;
    return new LocalShardSource(handles, sizes, description);
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(this, offset, length);
    return readAcrossParts(this.sizes, offset, length, (index, inPart, n, into, at) =>
      readFully(this.handles[index]!, into, at, n, inPart),
    );
  }

  async close(): Promise<void> {
    await Promise.all(this.handles.map((h) => h.close()));
  }
}
