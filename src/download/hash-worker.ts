import { Worker } from 'node:worker_threads';

/**
 * The worker's code, inline so it runs the same from `dist/` and from the TypeScript sources under test. It keeps
 * one sha256 per shard, reads the `.part` file itself up to the frontier it is told about, and answers `digest` once
 * a shard is whole. Hashing off the main thread keeps the sockets drained while it runs. It reads with O_DIRECT, in
 * whole pages into page-aligned memory (a WebAssembly.Memory): the download wrote most pages past the page cache
 * (part-file.ts), and a read through the cache would cost what that write saved. O_DIRECT reads any page still in
 * the cache from there first. Where O_DIRECT is refused, it reads through the page cache.
 */
const WORKER_SOURCE = `(async () => {
  const { parentPort, workerData } = await import('node:worker_threads');
  const { createHash } = await import('node:crypto');
  const { openSync, readSync, closeSync, constants } = await import('node:fs');
  const ALIGN = 4096, READ = 4 * 1024 * 1024;
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
    if (!s) shards.set(m.shard, (s = { hash: createHash('sha256'), hashed: 0, frontier: 0, offset: m.offset, size: m.size, waiting: false, error: undefined }));
    return s;
  };
  const settle = (shard, s) => {
    while (!s.error && s.hashed < s.frontier) {
      try {
        const [from, n] = read(s.offset + s.hashed, Math.min(READ, s.frontier - s.hashed));
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
