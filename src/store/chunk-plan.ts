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
 * Chunk size for a download: large enough that requests are cheap, small enough that N connections all have work
 * (≥ 4 chunks per connection when the file allows), and at most 8 MiB: a retry stays cheap, and two connections on one
 * shard hold at most a chunk ahead of its hash position, which the hasher keeps in memory for several shards at once
 * (download/hash-worker.ts). On the 2-core bench machine, 8 MiB chunks took a verified pull of 2.15 GB from 3.7 s to
 * 3.0 s against 16 MiB, since fewer bytes were read back to be hashed.
 */
export function chooseChunkSize(total: number, connections: number): number {
  const ideal = Math.floor(total / Math.max(1, connections * 4));
  return Math.min(8 * MiB, Math.max(MiB, Math.floor(ideal / MiB) * MiB));
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

/**
 * The chunks in turns across the shards (the first of each, then the second of each, …), so that the shards are
 * fetched side by side: with fewer connections on each shard, its bytes arrive closer to its hash position, and the
 * hasher takes more of them from memory (download/hash-worker.ts).
 */
export function inTurns(chunks: readonly Chunk[]): Chunk[] {
  const byShard = new Map<number, Chunk[]>();
  for (const chunk of chunks) {
    const list = byShard.get(chunk.shard);
    if (list) list.push(chunk);
    else byShard.set(chunk.shard, [chunk]);
  }
  const turns: Chunk[] = [];
  for (let i = 0; turns.length < chunks.length; i++) for (const list of byShard.values()) if (i < list.length) turns.push(list[i]!);
  return turns;
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
