// How a pull cuts shards into chunks. The journal's chunk ids refer to this plan, so it lives beside the journal.
/** One ranged request: bytes [start, end) of shard `shard`, written at `offset` in the `.part` file. */
export interface Chunk {
  id: number;
  shard: number;
  start: number;
  end: number;
  offset: number;
}

const MiB = 1024 * 1024;

/**
 * Chunk size for a download: large enough that requests are cheap (≤ 16 MiB keeps a retry cheap too), small enough
 * that N connections all have work (≥ 4 chunks per connection when the file allows).
 */
export function chooseChunkSize(total: number, connections: number): number {
  const ideal = Math.floor(total / Math.max(1, connections * 4));
  return Math.min(16 * MiB, Math.max(MiB, Math.floor(ideal / MiB) * MiB));
}

/** Splits shards of the given sizes into chunks that never cross a shard boundary. */
export function planChunks(sizes: readonly number[], chunkSize: number): Chunk[] {
  if (!(chunkSize > 0)) throw new RangeError(`chunkSize must be positive, got ${chunkSize}`);
  const chunks: Chunk[] = [];
  let offset = 0;
  sizes.forEach((size, shard) => {
    for (let start = 0; start < size; start += chunkSize) {
      const end = Math.min(size, start + chunkSize);
      chunks.push({ id: chunks.length, shard, start, end, offset: offset + start });
    }
    offset += size;
  });
  return chunks;
}

/** Offsets of each shard in the joined file. */
export function shardOffsets(sizes: readonly number[]): number[] {
  let offset = 0;
  return sizes.map((size) => {
    const at = offset;
    offset += size;
    return at;
  });
}
