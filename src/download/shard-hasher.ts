import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';

const READ = 4 * 1024 * 1024;

/** The sha256 of one shard of a file already on disk (bytes [offset, offset + size)), read sequentially. */
export class ShardHasher {
  readonly size: number;
  readonly offset: number;

  constructor(offset: number, size: number) {
    this.offset = offset;
    this.size = size;
  }

  async digest(file: FileHandle): Promise<string> {
    const hash = createHash('sha256');
    const buffer = Buffer.allocUnsafe(Math.min(READ, Math.max(1, this.size)));
    for (let hashed = 0; hashed < this.size; ) {
      const n = Math.min(buffer.length, this.size - hashed);
      const { bytesRead } = await file.read(buffer, 0, n, this.offset + hashed);
      if (bytesRead <= 0) throw new Error('short read while hashing');
      hash.update(buffer.subarray(0, bytesRead));
      hashed += bytesRead;
    }
    return hash.digest('hex');
  }
}
