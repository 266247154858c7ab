import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { ALIGN, alignedLike } from './aligned-batches.js';
import { writeAll } from './batch-writer.js';

/**
 * The `.part` file as the download writes it: whole pages straight to the disk (O_DIRECT), the partial pages at the
 * edges of a range through the page cache. Writing a pull through the page cache costs more CPU than anything else it
 * does, and on a VM the most of all: `dd` of 2 GiB took 8.1 CPU-s through the cache and 0.4 with `oflag=direct` on the
 * 2-core test machine. A page is only ever written one way, since both ranges that share an edge page write it
 * through the cache, and a direct write never touches a page another write has in the cache. O_DIRECT also reads
 * back whatever is still in the cache first (the hasher reads this way too; see hash-worker.ts).
 *
 * Where O_DIRECT is not there (a filesystem that refuses it, a batch that is not aligned), writes go through the
 * page cache as before.
 */
export class PartFile {
  readonly file: FileHandle;
  #direct: FileHandle | undefined;
  #directBytes = 0;

  private constructor(file: FileHandle, direct: FileHandle | undefined) {
    this.file = file;
    this.#direct = direct;
  }

  /** Wraps an open `.part`, adding an O_DIRECT handle on the same file (same device and inode) where one opens. */
  static async open(file: FileHandle, path: string): Promise<PartFile> {
    const direct = await open(path, constants.O_WRONLY | constants.O_DIRECT | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch(() => undefined);
    if (direct) {
      const [a, b] = await Promise.all([file.stat(), direct.stat()]).catch(() => [undefined, undefined]);
      if (!a || !b || a.dev !== b.dev || a.ino !== b.ino) {
        await direct.close().catch(() => {});
        return new PartFile(file, undefined);
      }
    }
    return new PartFile(file, direct);
  }

  /** Whether whole pages go straight to the disk. */
  get direct(): boolean {
    return this.#direct !== undefined;
  }

  /** How many bytes went straight to the disk so far. */
  get directBytes(): number {
    return this.#directBytes;
  }

  /** Writes all `length` bytes of `buffer` from `offset` at `position`. */
  async write(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesWritten: number }> {
    const head = Math.min(length, (ALIGN - (position % ALIGN)) % ALIGN);
    const pages = Math.floor((length - head) / ALIGN) * ALIGN;
    if (!this.#direct || pages === 0 || !alignedLike(buffer, offset, position)) {
      await writeAll(this.file, buffer, offset, length, position);
      return { bytesWritten: length };
    }
    if (head > 0) await writeAll(this.file, buffer, offset, head, position);
    try {
      await writeAll(this.#direct, buffer, offset + head, pages, position + head);
      this.#directBytes += pages;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EINVAL') throw error;
      // Refused after all (a filesystem with a larger block, say): the page cache from now on.
      await this.#closeDirect();
      await writeAll(this.file, buffer, offset + head, pages, position + head);
    }
    const tail = length - head - pages;
    if (tail > 0) await writeAll(this.file, buffer, offset + head + pages, tail, position + head + pages);
    return { bytesWritten: length };
  }

  datasync(): Promise<void> {
    return this.file.datasync();
  }

  /** fsync: the inode's data and metadata, whichever handle wrote them. */
  sync(): Promise<void> {
    return this.file.sync();
  }

  async close(): Promise<void> {
    await this.#closeDirect();
    await this.file.close();
  }

  async #closeDirect(): Promise<void> {
    const direct = this.#direct;
    this.#direct = undefined;
    await direct?.close().catch(() => {});
  }
}
