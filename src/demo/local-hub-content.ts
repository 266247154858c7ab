import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';

/** A file the local hub serves: bytes in memory, a file on disk (served with ranges, never loaded whole), or a
 * deterministic generated pattern of any size. */
export type LocalFileSpec =
  | string
  | Uint8Array
  | { content: string | Uint8Array }
  | { path: string; sha256?: string }
  | { size: number; seed?: number; sha256?: string };

export interface LocalFile {
  size: number;
  sha256: string;
  /** Bytes [start, end) in pieces of at most 1 MiB; the pieces are read-only views. */
  read(start: number, end: number): AsyncIterable<Buffer>;
}

const PIECE = 1024 * 1024;
/** Not a power of two, so a chunk written at a wrong offset changes the file's hash. */
const PERIOD = 1024 * 1024 + 7;
const patterns = new Map<number, Buffer>();

function pattern(seed: number): Buffer {
  let block = patterns.get(seed);
  if (!block) {
    block = Buffer.allocUnsafe(PERIOD + PIECE);
    let x = (seed * 2654435761) >>> 0 || 0x9e3779b9;
    for (let i = 0; i < block.length; i++) {
      x ^= x << 13;
      x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5;
      x >>>= 0;
      block[i] = x & 0xff;
    }
    // The tail repeats the head so any window of PIECE bytes is one slice.
    block.copy(block, PERIOD, 0, PIECE);
    patterns.set(seed, block);
  }
  return block;
}

/** The generated content of a `{ size, seed }` file, for tests that want to compare bytes. */
export function generatedBytes(seed: number, start: number, end: number): Buffer {
  const out = Buffer.allocUnsafe(end - start);
  const block = pattern(seed);
  for (let at = start; at < end; ) {
    const n = Math.min(PIECE, end - at);
    block.copy(out, at - start, at % PERIOD, (at % PERIOD) + n);
    at += n;
  }
  return out;
}

async function* generate(seed: number, start: number, end: number): AsyncIterable<Buffer> {
  const block = pattern(seed);
  for (let at = start; at < end; ) {
    const n = Math.min(PIECE, end - at);
    // A view, not a copy: consumers must copy before modifying (corruption faults do).
    yield block.subarray(at % PERIOD, (at % PERIOD) + n);
    at += n;
  }
}

async function hashOf(read: (start: number, end: number) => AsyncIterable<Buffer>, size: number): Promise<string> {
  const hash = createHash('sha256');
  for await (const piece of read(0, size)) hash.update(piece);
  return hash.digest('hex');
}

export async function loadFile(spec: LocalFileSpec): Promise<LocalFile> {
  if (typeof spec === 'string' || spec instanceof Uint8Array || 'content' in spec) {
    const raw = typeof spec === 'string' || spec instanceof Uint8Array ? spec : spec.content;
    const bytes = Buffer.from(raw);
    return {
      size: bytes.length,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      async *read(start, end) {
        for (let at = start; at < end; at += PIECE) yield bytes.subarray(at, Math.min(end, at + PIECE));
      },
    };
  }
  if ('path' in spec) {
    const { size } = await stat(spec.path);
    const read = (start: number, end: number): AsyncIterable<Buffer> =>
      end <= start ? (async function* () {})() : createReadStream(spec.path, { start, end: end - 1, highWaterMark: PIECE });
    return { size, sha256: spec.sha256 ?? (await hashOf(read, size)), read };
  }
  const seed = spec.seed ?? 1;
  const read = (start: number, end: number) => generate(seed, start, end);
  return { size: spec.size, sha256: spec.sha256 ?? (await hashOf(read, spec.size)), read };
}
