import { createHash, type Hash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';

const READ = 4 * 1024 * 1024;

/**
 * Hashes a shard sequentially behind the write frontier: as chunks finish in order, it reads them back (from the
 * page cache, they were just written) and feeds sha256, so the hash is ready soon after the last byte lands.
 */
export class ShardHasher {
  readonly size: number;
  readonly offset: number;
  #hash: Hash = createHash('sha256');
  #hashed = 0;
  #frontier = 0;
  #running: Promise<void> | undefined;
  #buffer: Buffer | undefined;
  #error: unknown;

  constructor(offset: number, size: number) {
    this.offset = offset;
    this.size = size;
  }

  /** Tells the hasher bytes [0, frontier) of the shard are on disk; hashing proceeds in the background. */
  advance(file: FileHandle, frontier: number): void {
    if (frontier <= this.#frontier) return;
    this.#frontier = frontier;
    this.#running ??= this.#run(file).finally(() => (this.#running = undefined));
  }

  async #run(file: FileHandle): Promise<void> {
    try {
      while (this.#hashed < this.#frontier) {
        this.#buffer ??= Buffer.allocUnsafe(READ);
        const n = Math.min(READ, this.#frontier - this.#hashed);
        const { bytesRead } = await file.read(this.#buffer, 0, n, this.offset + this.#hashed);
        if (bytesRead <= 0) throw new Error('short read while hashing');
        this.#hash.update(this.#buffer.subarray(0, bytesRead));
        this.#hashed += bytesRead;
      }
    } catch (error) {
      this.#error = error;
    }
  }

  /** Waits for the hash of the whole shard. Call once every byte is on disk. */
  async digest(file: FileHandle): Promise<string> {
    this.advance(file, this.size);
    while (this.#running) await this.#running;
    if (this.#error) throw this.#error;
    this.#buffer = undefined;
    return this.#hash.digest('hex');
  }

  /** Starts over (after a re-fetch). */
  reset(): void {
    this.#hash = createHash('sha256');
    this.#hashed = 0;
    this.#frontier = 0;
    this.#error = undefined;
  }
}
