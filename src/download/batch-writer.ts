import type { FileHandle } from 'node:fs/promises';

const BATCH = 1024 * 1024;

/**
 * The one write batcher of both read paths (the lean socket path and the undici stream): copies incoming bytes into
 * two alternating batches of up to 1 MiB and writes each one, in order, at its place in the file, so one batch
 * fills while the other is written (few syscalls, bounded memory per connection). The caller asks `roomFor(n)`
 * before taking a read of up to n bytes (the bytes of a lean read are only valid during its callback) and stops
 * reading while there is none, or awaits `room(n)`.
 */
export class BatchWriter {
  readonly #file: Pick<FileHandle, 'write'>;
  readonly #batches: Buffer[];
  readonly #busy = [false, false];
  readonly #onWritten: (bytes: number) => void;
  #offset: number;
  #remaining: number;
  #filling = 0;
  #filled = 0;
  #writes: Promise<void> = Promise.resolve();
  readonly #inFlight = new Set<Promise<void>>();
  #fail!: (error: unknown) => void;
  /** Rejects on the first failed write. */
  readonly failed = new Promise<never>((_, reject) => (this.#fail = reject));

  constructor(file: Pick<FileHandle, 'write'>, offset: number, total: number, onWritten: (bytes: number) => void) {
    const size = Math.max(1, Math.min(BATCH, total));
    this.#file = file;
    this.#offset = offset;
    this.#remaining = total;
    this.#batches = [Buffer.allocUnsafe(size), Buffer.allocUnsafe(size)];
    this.#onWritten = onWritten;
    this.failed.catch(() => {});
  }

  #free(index: number): number {
    if (this.#busy[index]) return 0;
    return this.#batches[index]!.length - (index === this.#filling ? this.#filled : 0);
  }

  /** Whether `bytes` more can be taken now without touching a batch that is being written. */
  roomFor(bytes: number): boolean {
    return this.#free(this.#filling) + this.#free(1 - this.#filling) >= bytes;
  }

  /** The most bytes one `push` can ever take: one batch. */
  get batchSize(): number {
    return this.#batches[0]!.length;
  }

  /** Resolves once `bytes` (at most `batchSize`) can be pushed; rejects if a write failed. */
  async room(bytes: number): Promise<void> {
    while (!this.roomFor(bytes)) {
      if (this.#inFlight.size === 0) throw new RangeError('BatchWriter: no room for these bytes');
      await Promise.race(this.#inFlight);
    }
  }

  /** Takes bytes (copied; there must be room for them); a batch that is full, or holds the last bytes, is written. */
  push(bytes: Uint8Array): void {
    if (!this.roomFor(bytes.length) || bytes.length > this.#remaining) throw new RangeError('BatchWriter: no room for these bytes');
    for (let at = 0; at < bytes.length; ) {
      const batch = this.#batches[this.#filling]!;
      const take = Math.min(bytes.length - at, batch.length - this.#filled);
      batch.set(bytes.subarray(at, at + take), this.#filled);
      this.#filled += take;
      this.#remaining -= take;
      at += take;
      if (this.#filled === batch.length || this.#remaining === 0) this.#flush();
    }
  }

  /** Resolves once every batch handed over has been written; rejects if a write failed. */
  drained(): Promise<void> {
    return this.#writes;
  }

  #flush(): void {
    const index = this.#filling;
    const batch = this.#batches[index]!;
    const length = this.#filled;
    const at = this.#offset;
    this.#offset += length;
    this.#busy[index] = true;
    this.#filling = 1 - index;
    this.#filled = 0;
    const write = (this.#writes = this.#writes.then(async () => {
      for (let done = 0; done < length; ) {
        const { bytesWritten } = await this.#file.write(batch, done, length - done, at + done);
        if (bytesWritten <= 0) throw new Error('write returned 0 bytes');
        done += bytesWritten;
      }
      this.#busy[index] = false;
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
