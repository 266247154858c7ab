import { ALIGN, giveBatch, takeBatch } from './aligned-batches.js';

/** What a BatchWriter writes to: a PartFile, which writes whole pages direct (or anything with a positioned write). */
export interface BatchTarget {
  write(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesWritten: number }>;
}

/** Writes all `length` bytes of `buffer` from `offset` at `position`, however many calls that takes. */
export async function writeAll(file: BatchTarget, buffer: Uint8Array, offset: number, length: number, position: number): Promise<void> {
  for (let done = 0; done < length; ) {
    const { bytesWritten } = await file.write(buffer, offset + done, length - done, position + done);
    if (bytesWritten <= 0) throw new Error('write returned 0 bytes');
    done += bytesWritten;
  }
}

/**
 * Bytes pushed while both batches are full are held, in order, until a write frees one. A TCP socket stops reading
 * when told to, but TLS still hands over every record it has decrypted (16 KiB each), so a few may come; more than
 * this is a protocol error.
 */
const HOLD_MAX = 1024 * 1024;

/**
 * The last write queued on each file. Writes to one file go one at a time: the kernel takes the file's lock for each
 * buffered write anyway, so concurrent ones only spin on it (measured: ~3 % of a pull's CPU), and the thread pool
 * stays free for the hasher's reads and the flushes.
 */
const lastWrite = new WeakMap<object, Promise<unknown>>();

function serialWrite(file: BatchTarget, write: () => Promise<void>): Promise<void> {
  const run = (lastWrite.get(file) ?? Promise.resolve()).then(write, write);
  lastWrite.set(file, run.catch(() => {}));
  return run;
}

/**
 * The one write batcher of both read paths (the lean socket path and the undici stream): copies incoming bytes into
 * two alternating batches of up to 1 MiB and writes each one, in order, at its place in the file, so one batch
 * fills while the other is written (few syscalls, bounded memory per connection). The batches are page-aligned
 * (aligned-batches.ts) and the bytes sit in them at their file offset modulo the page size, the first batch of a
 * range starting part-way in, so every batch but the edges of a range is whole pages that PartFile writes direct.
 * The caller asks `roomFor(n)` before taking a read of up to n bytes and stops reading while there is none, or
 * awaits `room(n)`; a push that comes anyway is held (HOLD_MAX).
 */
export class BatchWriter {
  readonly #file: BatchTarget;
  readonly #batches: Buffer[];
  readonly #busy = [false, false];
  readonly #onWritten: (bytes: number) => void;
  #offset: number;
  #remaining: number;
  #filling = 0;
  /** Where the filling batch's bytes start in it: its file offset modulo ALIGN. */
  #start: number;
  #filled = 0;
  readonly #held: Buffer[] = [];
  #heldBytes = 0;
  #writes: Promise<void> = Promise.resolve();
  readonly #inFlight = new Set<Promise<void>>();
  #fail!: (error: unknown) => void;
  /** Rejects on the first failed write. */
  readonly failed = new Promise<never>((_, reject) => (this.#fail = reject));

  constructor(file: BatchTarget, offset: number, total: number, onWritten: (bytes: number) => void) {
    this.#file = file;
    this.#offset = offset;
    this.#start = offset % ALIGN;
    this.#remaining = total;
    this.#batches = [takeBatch(), takeBatch()];
    this.#onWritten = onWritten;
    this.failed.catch(() => {});
  }

  /** Room left in a batch: the filling one from where its bytes end; the other starts page-aligned. */
  #free(index: number): number {
    if (this.#busy[index]) return 0;
    return this.#batches[index]!.length - (index === this.#filling ? this.#start + this.#filled : 0);
  }

  #fits(bytes: number): boolean {
    return this.#free(this.#filling) + this.#free(1 - this.#filling) >= bytes;
  }

  /** Whether `bytes` more can be taken now without touching a batch that is being written (and nothing is held). */
  roomFor(bytes: number): boolean {
    return this.#held.length === 0 && this.#fits(bytes);
  }

  /** The most bytes one `push` can always take: one batch, less the first batch's offset into its page. */
  get batchSize(): number {
    return this.#batches[0]!.length - ALIGN;
  }

  /** Resolves once `bytes` (at most `batchSize`) can be pushed; rejects if a write failed. */
  async room(bytes: number): Promise<void> {
    while (!this.roomFor(bytes)) {
      if (this.#inFlight.size === 0) throw new RangeError('BatchWriter: no room for these bytes');
      await Promise.race(this.#inFlight);
    }
  }

  /**
   * Where up to `max` bytes may be read directly (no copy): the free end of the batch being filled, or undefined
   * while that batch is being written. The bytes read there are handed over with `commit`; until then nothing else
   * may be pushed.
   */
  region(max: number): Buffer | undefined {
    if (this.#busy[this.#filling] || this.#held.length > 0) return undefined;
    const batch = this.#batches[this.#filling]!;
    const at = this.#start + this.#filled;
    const room = Math.min(batch.length - at, this.#remaining, max);
    return room > 0 ? batch.subarray(at, at + room) : undefined;
  }

  /** `bytes` were read into the last `region`: taken as if pushed. */
  commit(bytes: number): void {
    const batch = this.#batches[this.#filling]!;
    if (this.#busy[this.#filling] || bytes > Math.min(batch.length - this.#start - this.#filled, this.#remaining)) throw new RangeError('BatchWriter: commit beyond the region');
    this.#filled += bytes;
    this.#remaining -= bytes;
    if (this.#start + this.#filled === batch.length || this.#remaining === 0) this.#flush();
  }

  /**
   * Takes bytes (copied, or held while there is no room for them); a batch that is full, or holds the last bytes, is
   * written. Throws RangeError for bytes beyond the range or more held than HOLD_MAX.
   */
  push(bytes: Uint8Array): void {
    if (bytes.length > this.#remaining - this.#heldBytes) throw new RangeError('BatchWriter: more bytes than the range');
    if (this.roomFor(bytes.length)) return this.#copy(bytes);
    if (bytes.length > this.batchSize || this.#heldBytes + bytes.length > HOLD_MAX) throw new RangeError('BatchWriter: no room for these bytes');
    this.#held.push(Buffer.from(bytes));
    this.#heldBytes += bytes.length;
  }

  #copy(bytes: Uint8Array): void {
    for (let at = 0; at < bytes.length; ) {
      const batch = this.#batches[this.#filling]!;
      const take = Math.min(bytes.length - at, batch.length - this.#start - this.#filled);
      batch.set(bytes.subarray(at, at + take), this.#start + this.#filled);
      this.#filled += take;
      this.#remaining -= take;
      at += take;
      if (this.#start + this.#filled === batch.length || this.#remaining === 0) this.#flush();
    }
  }

  /** Resolves once every byte handed over (held ones too) has been written; rejects if a write failed. */
  async drained(): Promise<void> {
    for (let writes = this.#writes; ; writes = this.#writes) {
      await writes;
      if (writes === this.#writes) return;
    }
  }

  /**
   * Gives the batches back for other ranges, once drained and when nothing can read into them any more (no
   * `region` in use); the writer is not used after this.
   */
  release(): void {
    for (const batch of this.#batches.splice(0)) giveBatch(batch);
  }

  #flush(): void {
    const index = this.#filling;
    const batch = this.#batches[index]!;
    const from = this.#start;
    const length = this.#filled;
    const at = this.#offset;
    this.#offset += length;
    this.#busy[index] = true;
    this.#filling = 1 - index;
    this.#start = this.#offset % ALIGN;
    this.#filled = 0;
    const write = (this.#writes = this.#writes.then(async () => {
      await serialWrite(this.#file, () => writeAll(this.#file, batch, from, length, at));
      this.#busy[index] = false;
      while (this.#held.length > 0 && this.#fits(this.#held[0]!.length)) {
        const held = this.#held.shift()!;
        this.#heldBytes -= held.length;
        this.#copy(held);
      }
      this.#onWritten(length);
    }));
    this.#inFlight.add(write);
    const settled = () => void this.#inFlight.delete(write);
    write.then(settled, (error: unknown) => {
      settled();
      this.#fail(error);
    });
  }
}
