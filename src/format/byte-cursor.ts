/**
 * A forward-reading little-endian cursor over a RandomAccessSource. It reads ahead in a window that doubles on each
 * refill (so a remote GGUF header costs a handful of Range requests, not thousands), keeps only the unread part of
 * the window in memory, and checks every length against the bytes that are actually left, so a corrupt count or
 * length fails at once instead of allocating or looping.
 */
import { FormatError } from '../errors.js';
import type { RandomAccessSource } from './source.js';

export interface CursorOptions {
  /** First read-ahead window. @default 256 KiB */
  initialWindow?: number;
  /** Largest read-ahead window. @default 16 MiB */
  maxWindow?: number;
}

const decoder = new TextDecoder('utf-8', { fatal: false });

export class ByteCursor {
  private buffer = new Uint8Array(0);
  private view = new DataView(this.buffer.buffer);
  /** Absolute offset of buffer[0]. */
  private bufferStart: number;
  private window: number;
  private readonly maxWindow: number;
  /** Absolute offset of the next byte to read. */
  position: number;

  constructor(
    readonly source: RandomAccessSource,
    start: number,
    options: CursorOptions = {},
  ) {
    this.position = start;
    this.bufferStart = start;
    this.window = options.initialWindow ?? 256 * 1024;
    this.maxWindow = Math.max(options.maxWindow ?? 16 * 1024 * 1024, this.window);
  }

  /** Bytes left between the cursor and the end of the source. */
  get remaining(): number {
    return this.source.size - this.position;
  }

  private get bufferEnd(): number {
    return this.bufferStart + this.buffer.length;
  }

  /** Makes bytes [position, position + n) available in the buffer. */
  async need(n: number, what: string): Promise<void> {
    if (this.position + n <= this.bufferEnd && this.position >= this.bufferStart) return;
    if (n > this.remaining) {
      throw new FormatError(
        `${this.source.description} is truncated or corrupt: ${what} needs ${n} bytes at offset ${this.position} ` +
          `but only ${Math.max(0, this.remaining)} remain.`,
      );
    }
    const keepFrom = this.position >= this.bufferStart && this.position < this.bufferEnd ? this.position : -1;
    const kept = keepFrom >= 0 ? this.buffer.subarray(keepFrom - this.bufferStart) : new Uint8Array(0);
    const readFrom = this.position + kept.length;
    const readLength = Math.min(this.source.size - readFrom, Math.max(n - kept.length, this.window));
    const fresh = await this.source.read(readFrom, readLength);
    this.window = Math.min(this.window * 2, this.maxWindow);
    const next = new Uint8Array(kept.length + fresh.length);
    next.set(kept, 0);
    next.set(fresh, kept.length);
    this.buffer = next;
    this.view = new DataView(next.buffer, next.byteOffset, next.byteLength);
    this.bufferStart = this.position;
  }

  /** Moves forward without reading (bounded by the source's size). */
  skip(n: number, what: string): void {
    if (!Number.isSafeInteger(n) || n < 0 || n > this.remaining) {
      throw new FormatError(
        `${this.source.description} is truncated or corrupt: ${what} claims ${n} bytes at offset ${this.position} ` +
          `but only ${Math.max(0, this.remaining)} remain.`,
      );
    }
    this.position += n;
  }

  private at(n: number): number {
    const index = this.position - this.bufferStart;
    this.position += n;
    return index;
  }

  async u8(what: string): Promise<number> {
    await this.need(1, what);
    return this.view.getUint8(this.at(1));
  }
  async i8(what: string): Promise<number> {
    await this.need(1, what);
    return this.view.getInt8(this.at(1));
  }
  async u16(what: string): Promise<number> {
    await this.need(2, what);
    return this.view.getUint16(this.at(2), true);
  }
  async i16(what: string): Promise<number> {
    await this.need(2, what);
    return this.view.getInt16(this.at(2), true);
  }
  async u32(what: string): Promise<number> {
    await this.need(4, what);
    return this.view.getUint32(this.at(4), true);
  }
  async i32(what: string): Promise<number> {
    await this.need(4, what);
    return this.view.getInt32(this.at(4), true);
  }
  async f32(what: string): Promise<number> {
    await this.need(4, what);
    return this.view.getFloat32(this.at(4), true);
  }
  async f64(what: string): Promise<number> {
    await this.need(8, what);
    return this.view.getFloat64(this.at(8), true);
  }
  async u64(what: string): Promise<bigint> {
    await this.need(8, what);
    return this.view.getBigUint64(this.at(8), true);
  }
  async i64(what: string): Promise<bigint> {
    await this.need(8, what);
    return this.view.getBigInt64(this.at(8), true);
  }

  /** A u64 that must also be a count or length that fits in what is left of the source. */
  async length(what: string, minBytesEach = 1): Promise<number> {
    const value = await this.u64(what);
    const limit = BigInt(Math.floor(Math.max(0, this.remaining) / Math.max(1, minBytesEach)));
    if (value > limit) {
      throw new FormatError(
        `${this.source.description} is corrupt: ${what} is ${value}, more than the ${this.remaining} bytes left ` +
          `at offset ${this.position} could hold.`,
      );
    }
    return Number(value);
  }

  /** Skips `count` length-prefixed strings (a vocabulary), awaiting only when the window needs a refill. */
  async skipStrings(count: number, what: string): Promise<void> {
    for (let i = 0; i < count; i++) {
      if (this.position < this.bufferStart || this.position + 8 > this.bufferEnd) await this.need(8, what);
      const length = this.view.getBigUint64(this.position - this.bufferStart, true);
      this.position += 8;
      if (length > BigInt(Math.max(0, this.remaining))) {
        throw new FormatError(
          `${this.source.description} is corrupt: item ${i} of ${what} claims ${length} bytes at offset ` +
            `${this.position - 8} but only ${Math.max(0, this.remaining)} remain.`,
        );
      }
      this.position += Number(length);
    }
  }

  async bytes(n: number, what: string): Promise<Uint8Array> {
    await this.need(n, what);
    const index = this.at(n);
    return this.buffer.subarray(index, index + n);
  }

  async string(n: number, what: string): Promise<string> {
    return decoder.decode(await this.bytes(n, what));
  }
}
