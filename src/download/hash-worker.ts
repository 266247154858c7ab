import { Worker } from 'node:worker_threads';
import { BATCH } from './aligned-batches.js';

/** Bytes of one piece in the stage: one write batch. */
const PIECE = BATCH;
/**
 * How many written batches the stage holds for the worker to hash from memory: 32 MiB, touched only as used. With
 * the shards fetched side by side on chunks of at most 8 MiB (store/chunk-plan.ts), most bytes reach their shard's
 * hash position while still staged; the rest are read back from the disk.
 */
const STAGE_PIECES = 32;

/**
 * The worker's code, inline so it runs the same from `dist/` and from the TypeScript sources under test. It keeps
 * one sha256 per shard and answers `digest` once a shard is whole. Hashing off the main thread keeps the sockets
 * drained while it runs.
 *
 * Bytes come two ways. Each batch the download writes is copied into the stage (shared memory) while the write runs,
 * and named in a `written` message once it is on disk; a staged piece is hashed when the shard's hash position
 * reaches it, with no read-back. Bytes with no staged piece are read back from the `.part` file once they are below
 * the frontier it is told about (whole chunks on disk). Reads use O_DIRECT, in whole pages into page-aligned memory
 * (a WebAssembly.Memory): the download wrote most pages past the page cache (part-file.ts), and a read through the
 * cache would cost what that write saved. O_DIRECT reads any page still in the cache from there first. Where
 * O_DIRECT is refused, it reads through the page cache.
 *
 * Staged pieces may be hashed past the frontier, in chunks still being fetched. A write at bytes already hashed (a
 * chunk retried from its start) rewinds the hash to where it stood before the first byte past the frontier (a copy
 * kept then), so the hash is always of the bytes the file holds.
 */
const WORKER_SOURCE = `(async () => {
  const { parentPort, workerData } = await import('node:worker_threads');
  const { createHash } = await import('node:crypto');
  const { openSync, readSync, closeSync, constants } = await import('node:fs');
  const ALIGN = 4096, READ = 4 * 1024 * 1024, PIECE = ${PIECE};
  const stage = Buffer.from(workerData.stage);
  const taken = new Int32Array(workerData.taken);
  let fd, buffer, direct = false;
  try {
    buffer = Buffer.from(new WebAssembly.Memory({ initial: 65, maximum: 65 }).buffer, 0, READ + ALIGN);
    fd = openSync(workerData.path, constants.O_RDONLY | constants.O_DIRECT);
    direct = true;
  } catch {
    buffer ??= Buffer.allocUnsafe(READ);
    fd = openSync(workerData.path, 'r');
  }
  const cached = () => {
    closeSync(fd);
    fd = openSync(workerData.path, 'r');
    direct = false;
  };
  /** Reads up to n bytes at position into buffer; returns [from, count]: they lie at buffer[from, from + count). */
  const read = (position, n) => {
    if (direct) {
      const skip = position % ALIGN;
      try {
        const got = readSync(fd, buffer, 0, Math.ceil((skip + n) / ALIGN) * ALIGN, position - skip);
        return [skip, Math.min(n, got - skip)];
      } catch (error) {
        if (!error || error.code !== 'EINVAL') throw error;
        cached();
      }
    }
    return [0, readSync(fd, buffer, 0, n, position)];
  };
  const shards = new Map();
  const state = (m) => {
    let s = shards.get(m.shard);
    if (!s) {
      const hash = createHash('sha256');
      s = { hash, hashed: 0, safe: { hash: hash.copy(), at: 0 }, frontier: 0, offset: m.offset, size: m.size, pieces: new Map(), waiting: false, error: undefined };
      shards.set(m.shard, s);
    }
    return s;
  };
  const free = (s, at) => {
    Atomics.store(taken, s.pieces.get(at).slot, 0);
    s.pieces.delete(at);
  };
  /**
   * Back to the last checkpoint at or below \`at\`: the hash as it was at a position every byte below which lay in
   * whole chunks (below the frontier), which are never written again.
   */
  const rewind = (s, at) => {
    if (at < s.safe.at) s.safe = { hash: createHash('sha256'), at: 0 };
    s.hash = s.safe.hash.copy();
    s.hashed = s.safe.at;
  };
  /** A written batch: a rewrite of hashed bytes rewinds the hash; a staged one replaces the pieces it overlaps. */
  const written = (s, at, length, slot) => {
    if (at < s.hashed) rewind(s, at);
    for (const [other, piece] of s.pieces) if (other < at + length && at < other + piece.length) free(s, other);
    if (slot >= 0) s.pieces.set(at, { slot, length });
  };
  /** Where the next piece after the hash position starts (disk reads stop there), else the frontier. */
  const nextPiece = (s) => {
    let next = s.frontier;
    for (const at of s.pieces.keys()) if (at > s.hashed && at < next) next = at;
    return next;
  };
  const settle = (shard, s) => {
    while (!s.error) {
      try {
        const piece = s.pieces.get(s.hashed);
        if (piece) {
          // Into bytes past the frontier, which a retried chunk may write again: keep where the hash stood before them.
          if (s.hashed <= s.frontier && s.hashed + piece.length > s.frontier && s.hashed > s.safe.at) s.safe = { hash: s.hash.copy(), at: s.hashed };
          const at = piece.slot * PIECE;
          s.hash.update(stage.subarray(at, at + piece.length));
          free(s, s.hashed);
          s.hashed += piece.length;
          continue;
        }
        const until = nextPiece(s);
        if (s.hashed >= until) break;
        const [from, n] = read(s.offset + s.hashed, Math.min(READ, until - s.hashed));
        if (n <= 0) throw new Error('short read while hashing');
        s.hash.update(buffer.subarray(from, from + n));
        s.hashed += n;
      } catch (error) {
        s.error = String(error && error.message || error);
      }
    }
    if (s.waiting && (s.error || s.hashed === s.size)) {
      s.waiting = false;
      parentPort.postMessage(s.error ? { shard, error: s.error } : { shard, sha256: s.hash.digest('hex') });
    }
  };
  parentPort.on('message', (m) => {
    if (m.type === 'close') { closeSync(fd); parentPort.close(); return; }
    if (m.type === 'reset') {
      const s = shards.get(m.shard);
      if (s) for (const at of [...s.pieces.keys()]) free(s, at);
      shards.delete(m.shard);
      return;
    }
    const s = state(m);
    if (m.type === 'written') written(s, m.at, m.length, m.slot);
    if (m.type === 'advance') s.frontier = Math.max(s.frontier, m.frontier);
    if (m.type === 'digest') { s.frontier = s.size; s.waiting = true; }
    settle(m.shard, s);
  });
})();`;

interface Reply {
  shard: number;
  sha256?: string;
  error?: string;
}

/**
 * sha256 of each shard of a `.part` file, computed in a worker thread as the download writes: from the stage where
 * bytes reach the hash position while staged, else read back behind the write frontier.
 */
export class HashWorker {
  readonly #worker: Worker;
  readonly #stage = Buffer.from(new SharedArrayBuffer(STAGE_PIECES * PIECE));
  /** 1 where a stage slot holds a piece the worker has not hashed yet. */
  readonly #taken = new Int32Array(new SharedArrayBuffer(STAGE_PIECES * 4));
  readonly #waiting = new Map<number, { resolve: (sha: string) => void; reject: (error: Error) => void }>();
  readonly #layout: { offset: number; size: number }[];
  #failure: Error | undefined;

  constructor(path: string, layout: { offset: number; size: number }[]) {
    this.#layout = layout;
    this.#worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { path, stage: this.#stage.buffer, taken: this.#taken.buffer } });
    this.#worker.unref();
    this.#worker.on('message', (reply: Reply) => {
      const waiter = this.#waiting.get(reply.shard);
      this.#waiting.delete(reply.shard);
      if (reply.error !== undefined) waiter?.reject(new Error(`hashing shard ${reply.shard} failed: ${reply.error}`));
      else waiter?.resolve(reply.sha256!);
    });
    this.#worker.on('error', (error) => {
      this.#failure = error;
      for (const waiter of this.#waiting.values()) waiter.reject(error);
      this.#waiting.clear();
    });
  }

  #post(type: 'advance' | 'digest' | 'reset' | 'written', shard: number, fields: { frontier?: number; at?: number; length?: number; slot?: number } = {}): void {
    const { offset, size } = this.#layout[shard]!;
    this.#worker.postMessage({ type, shard, offset, size, ...fields });
  }

  /**
   * Copies `bytes` (about to be written at `position` in the file) into a free stage slot, for hashing from memory;
   * -1 when none is free or they are more than a slot holds. Called while the write runs, so the copy is off its path.
   */
  stage(bytes: Uint8Array): number {
    const slot = bytes.length <= PIECE ? this.#freeSlot() : -1;
    if (slot >= 0) this.#stage.set(bytes, slot * PIECE);
    return slot;
  }

  /** Frees a slot `stage` gave (its bytes will not be named in `written`); -1. */
  unstage(slot: number): -1 {
    if (slot >= 0) Atomics.store(this.#taken, slot, 0);
    return -1;
  }

  /**
   * `length` bytes were written at `position` (staged in `slot`, or -1): told to the worker, which hashes a staged
   * piece when it reaches it and sees a rewrite of bytes it already hashed. A slot is only used for bytes that lie
   * in one shard; otherwise it is freed.
   */
  written(position: number, length: number, slot: number): void {
    let used = false;
    for (const [shard, { offset, size }] of this.#layout.entries()) {
      if (offset >= position + length) break;
      const from = Math.max(position, offset);
      const to = Math.min(position + length, offset + size);
      if (from >= to) continue;
      const whole = from === position && to === position + length;
      used ||= whole && slot >= 0;
      this.#post('written', shard, { at: from - offset, length: to - from, slot: whole ? slot : -1 });
    }
    if (!used) this.unstage(slot);
  }

  /** The lowest free slot, so that the pages touched are only as many as were ever in use at once. */
  #freeSlot(): number {
    for (let slot = 0; slot < STAGE_PIECES; slot++) if (Atomics.compareExchange(this.#taken, slot, 0, 1) === 0) return slot;
    return -1;
  }

  /** Bytes [0, frontier) of the shard are on disk. */
  advance(shard: number, frontier: number): void {
    this.#post('advance', shard, { frontier });
  }

  /** The shard's sha256, once every byte has been hashed. */
  digest(shard: number): Promise<string> {
    if (this.#failure) return Promise.reject(this.#failure);
    const result = new Promise<string>((resolve, reject) => this.#waiting.set(shard, { resolve, reject }));
    this.#post('digest', shard);
    return result;
  }

  /** Forget the shard's hash (it is being fetched again). */
  reset(shard: number): void {
    this.#post('reset', shard);
  }

  async close(): Promise<void> {
    await this.#worker.terminate();
  }
}
