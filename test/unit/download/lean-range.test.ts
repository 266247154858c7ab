/**
 * The lean ranged GET against real HTTP and HTTPS servers on 127.0.0.1 (node:http / node:https, answering Range
 * the way a CDN does): bytes land at their offsets, sockets are kept alive and reused, a slow disk pauses the socket
 * without losing a byte, and any answer but a plain 206 comes back as a head with nothing written.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, open, readFile, rm, type FileHandle } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BatchWriter } from '../../../src/download/batch-writer.js';
import { LeanPool, LeanRangeError, type LeanFetch } from '../../../src/download/lean-range.js';

const fixture = (name: string) => readFileSync(new URL(`../../fixtures/tls/${name}`, import.meta.url));
const CONTENT = Buffer.from(Array.from({ length: 3 * 1024 * 1024 + 11 }, (_, i) => (i * 2654435761) >>> 24));

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** Serves CONTENT with Range as a CDN does, unless `override` answers first. Counts connections. */
function rangeServer(override?: (req: IncomingMessage, res: ServerResponse) => boolean): Handler {
  return (req, res) => {
    if (override?.(req, res)) return;
    const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
    if (!m) return void res.writeHead(200, { 'content-length': CONTENT.length }).end(CONTENT);
    const [from, to] = [Number(m[1]), Number(m[2])];
    res.writeHead(206, { 'content-length': to - from + 1, 'content-range': `bytes ${from}-${to}/${CONTENT.length}`, 'content-type': 'application/octet-stream' });
    res.end(CONTENT.subarray(from, to + 1));
  };
}

let dir: string;
let server: Server;
let origin: string;
let connections: number;
let pool: LeanPool;
const sockets = new Set<Socket>();

async function listen(handler: Handler, tls = false): Promise<void> {
  server = tls ? createHttpsServer({ key: fixture('key.pem'), cert: fixture('cert.pem') }, handler) : createHttpServer(handler);
  server.on('connection', (socket: Socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `${tls ? 'https' : 'http'}://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'llamactl-lean-'));
  connections = 0;
  pool = new LeanPool({ ca: fixture('cert.pem') });
});
afterEach(async () => {
  pool.close();
  for (const socket of sockets) socket.destroy();
  await new Promise((resolve) => server?.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

async function fetchAll(file: FileHandle, ranges: [number, number][], extra: Partial<LeanFetch> = {}) {
  const outcomes = [];
  for (const [start, end] of ranges) {
    outcomes.push(await pool.fetch({
      url: new URL(`${origin}/model.bin`), start, end, total: CONTENT.length, file, offset: start, headers: {},
      signal: new AbortController().signal, onData: () => {}, onBytes: () => {}, ...extra,
    }));
  }
  return outcomes;
}

const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

describe.each([false, true])('lean ranged GET (https: %s)', (tls) => {
  it('writes each range at its offset and reuses one kept-alive socket', async () => {
    await listen(rangeServer(), tls);
    const file = await open(join(dir, 'out'), 'w+');
    const third = Math.floor(CONTENT.length / 3);
    // Out of order, one byte, a tail of 11: all at their offsets.
    const outcomes = await fetchAll(file, [[third, 2 * third], [0, 1], [1, third], [2 * third, CONTENT.length]]);
    await file.close();
    expect(outcomes).toEqual(['done', 'done', 'done', 'done']);
    expect(sha(await readFile(join(dir, 'out')))).toBe(sha(CONTENT));
    expect(connections).toBe(1);
  });

  it('pauses the socket while the disk is slow and loses no byte', async () => {
    await listen(rangeServer(), tls);
    const real = await open(join(dir, 'out'), 'w+');
    let writes = 0;
    const slow = {
      write: async (buffer: Buffer, offset: number, length: number, position: number) => {
        writes++;
        await new Promise((resolve) => setTimeout(resolve, 20));
        return real.write(buffer, offset, length, position);
      },
    } as unknown as FileHandle;
    let reported = 0;
    await fetchAll(slow, [[0, CONTENT.length]], { onBytes: (n) => (reported += n) });
    await real.close();
    expect(sha(await readFile(join(dir, 'out')))).toBe(sha(CONTENT));
    expect(reported).toBe(CONTENT.length);
    expect(writes).toBe(Math.ceil(CONTENT.length / (1024 * 1024)));
  });

  it('a slow disk at an unaligned offset: every byte in order, three ranges in a row (reads that come while paused are kept)', async () => {
    await listen(rangeServer(), tls);
    const real = await open(join(dir, 'out'), 'w+');
    // Writes slow enough that both batches are full often, at an offset that is not page-aligned.
    const slow = {
      write: async (buffer: Buffer, offset: number, length: number, position: number) => {
        await new Promise((resolve) => setTimeout(resolve, 60));
        return real.write(buffer, offset, length, position - 777);
      },
    } as unknown as FileHandle;
    for (let round = 0; round < 3; round++) {
      await fetchAll(slow, [[0, CONTENT.length]], { offset: 777 });
      expect(sha(await readFile(join(dir, 'out')))).toBe(sha(CONTENT));
    }
    await real.close();
  });
});

describe('lean ranged GET: answers it does not read', () => {
  it.each([
    ['an error status', (res: ServerResponse) => res.writeHead(503, { 'retry-after': '2' }).end('busy'), 503],
    ['a server that ignores Range', (res: ServerResponse) => res.writeHead(200, { 'content-length': 5 }).end('whole'), 200],
    ['a chunked 206', (res: ServerResponse) => {
      res.writeHead(206, { 'content-range': `bytes 0-9/${CONTENT.length}` });
      res.end(CONTENT.subarray(0, 10));
    }, 206],
    ['a redirect', (res: ServerResponse) => res.writeHead(302, { location: '/elsewhere' }).end(), 302],
    ['a range of a file of another size', (res: ServerResponse) => res.writeHead(206, { 'content-length': 10, 'content-range': 'bytes 0-9/999' }).end('0123456789'), 206],
    ['a web page', (res: ServerResponse) => res.writeHead(206, { 'content-type': 'text/html', 'content-length': 10, 'content-range': `bytes 0-9/${CONTENT.length}` }).end('<html></h>'), 206],
  ])('%s: the head comes back and nothing is written', async (_, answer, status) => {
    await listen(rangeServer((_req, res) => (answer(res), true)));
    const file = await open(join(dir, 'out'), 'w+');
    const [outcome] = await fetchAll(file, [[0, 10]]);
    await file.close();
    expect(outcome).toMatchObject({ status });
    expect((await readFile(join(dir, 'out'))).length).toBe(0);
  });

  it('a kept-alive socket the server closed meanwhile is replaced without an error', async () => {
    await listen(rangeServer());
    const file = await open(join(dir, 'out'), 'w+');
    await fetchAll(file, [[0, 100]]);
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await fetchAll(file, [[100, 200]])).toEqual(['done']);
    await file.close();
    expect(connections).toBe(2);
  });

  it('skips an interim 103 answer and reads the 206 after it', async () => {
    await listen(rangeServer((req, res) => {
      res.writeEarlyHints({ link: '</x>; rel=preload' });
      return false;
    }));
    const file = await open(join(dir, 'out'), 'w+');
    expect(await fetchAll(file, [[0, 1000]])).toEqual(['done']);
    await file.close();
    expect((await readFile(join(dir, 'out'))).equals(CONTENT.subarray(0, 1000))).toBe(true);
  });

  it('a TLS certificate it cannot trust fails with that reason, not as a connection blip', async () => {
    await listen(rangeServer(), true);
    const untrusting = new LeanPool();
    const file = await open(join(dir, 'out'), 'w+');
    const error = await untrusting
      .fetch({ url: new URL(`${origin}/x`), start: 0, end: 10, total: CONTENT.length, file, offset: 0, headers: {}, signal: new AbortController().signal, onData: () => {}, onBytes: () => {} })
      .catch((e: unknown) => e);
    untrusting.close();
    await file.close();
    expect(error).toBeInstanceOf(LeanRangeError);
    expect(((error as Error).cause as NodeJS.ErrnoException).code).toMatch(/SELF_SIGNED|UNABLE_TO_VERIFY/);
  });

  it('an abort while a write is pending, then a reset from the server, is one clean rejection', async () => {
    await listen(rangeServer((req, res) => {
      if (req.url !== '/hold') return false;
      res.writeHead(206, { 'content-length': 2 * 1024 * 1024, 'content-range': `bytes 0-${2 * 1024 * 1024 - 1}/${CONTENT.length}` });
      res.write(CONTENT.subarray(0, 1024 * 1024 + 5));
      setTimeout(() => res.socket?.resetAndDestroy(), 100);
      return true;
    }));
    const real = await open(join(dir, 'out'), 'w+');
    const slow = {
      write: async (buffer: Buffer, offset: number, length: number, position: number) => {
        await new Promise((resolve) => setTimeout(resolve, 300));
        return real.write(buffer, offset, length, position);
      },
    } as unknown as FileHandle;
    const controller = new AbortController();
    const pending = pool.fetch({
      url: new URL(`${origin}/hold`), start: 0, end: 2 * 1024 * 1024, total: CONTENT.length, file: slow, offset: 0, headers: {},
      signal: controller.signal, onData: () => {}, onBytes: () => {},
    });
    setTimeout(() => controller.abort(new Error('stalled')), 50);
    await expect(pending).rejects.toThrow('stalled');
    await new Promise((resolve) => setTimeout(resolve, 200)); // the reset arrives meanwhile: no uncaught error
    await real.close();
  });

  it('refuses a header value with a line break (no request smuggling through a token)', async () => {
    await listen(rangeServer());
    const file = await open(join(dir, 'out'), 'w+');
    await expect(fetchAll(file, [[0, 10]], { headers: { authorization: 'Bearer x\r\nX-Evil: 1' } })).rejects.toThrow(/characters a request cannot carry/);
    await file.close();
    expect(connections).toBe(0);
  });

  it('a body that ends early, and an abort, are errors', async () => {
    await listen(rangeServer((req, res) => {
      if (req.url !== '/short') return false;
      res.writeHead(206, { 'content-length': 100, 'content-range': `bytes 0-99/${CONTENT.length}` });
      res.write(CONTENT.subarray(0, 40), () => res.socket?.destroy());
      return true;
    }));
    const file = await open(join(dir, 'out'), 'w+');
    const short = pool.fetch({
      url: new URL(`${origin}/short`), start: 0, end: 100, total: CONTENT.length, file, offset: 0, headers: {},
      signal: new AbortController().signal, onData: () => {}, onBytes: () => {},
    });
    await expect(short).rejects.toThrow(LeanRangeError);
    await expect(short).rejects.toThrow(/ended early \(40 of 100 bytes\)/);
    const controller = new AbortController();
    controller.abort(new Error('stop'));
    await expect(fetchAll(file, [[0, 10]], { signal: controller.signal })).rejects.toThrow('stop');
    await file.close();
  });
});

describe('BatchWriter', () => {
  /** A file whose writes finish only when told to, and that checks a batch is not changed while it is written. */
  function manualFile() {
    const pending: { release: () => void; check: () => void }[] = [];
    const disk = Buffer.alloc(4 * 1024 * 1024);
    const file = {
      write(buffer: Buffer, offset: number, length: number, position: number) {
        const snapshot = Buffer.from(buffer.subarray(offset, offset + length));
        return new Promise<{ bytesWritten: number }>((resolve) => {
          pending.push({
            check: () => expect(buffer.subarray(offset, offset + length).equals(snapshot), 'a batch changed while being written').toBe(true),
            release: () => {
              snapshot.copy(disk, position);
              resolve({ bytesWritten: length });
            },
          });
        });
      },
    };
    const finishOne = async () => {
      const next = pending.shift()!;
      next.check();
      next.release();
      await new Promise((resolve) => setImmediate(resolve));
    };
    return { file, disk, pending, finishOne };
  }

  it('fills one batch while the other is written, and has no room while both are busy', async () => {
    const { file, disk, pending, finishOne } = manualFile();
    const MiB = 1024 * 1024;
    const data = CONTENT.subarray(0, 3 * MiB + 11);
    let written = 0;
    const writer = new BatchWriter(file as never, 0, data.length, (n) => (written += n));
    const tick = () => new Promise((resolve) => setImmediate(resolve));
    const piece = 512 * 1024;
    let at = 0;
    const feed = () => {
      while (at < data.length && writer.roomFor(Math.min(piece, data.length - at))) {
        writer.push(data.subarray(at, Math.min(at + piece, data.length)));
        at = Math.min(at + piece, data.length);
      }
    };
    feed();
    await tick();
    // Two full batches handed over, the first being written: no room until it is done.
    expect(at).toBe(2 * MiB);
    expect(pending).toHaveLength(1);
    expect(writer.roomFor(1)).toBe(false);
    await finishOne();
    expect(written).toBe(MiB);
    feed();
    expect(at).toBe(3 * MiB);
    while (pending.length > 0 || at < data.length) {
      await finishOne();
      feed();
    }
    await writer.drained();
    expect(written).toBe(data.length);
    expect(disk.subarray(0, data.length).equals(data)).toBe(true);
  });

  it('a failed write fails the writer', async () => {
    const writer = new BatchWriter({ write: () => Promise.reject(new Error('ENOSPC')) } as never, 0, 10, () => {});
    writer.push(Buffer.alloc(10));
    await expect(writer.failed).rejects.toThrow('ENOSPC');
    await expect(writer.drained()).rejects.toThrow('ENOSPC');
  });
});
