import { Worker } from 'node:worker_threads';

/**
 * The worker's code, inline so it runs the same from `dist/` and from the TypeScript sources under test. It keeps
 * one sha256 per shard, reads the `.part` file itself (from the page cache: the bytes were just written) up to the
 * frontier it is told about, and answers `digest` once a shard is whole. Hashing off the main thread keeps the
 * sockets drained while it runs.
 */
const WORKER_SOURCE = `(async () => {
  const { parentPort, workerData } = await import('node:worker_threads');
  const { createHash } = await import('node:crypto');
  const { openSync, readSync, closeSync } = await import('node:fs');
  const fd = openSync(workerData.path, 'r');
  const buffer = Buffer.allocUnsafe(4 * 1024 * 1024);
  const shards = new Map();
  const state = (m) => {
    let s = shards.get(m.shard);
    if (!s) shards.set(m.shard, (s = { hash: createHash('sha256'), hashed: 0, frontier: 0, offset: m.offset, size: m.size, waiting: false, error: undefined }));
    return s;
  };
  const settle = (shard, s) => {
    while (!s.error && s.hashed < s.frontier) {
      try {
        const n = readSync(fd, buffer, 0, Math.min(buffer.length, s.frontier - s.hashed), s.offset + s.hashed);
        if (n <= 0) throw new Error('short read while hashing');
        s.hash.update(buffer.subarray(0, n));
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
    if (m.type === 'reset') { shards.delete(m.shard); return; }
    const s = state(m);
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

/** sha256 of each shard of a `.part` file, computed in a worker thread behind the write frontier. */
export class HashWorker {
  readonly #worker: Worker;
  readonly #waiting = new Map<number, { resolve: (sha: string) => void; reject: (error: Error) => void }>();
  readonly #layout: { offset: number; size: number }[];
  #failure: Error | undefined;

  constructor(path: string, layout: { offset: number; size: number }[]) {
    this.#layout = layout;
    this.#worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { path } });
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

  #post(type: 'advance' | 'digest' | 'reset', shard: number, frontier = 0): void {
    const { offset, size } = this.#layout[shard]!;
    this.#worker.postMessage({ type, shard, offset, size, frontier });
  }

  /** Bytes [0, frontier) of the shard are on disk. */
  advance(shard: number, frontier: number): void {
    this.#post('advance', shard, frontier);
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
