/**
 * Page-aligned 1 MiB write batches, so that the `.part` file can be written with O_DIRECT (see part-file.ts), which
 * needs the memory, the file offset and the length aligned. JavaScript cannot ask for aligned memory, but a
 * WebAssembly.Memory is page-aligned: one of SLOTS MiB is made on first use and cut into batches. Its pages are
 * touched only when a batch is used, and a batch given back is the next one taken, so the resident part is the most
 * batches in use at once (2 per connection). When the slab cannot be made or every slot is taken, a batch is a plain
 * Buffer, which part-file.ts writes through the page cache.
 */
export const BATCH = 1024 * 1024;
/** The alignment O_DIRECT is given: the page size, which is also every common filesystem's block size. */
export const ALIGN = 4096;
/** 2 batches for each of 64 connections. */
const SLOTS = 128;

/** The part of the WebAssembly API used here (the project's TypeScript libs do not declare it). */
declare const WebAssembly: { Memory: new (pages: { initial: number; maximum: number }) => { buffer: ArrayBuffer } };

let slab: ArrayBuffer | null | undefined;
const free: number[] = [];

function slabBuffer(): ArrayBuffer | null {
  if (slab === undefined) {
    try {
      slab = new WebAssembly.Memory({ initial: (SLOTS * BATCH) / 65536, maximum: (SLOTS * BATCH) / 65536 }).buffer;
      for (let slot = SLOTS - 1; slot >= 0; slot--) free.push(slot);
    } catch {
      slab = null;
    }
  }
  return slab ?? null;
}

/** A batch of BATCH bytes: page-aligned when one is free, else a plain Buffer. */
export function takeBatch(): Buffer {
  const memory = slabBuffer();
  const slot = memory ? free.pop() : undefined;
  return memory && slot !== undefined ? Buffer.from(memory, slot * BATCH, BATCH) : Buffer.allocUnsafe(BATCH);
}

/** Gives a batch back (one from takeBatch, no longer written to or read from). */
export function giveBatch(batch: Buffer): void {
  if (slab && batch.buffer === slab) free.push(batch.byteOffset / BATCH);
}

/** Whether `buffer[index]` lies at an address that is `position` modulo ALIGN: the condition for writing it direct. */
export function alignedLike(buffer: Uint8Array, index: number, position: number): boolean {
  return slab != null && buffer.buffer === slab && (buffer.byteOffset + index - position) % ALIGN === 0;
}
