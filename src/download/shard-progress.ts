import type { Chunk } from '../store/chunk-plan.js';

/** The bytes one running job has received but not yet counted as done chunks; counted into its shard until `end`. */
export interface Flight {
  /** Sets this job's in-flight bytes. */
  set(bytes: number): void;
  add(bytes: number): void;
  /** The job is over: its in-flight bytes no longer count. */
  end(): void;
}

/**
 * Per-shard progress of a download, in numbers: which chunks are on disk, the done bytes of each shard, the bytes
 * in flight per shard, and how far each shard is on disk contiguously from its start (what the hasher may read).
 */
export class ShardProgress {
  readonly #sizes: readonly number[];
  readonly #done = new Set<number>();
  readonly #shardDone: number[];
  readonly #inflight: number[];
  readonly #shardChunks: Chunk[][];
  readonly #frontierAt: number[];

  constructor(sizes: readonly number[], chunks: readonly Chunk[]) {
    this.#sizes = sizes;
    this.#shardDone = sizes.map(() => 0);
    this.#inflight = sizes.map(() => 0);
    this.#shardChunks = sizes.map((_, i) => chunks.filter((c) => c.shard === i));
    this.#frontierAt = sizes.map(() => 0);
  }

  isDone(id: number): boolean {
    return this.#done.has(id);
  }

  /** Counts a chunk as on disk; false when it already was. */
  markDone(chunk: Chunk): boolean {
    if (this.#done.has(chunk.id)) return false;
    this.#done.add(chunk.id);
    this.#shardDone[chunk.shard]! += chunk.end - chunk.start;
    return true;
  }

  /** Forgets every done chunk of a shard (it is fetched again). */
  reset(shard: number): void {
    for (const chunk of this.#shardChunks[shard]!) this.#done.delete(chunk.id);
    this.#shardDone[shard] = 0;
    this.#frontierAt[shard] = 0;
  }

  chunksOf(shard: number): readonly Chunk[] {
    return this.#shardChunks[shard]!;
  }

  complete(shard: number): boolean {
    return this.#shardDone[shard] === this.#sizes[shard];
  }

  doneBytes(): number {
    return this.#shardDone.reduce((a, b) => a + b, 0);
  }

  /** Done plus in-flight bytes of each shard (what a progress bar shows). */
  shown(): number[] {
    return this.#shardDone.map((done, i) => done + this.#inflight[i]!);
  }

  /** Bytes of the shard on disk contiguously from its start. */
  frontier(shard: number): number {
    const list = this.#shardChunks[shard]!;
    let at = this.#frontierAt[shard]!;
    while (at < list.length && this.#done.has(list[at]!.id)) at++;
    this.#frontierAt[shard] = at;
    return at === 0 ? 0 : list[at - 1]!.end;
  }

  /** Starts counting one job's in-flight bytes for `shard`. */
  flight(shard: number): Flight {
    let bytes = 0;
    let live = true;
    const set = (next: number) => {
      if (!live) return;
      this.#inflight[shard]! += next - bytes;
      bytes = next;
    };
    return {
      set,
      add: (n) => set(bytes + n),
      end: () => {
        set(0);
        live = false;
      },
    };
  }
}
