import { RetryableError, withRetries } from '../http/retry.js';
import { ConnectionController, type ControllerDecision } from './connection-controller.js';
import type { DownloadOptions, DownloadPlan } from './download-plan.js';
import { LocationExpiredError, RangeIgnoredError, fetchRange } from './fetch-range.js';
import { HashWorker } from './hash-worker.js';
import type { JournalData, JournalWriter } from '../store/pull-journal.js';
import { runJobs, type JobPool } from './job-queue.js';
import type { LeanPool } from './lean-range.js';
import type { BatchTarget } from './batch-writer.js';
import type { PartFile } from './part-file.js';
import { inTurns, type Chunk } from '../store/chunk-plan.js';
import { ShardProgress } from './shard-progress.js';
import { SpeedMeter } from './speed-meter.js';
import { ShardVerifier } from './verify-shards.js';

/** Bytes between background fdatasyncs. */
const FLUSH_EVERY = 128 * 1024 * 1024;
/** A throughput sample spans at least this long, and at least SAMPLE_BYTES per connection (a few write batches). */
const SAMPLE_MS = 300;
const SAMPLE_BYTES = 2 * 1024 * 1024;

type Job = { kind: 'chunk'; chunk: Chunk } | { kind: 'stream'; shard: number };

/** A job handed back to the queue by a worker that is about to stop (not a failure). */
class JobYielded extends Error {
  override name = 'JobYielded';
}

export interface SetRunOptions {
  plan: DownloadPlan;
  options: DownloadOptions;
  /** The `.part` file, opened for positioned writes. */
  file: PartFile;
  partPath: string;
  journal: JournalWriter;
  chunks: Chunk[];
  /** Where each shard starts in the `.part` file. */
  offsets: number[];
  /** What a previous run left: done chunks, verified shards. */
  resume: JournalData;
  lean: LeanPool | undefined;
}

/**
 * One run of a download set: the chunks not yet done go through a job queue on N connections (a shard whose server
 * ignores Range becomes one stream), progress is counted per shard, and complete shards are verified (a mismatch
 * is fetched again once).
 */
export class SetRun {
  readonly #run: SetRunOptions;
  readonly #progress: ShardProgress;
  readonly #verifier: ShardVerifier;
  readonly #streaming = new Set<number>();
  readonly #meter = new SpeedMeter();
  readonly #locations = new Map<number, Promise<string>>();
  #unflushed = 0;
  #flushing: Promise<void> | undefined;
  #lastReport = 0;
  readonly #controller: ConnectionController;
  #pool: JobPool | undefined;
  #queue: Job[] = [];
  #window = { since: 0, bytes: 0 };
  /** The `.part` file as fetches write it (through the verifier, which hashes what is written). */
  readonly #target: BatchTarget;

  constructor(run: SetRunOptions) {
    const { plan, options, chunks, offsets, resume, partPath } = run;
    this.#run = run;
    const start = Math.max(1, Math.min(64, options.connections));
    this.#controller = new ConnectionController({ start, max: Math.max(start, Math.min(64, options.maxConnections ?? start)) });
    this.#progress = new ShardProgress(plan.shards.map((s) => s.size), chunks);
    this.#verifier = new ShardVerifier({
      shards: plan.shards,
      hasher: options.verify ? new HashWorker(partPath, plan.shards.map((s, i) => ({ offset: offsets[i]!, size: s.size }))) : undefined,
      journal: run.journal,
      onProgress: options.onProgress,
      verified: resume.verified,
    });
    this.#target = this.#verifier.writesTo(run.file);
    for (const id of resume.done) if (chunks[id]) this.#markDone(chunks[id], false);
    for (const shard of resume.verified) if (!this.#progress.complete(shard)) this.#verifier.forget(shard);
  }

  async close(): Promise<void> {
    await this.#verifier.close();
  }

  doneBytes(): number {
    return this.#progress.doneBytes();
  }

  /** Downloads until every shard is complete and verified; each shard's sha256. */
  async execute(): Promise<string[]> {
    for (;;) {
      const queue: Job[] = inTurns(this.#run.chunks.filter((c) => !this.#progress.isDone(c.id))).map((chunk) => ({ kind: 'chunk', chunk }));
      this.#queue = queue;
      try {
        await runJobs(queue, {
          workers: this.#controller.target,
          signal: this.#run.options.signal,
          run: (job, signal) => this.#take(job, signal),
          onPool: (pool) => (this.#pool = pool),
        });
      } finally {
        await this.#flushing;
      }
      this.#report(true);
      const again = await this.#verifier.verifyAll((shard) => this.#progress.chunksOf(shard).map((c) => c.id));
      if (again.length === 0) break;
      for (const shard of again) {
        this.#progress.reset(shard);
        this.#streaming.delete(shard);
      }
    }
    return this.#verifier.shas();
  }

  async #take(job: Job, signal: AbortSignal): Promise<void> {
    if (job.kind === 'chunk' && (this.#streaming.has(job.chunk.shard) || this.#progress.isDone(job.chunk.id))) return;
    // The disk is slower than the network: do not pile up more dirty data than two flushes' worth.
    while (this.#flushing && this.#unflushed >= 2 * FLUSH_EVERY) await this.#flushing;
    try {
      await this.#runJob(job, signal);
    } catch (error) {
      if (!(error instanceof JobYielded)) throw error;
      // Back in the queue, first, for a connection the pool keeps; this worker stops (the pool has too many).
      this.#queue.unshift(job);
    }
  }

  /** More workers run than the controller wants (after a back-off): one about to retry gives its job back. */
  #surplus(): boolean {
    return (this.#pool?.running ?? 0) > this.#controller.target;
  }

  #markDone(chunk: Chunk, persist: boolean): void {
    if (!this.#progress.markDone(chunk)) return;
    if (persist) {
      void this.#run.journal.update((d) => d.done.push(chunk.id)).catch(() => {});
      this.#flushBehind(chunk.end - chunk.start);
    }
    this.#verifier.advance(chunk.shard, this.#progress.frontier(chunk.shard));
  }

  /**
   * Starts writeback every FLUSH_EVERY bytes (one fdatasync at a time, not awaited), so the disk writes while the
   * network reads and the final fsync has little left to do.
   */
  #flushBehind(bytes: number): void {
    this.#unflushed += bytes;
    if (this.#flushing || this.#unflushed < FLUSH_EVERY) return;
    this.#unflushed = 0;
    this.#flushing = this.#run.file
      .datasync()
      .catch(() => {})
      .finally(() => (this.#flushing = undefined));
  }

  /**
   * Feeds the connection controller: bytes written per window, sampled only while there are jobs enough waiting for
   * every connection (a level is judged with all its connections busy).
   */
  #sample(bytes: number): void {
    const pool = this.#pool;
    if (!pool || this.#controller.settled) return;
    const now = performance.now();
    const window = this.#window;
    if (pool.waiting < this.#controller.target || window.since === 0) {
      this.#window = { since: now, bytes: 0 };
      return;
    }
    window.bytes += bytes;
    const elapsed = now - window.since;
    if (elapsed < SAMPLE_MS || window.bytes < SAMPLE_BYTES * this.#controller.target) return;
    this.#window = { since: now, bytes: 0 };
    this.#apply(this.#controller.sample((window.bytes * 1000) / elapsed));
  }

  #apply(decision: ControllerDecision): void {
    if (!decision) return;
    this.#pool?.resize(decision.connections);
    this.#window = { since: 0, bytes: 0 };
    this.#run.options.onProgress?.({ type: 'connections', ...decision });
  }

  #report(force = false): void {
    const now = Date.now();
    if (!force && now - this.#lastReport < 250) return;
    this.#lastReport = now;
    const shown = this.#progress.shown();
    const shards = this.#run.plan.shards.map((s, i) => ({ name: s.name, size: s.size, done: shown[i]! }));
    const done = shards.reduce((a, s) => a + s.done, 0);
    const total = this.#run.chunks.reduce((a, c) => a + c.end - c.start, 0);
    this.#run.options.onProgress?.({ type: 'progress', total, done, speed: this.#meter.rate(done), shards });
  }

  #location(shard: number, refresh: boolean): Promise<string> {
    let location = this.#locations.get(shard);
    if (!location || refresh) {
      location = this.#run.plan.shards[shard]!.locate(refresh);
      this.#locations.set(shard, location);
      location.catch(() => this.#locations.delete(shard));
    }
    return location;
  }

  async #runJob(job: Job, signal: AbortSignal): Promise<void> {
    const { plan, options } = this.#run;
    const shardIndex = job.kind === 'chunk' ? job.chunk.shard : job.shard;
    const shard = plan.shards[shardIndex]!;
    let refresh = false;
    try {
      await withRetries(
        `Downloading ${shard.name}`,
        async (attempt) => {
          if (attempt > 1 && job.kind === 'chunk' && this.#surplus()) throw new JobYielded();
          const flight = this.#progress.flight(shardIndex);
          const url = await this.#location(shardIndex, refresh);
          refresh = false;
          const start = job.kind === 'chunk' ? job.chunk.start : 0;
          const end = job.kind === 'chunk' ? job.chunk.end : shard.size;
          let streamed = 0;
          try {
            await fetchRange({
              url,
              start,
              end,
              whole: job.kind === 'stream',
              shardSize: shard.size,
              offset: this.#run.offsets[shardIndex]! + start,
              file: this.#target,
              dispatcher: options.dispatcher,
              lean: this.#run.lean,
              token: options.token,
              signal,
              stallTimeoutMs: options.stallTimeoutMs,
              what: { repo: plan.repo, revision: plan.commit, file: shard.name },
              onBytes: (n) => {
                if (job.kind === 'stream') {
                  streamed += n;
                  flight.set(streamed - this.#streamProgress(shardIndex, streamed));
                } else {
                  flight.add(n);
                }
                this.#sample(n);
                this.#report();
              },
            });
          } catch (error) {
            if (error instanceof LocationExpiredError) refresh = true;
            throw error;
          } finally {
            flight.end();
          }
          if (job.kind === 'chunk') this.#markDone(job.chunk, true);
          else this.#streamProgress(shardIndex, shard.size);
        },
        {
          ...options.retry,
          signal,
          onRetry: ({ error, attempt, delayMs }) => {
            // 429 / 503: the server is asking for less; fewer connections from now on.
            if (error instanceof RetryableError && (error.status === 429 || error.status === 503)) this.#apply(this.#controller.throttled(Date.now()));
            options.onProgress?.({ type: 'retry', shard: shard.name, attempt, error: error.message, delayMs });
          },
        },
      );
    } catch (error) {
      if (!(error instanceof RangeIgnoredError)) throw error;
      // The server does not do ranges: one stream for the whole shard, from its first byte.
      if (!this.#streaming.has(shardIndex)) {
        this.#streaming.add(shardIndex);
        await this.#runJob({ kind: 'stream', shard: shardIndex }, signal);
      }
    }
  }

  /** In stream mode, chunks count as done once the stream has written past their end; the bytes counted so. */
  #streamProgress(shard: number, written: number): number {
    let counted = 0;
    for (const chunk of this.#progress.chunksOf(shard)) {
      if (chunk.end > written) break;
      this.#markDone(chunk, true);
      counted = chunk.end;
    }
    return counted;
  }
}
