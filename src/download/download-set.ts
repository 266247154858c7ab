import { open, stat, type FileHandle } from 'node:fs/promises';
import type { Dispatcher } from 'undici';
import { IntegrityError } from '../errors.js';
import type { ProgressListener } from './events.js';
import { LocationExpiredError, RangeIgnoredError, fetchRange } from './fetch-range.js';
import { JournalWriter, journalMatches, journalPath, readJournal, type JournalData } from './journal.js';
import { chooseChunkSize, planChunks, shardOffsets, type Chunk } from './plan-chunks.js';
import { withRetries, type RetryOptions } from './retry.js';
import { HashWorker } from './hash-worker.js';
import { completeFile } from './complete-file.js';
import { LeanPool } from './lean-range.js';
import { proxyConfigured } from '../hub/http.js';
import { SpeedMeter } from './speed-meter.js';

export interface DownloadShard {
  /** Path in the repo. */
  name: string;
  size: number;
  sha256: string | undefined;
  /** Where the bytes are; `refresh` asks the hub again (a signed CDN URL expired). */
  locate: (refresh: boolean) => Promise<string>;
}

export interface DownloadPlan {
  repo: string;
  revision: string;
  commit: string;
  /** Final path; bytes go to `<target>.part` until verified. */
  target: string;
  shards: DownloadShard[];
}

export interface DownloadOptions {
  connections: number;
  verify: boolean;
  stallTimeoutMs: number;
  chunkSize?: number | undefined;
  retry?: RetryOptions | undefined;
  dispatcher: Dispatcher;
  token: { origin: string; value: string } | undefined;
  signal: AbortSignal | undefined;
  onProgress: ProgressListener | undefined;
  /** Runs once sizes and the resume state are known, before the first byte: disk checks, RAM checks. */
  beforeFirstByte: (remaining: number) => Promise<void>;
}

export interface DownloadResult {
  size: number;
  shards: { name: string; size: number; sha256: string }[];
}

/** What is already on disk for this download: a `.part` of the right size with a matching journal, or nothing. */
async function resumeState(plan: DownloadPlan, chunkSize: number | undefined, total: number, connections: number): Promise<JournalData> {
  const partPath = `${plan.target}.part`;
  const journal = await readJournal(journalPath(partPath));
  // Resuming with other --connections keeps the journal's chunking, so finished chunks still count.
  const size = chunkSize ?? journal?.chunkSize ?? chooseChunkSize(total, connections);
  const want = { commit: plan.commit, chunkSize: size, shards: plan.shards.map(({ name, size, sha256 }) => ({ name, size, sha256 })) };
  const partSize = await stat(partPath).then((s) => s.size, () => -1);
  if (journal && journalMatches(journal, want) && partSize === total) return journal;
  return { version: 1, ...want, done: [], verified: [] };
}

/** Opens the `.part` to resume it, or creates it at its full size (sparse) with an empty journal. */
async function openPart(partPath: string, journal: JournalWriter, total: number, resumed: boolean): Promise<FileHandle> {
  if (resumed) return open(partPath, 'r+');
  const file = await open(partPath, 'w+', 0o644);
  try {
    await file.truncate(total);
    await journal.update(() => {});
  } catch (error) {
    await file.close();
    throw error;
  }
  return file;
}

/**
 * Downloads a shard set into one preallocated `<target>.part` (positioned writes, N connections), checks each
 * shard's sha256 while downloading, and renames it to `target` when all is verified.
 */
export async function downloadSet(plan: DownloadPlan, options: DownloadOptions): Promise<DownloadResult> {
  const sizes = plan.shards.map((s) => s.size);
  const total = sizes.reduce((a, b) => a + b, 0);
  const offsets = shardOffsets(sizes);
  const connections = Math.max(1, Math.min(64, options.connections));
  const partPath = `${plan.target}.part`;
  const data = await resumeState(plan, options.chunkSize, total, connections);
  const resumed = data.done.length > 0 || data.verified.length > 0;
  // Checked before planning a fresh download: a size the disk cannot hold must not cost millions of chunks.
  const done = new Set(data.done);
  const doneBytes = (list: Chunk[]) => list.filter((c) => done.has(c.id)).reduce((sum, c) => sum + c.end - c.start, 0);
  await options.beforeFirstByte(resumed ? total - doneBytes(planChunks(sizes, data.chunkSize)) : total);
  const chunks = planChunks(sizes, data.chunkSize);
  const journal = new JournalWriter(journalPath(partPath), data);
  const file = await openPart(partPath, journal, total, resumed);
  // Through a proxy, every request goes by undici (which speaks to proxies); the lean path talks to origins directly.
  const lean = proxyConfigured() ? undefined : new LeanPool();
  let run: SetRun | undefined;
  try {
    run = new SetRun(plan, options, file, journal, chunks, offsets, data, partPath, lean);
    options.onProgress?.({ type: 'start', total, done: run.doneBytes(), connections, resumed });
    const shas = await run.execute();
    await journal.settle();
    await completeFile(file, partPath, plan.target);
    await journal.remove();
    return { size: total, shards: plan.shards.map((s, i) => ({ name: s.name, size: s.size, sha256: shas[i]! })) };
  } finally {
    lean?.close();
    await run?.close();
    await journal.settle().catch(() => {});
    await file.close().catch(() => {});
  }
}

/** Bytes between background fdatasyncs. */
const FLUSH_EVERY = 128 * 1024 * 1024;

type Job = { kind: 'chunk'; chunk: Chunk } | { kind: 'stream'; shard: number };

class SetRun {
  readonly #done: Set<number>;
  readonly #verified: Set<number>;
  readonly #streaming = new Set<number>();
  readonly #refetched = new Set<number>();
  readonly #inflight = new Map<string, number>();
  readonly #shardDone: number[];
  readonly #hasher: HashWorker | undefined;
  readonly #shas: (string | undefined)[];
  readonly #meter = new SpeedMeter();
  readonly #locations = new Map<number, Promise<string>>();
  #queue: Job[] = [];
  #unflushed = 0;
  #flushing: Promise<void> | undefined;
  #signal: AbortSignal | undefined;
  #lastReport = 0;

  readonly #shardChunks: Chunk[][];
  readonly #frontierAt: number[];

  constructor(
    readonly plan: DownloadPlan,
    readonly options: DownloadOptions,
    readonly file: FileHandle,
    readonly journal: JournalWriter,
    readonly chunks: Chunk[],
    readonly offsets: number[],
    data: JournalData,
    partPath: string,
    readonly lean: LeanPool | undefined,
  ) {
    this.#done = new Set();
    this.#verified = new Set();
    this.#shardDone = plan.shards.map(() => 0);
    this.#hasher = options.verify ? new HashWorker(partPath, plan.shards.map((s, i) => ({ offset: offsets[i]!, size: s.size }))) : undefined;
    this.#shas = plan.shards.map(() => undefined);
    this.#shardChunks = plan.shards.map((_, i) => chunks.filter((c) => c.shard === i));
    this.#frontierAt = plan.shards.map(() => 0);
    for (const shard of data.verified) this.#verified.add(shard);
    for (const id of data.done) if (chunks[id]) this.#markDone(chunks[id], false);
    for (const shard of data.verified) if (!this.#shardComplete(shard)) this.#verified.delete(shard);
  }

  async close(): Promise<void> {
    await this.#hasher?.close();
  }

  doneBytes(): number {
    return this.#shardDone.reduce((a, b) => a + b, 0);
  }

  #shardComplete(shard: number): boolean {
    return this.#shardDone[shard] === this.plan.shards[shard]!.size;
  }

  #markDone(chunk: Chunk, persist: boolean): void {
    if (this.#done.has(chunk.id)) return;
    this.#done.add(chunk.id);
    this.#shardDone[chunk.shard]! += chunk.end - chunk.start;
    if (persist) {
      void this.journal.update((d) => d.done.push(chunk.id)).catch(() => {});
      this.#flushBehind(chunk.end - chunk.start);
    }
    if (this.#hasher && !this.#verified.has(chunk.shard)) this.#hasher.advance(chunk.shard, this.#frontier(chunk.shard));
  }

  /**
   * Starts writeback every FLUSH_EVERY bytes (one fdatasync at a time, not awaited), so the disk writes while the
   * network reads and the final fsync has little left to do.
   */
  #flushBehind(bytes: number): void {
    this.#unflushed += bytes;
    if (this.#flushing || this.#unflushed < FLUSH_EVERY) return;
    this.#unflushed = 0;
    this.#flushing = this.file
      .datasync()
      .catch(() => {})
      .finally(() => (this.#flushing = undefined));
  }

  /** Bytes of the shard on disk contiguously from its start. */
  #frontier(shard: number): number {
    const list = this.#shardChunks[shard]!;
    let at = this.#frontierAt[shard]!;
    while (at < list.length && this.#done.has(list[at]!.id)) at++;
    this.#frontierAt[shard] = at;
    return at === 0 ? 0 : list[at - 1]!.end;
  }

  #report(force = false): void {
    const now = Date.now();
    if (!force && now - this.#lastReport < 250) return;
    this.#lastReport = now;
    const shards = this.plan.shards.map((s, i) => ({ name: s.name, size: s.size, done: this.#shardDone[i]! + this.#inflightOf(i) }));
    const done = shards.reduce((a, s) => a + s.done, 0);
    this.options.onProgress?.({ type: 'progress', total: this.chunks.reduce((a, c) => a + c.end - c.start, 0), done, speed: this.#meter.rate(done), shards });
  }

  #inflightOf(shard: number): number {
    let sum = 0;
    for (const [key, bytes] of this.#inflight) if (key.startsWith(`${shard}:`)) sum += bytes;
    return sum;
  }

  #location(shard: number, refresh: boolean): Promise<string> {
    let location = this.#locations.get(shard);
    if (!location || refresh) {
      location = this.plan.shards[shard]!.locate(refresh);
      this.#locations.set(shard, location);
      location.catch(() => this.#locations.delete(shard));
    }
    return location;
  }

  async execute(): Promise<string[]> {
    for (;;) {
      this.#queue = this.chunks.filter((c) => !this.#done.has(c.id)).map((chunk) => ({ kind: 'chunk', chunk }));
      const stop = new AbortController();
      this.#signal = this.options.signal ? AbortSignal.any([this.options.signal, stop.signal]) : stop.signal;
      let failure: { error: unknown } | undefined;
      const workers = Array.from({ length: this.options.connections }, () =>
        this.#worker().catch((error: unknown) => {
          // The first failure stops the other connections; it is the one reported.
          failure ??= { error };
          stop.abort(error);
        }),
      );
      await Promise.all(workers);
      await this.#flushing;
      if (failure) throw failure.error;
      this.#report(true);
      const again = await this.#verifyAll();
      if (!again) break;
    }
    return this.#shas.map((sha, i) => sha ?? this.plan.shards[i]!.sha256 ?? '');
  }

  /** Checks every complete shard; re-queues a mismatching one once. Returns whether there is work again. */
  async #verifyAll(): Promise<boolean> {
    let again = false;
    for (let i = 0; i < this.plan.shards.length; i++) {
      const shard = this.plan.shards[i]!;
      if (!this.options.verify || this.#verified.has(i)) {
        this.#shas[i] ??= shard.sha256;
        continue;
      }
      const sha = await this.#hasher!.digest(i);
      if (shard.sha256 === undefined || sha === shard.sha256) {
        this.#shas[i] = sha;
        this.#verified.add(i);
        await this.journal.update((d) => d.verified.push(i));
        if (shard.sha256 !== undefined) this.options.onProgress?.({ type: 'shard-verified', shard: shard.name, sha256: sha });
        continue;
      }
      const ids = new Set(this.chunks.filter((c) => c.shard === i).map((c) => c.id));
      await this.journal.update((d) => (d.done = d.done.filter((id) => !ids.has(id))));
      if (this.#refetched.has(i)) {
        throw new IntegrityError(
          `${shard.name} failed its sha256 check twice: expected ${shard.sha256}, got ${sha}. No final file was written; the partial file keeps the other shards.`,
          { hint: 'The copy on the server may be corrupt: run the same command later to fetch only this shard again, or report it to the repo owner.' },
        );
      }
      this.#refetched.add(i);
      this.options.onProgress?.({ type: 'refetch', shard: shard.name, reason: `sha256 mismatch (got ${sha.slice(0, 12)}…)` });
      for (const id of ids) this.#done.delete(id);
      this.#shardDone[i] = 0;
      this.#frontierAt[i] = 0;
      this.#streaming.delete(i);
      this.#hasher!.reset(i);
      again = true;
    }
    return again;
  }

  async #worker(): Promise<void> {
    for (let job = this.#queue.shift(); job; job = this.#queue.shift()) {
      if (job.kind === 'chunk' && (this.#streaming.has(job.chunk.shard) || this.#done.has(job.chunk.id))) continue;
      // The disk is slower than the network: do not pile up more dirty data than two flushes' worth.
      while (this.#flushing && this.#unflushed >= 2 * FLUSH_EVERY) await this.#flushing;
      await this.#runJob(job);
    }
  }

  async #runJob(job: Job): Promise<void> {
    const shardIndex = job.kind === 'chunk' ? job.chunk.shard : job.shard;
    const shard = this.plan.shards[shardIndex]!;
    const key = job.kind === 'chunk' ? `${shardIndex}:${job.chunk.id}` : `${shardIndex}:stream`;
    let refresh = false;
    try {
      await withRetries(
        `Downloading ${shard.name}`,
        async () => {
          this.#inflight.set(key, 0);
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
              offset: this.offsets[shardIndex]! + start,
              file: this.file,
              dispatcher: this.options.dispatcher,
              lean: this.lean,
              token: this.options.token,
              signal: this.#signal,
              stallTimeoutMs: this.options.stallTimeoutMs,
              what: { repo: this.plan.repo, revision: this.plan.commit, file: shard.name },
              onBytes: (n) => {
                if (job.kind === 'stream') {
                  streamed += n;
                  this.#streamProgress(shardIndex, streamed, key);
                } else {
                  this.#inflight.set(key, (this.#inflight.get(key) ?? 0) + n);
                }
                this.#report();
              },
            });
          } catch (error) {
            if (error instanceof LocationExpiredError) refresh = true;
            throw error;
          } finally {
            this.#inflight.delete(key);
          }
          if (job.kind === 'chunk') this.#markDone(job.chunk, true);
          else this.#streamProgress(shardIndex, shard.size, key);
        },
        {
          ...this.options.retry,
          signal: this.#signal,
          onRetry: ({ error, attempt, delayMs }) => {
            this.options.onProgress?.({ type: 'retry', shard: shard.name, attempt, error: error.message, delayMs });
          },
        },
      );
    } catch (error) {
      if (!(error instanceof RangeIgnoredError)) throw error;
      // The server does not do ranges: one stream for the whole shard, from its first byte.
      if (!this.#streaming.has(shardIndex)) {
        this.#streaming.add(shardIndex);
        await this.#runJob({ kind: 'stream', shard: shardIndex });
      }
    }
  }

  /** In stream mode, chunks count as done once the stream has written past their end. */
  #streamProgress(shard: number, written: number, key: string): void {
    let counted = 0;
    for (const chunk of this.#shardChunks[shard]!) {
      if (chunk.end > written) break;
      this.#markDone(chunk, true);
      counted = chunk.end;
    }
    if (this.#inflight.has(key)) this.#inflight.set(key, written - counted);
  }
}

