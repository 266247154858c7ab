import { IntegrityError } from '../errors.js';
import type { BatchTarget } from './batch-writer.js';
import type { ProgressListener } from './events.js';
import type { HashWorker } from './hash-worker.js';
import type { JournalWriter } from '../store/pull-journal.js';

/**
 * Verify-and-refetch: each complete shard's sha256 (hashed behind the write frontier) checked against the hub's; a
 * mismatching shard is fetched once more, a second mismatch is an IntegrityError. Verified shards are journaled so
 * a resumed pull does not hash them again.
 */
export class ShardVerifier {
  readonly #shards: readonly { name: string; sha256: string | undefined }[];
  readonly #hasher: HashWorker | undefined;
  readonly #journal: JournalWriter;
  readonly #onProgress: ProgressListener | undefined;
  readonly #verified: Set<number>;
  readonly #refetched = new Set<number>();
  readonly #shas: (string | undefined)[];

  /** `hasher` undefined: no verification (the hub's sha256, when it gave one, is reported as is). */
  constructor(options: {
    shards: readonly { name: string; sha256: string | undefined }[];
    hasher: HashWorker | undefined;
    journal: JournalWriter;
    onProgress: ProgressListener | undefined;
    /** Shards a previous run verified. */
    verified: readonly number[];
  }) {
    this.#shards = options.shards;
    this.#hasher = options.hasher;
    this.#journal = options.journal;
    this.#onProgress = options.onProgress;
    this.#verified = new Set(options.verified);
    this.#shas = options.shards.map(() => undefined);
  }

  isVerified(shard: number): boolean {
    return this.#verified.has(shard);
  }

  /** A shard the journal called verified whose bytes are not all there after all. */
  forget(shard: number): void {
    this.#verified.delete(shard);
  }

  /**
   * The file as the download writes it: each write is also handed to the hasher, which hashes it from memory where
   * it can (HashWorker.written). One object per file: writes to it go one at a time (batch-writer.ts).
   */
  writesTo(file: BatchTarget): BatchTarget {
    const hasher = this.#hasher;
    if (!hasher) return file;
    return {
      async write(buffer, offset, length, position) {
        const writing = file.write(buffer, offset, length, position);
        const slot = hasher.stage(buffer.subarray(offset, offset + length));
        let result: { bytesWritten: number } | undefined;
        try {
          result = await writing;
        } finally {
          // A write that failed or fell short may still have changed bytes: told as written, but not staged.
          hasher.written(position, length, result?.bytesWritten === length ? slot : hasher.unstage(slot));
        }
        return result;
      },
    };
  }

  /** Bytes [0, frontier) of the shard are on disk: hash them in the background. */
  advance(shard: number, frontier: number): void {
    if (this.#hasher && !this.#verified.has(shard)) this.#hasher.advance(shard, frontier);
  }

  /**
   * Checks every shard (all complete now). Returns the shards to fetch again, whose done chunks it has removed from
   * the journal; the caller forgets their progress.
   */
  async verifyAll(chunkIds: (shard: number) => number[]): Promise<number[]> {
    const again: number[] = [];
    for (let i = 0; i < this.#shards.length; i++) {
      const shard = this.#shards[i]!;
      if (!this.#hasher || this.#verified.has(i)) {
        this.#shas[i] ??= shard.sha256;
        continue;
      }
      const sha = await this.#hasher.digest(i);
      if (shard.sha256 === undefined || sha === shard.sha256) {
        this.#shas[i] = sha;
        this.#verified.add(i);
        await this.#journal.update((d) => d.verified.push(i));
        if (shard.sha256 !== undefined) this.#onProgress?.({ type: 'shard-verified', shard: shard.name, sha256: sha });
        continue;
      }
      const ids = new Set(chunkIds(i));
      await this.#journal.update((d) => (d.done = d.done.filter((id) => !ids.has(id))));
      if (this.#refetched.has(i)) {
        throw new IntegrityError(
          `${shard.name} failed its sha256 check twice: expected ${shard.sha256}, got ${sha}. No final file was written; the partial file keeps the other shards.`,
          { hint: 'The copy on the server may be corrupt: run the same command later to fetch only this shard again, or report it to the repo owner.' },
        );
      }
      this.#refetched.add(i);
      this.#onProgress?.({ type: 'refetch', shard: shard.name, reason: `sha256 mismatch (got ${sha.slice(0, 12)}…)` });
      this.#hasher.reset(i);
      again.push(i);
    }
    return again;
  }

  /** Each shard's sha256: hashed, else the hub's, else ''. */
  shas(): string[] {
    return this.#shas.map((sha, i) => sha ?? this.#shards[i]!.sha256 ?? '');
  }

  async close(): Promise<void> {
    await this.#hasher?.close();
  }
}
