/**
 * One ranged fetch into the `.part` file, against a real HTTP server on 127.0.0.1: the bytes land at their offset
 * (lean path and undici path alike), and every answer that cannot be the range's bytes is judged: ignored Range,
 * wrong range or size, a web page, an expired CDN URL, a short body, a stall.
 */
import { mkdtemp, open, readFile, rm, type FileHandle } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FormatError, HubError, IntegrityError } from '../../../src/errors.js';
import { LocationExpiredError, RangeIgnoredError, fetchRange, type FetchRangeOptions } from '../../../src/download/fetch-range.js';
import { LeanPool } from '../../../src/download/lean-range.js';
import { alignedLike } from '../../../src/download/aligned-batches.js';
import { BatchWriter } from '../../../src/download/batch-writer.js';
import { RetryableError } from '../../../src/http/retry.js';
import { createDispatcher } from '../../../src/http/send.js';

const CONTENT = Buffer.from(Array.from({ length: 3 * 1024 * 1024 + 7 }, (_, i) => (i * 2654435761) >>> 24));

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** Answers Range as a CDN does. */
const ranged: Handler = (req, res) => {
  const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
  if (!m) return void res.writeHead(200, { 'content-length': CONTENT.length }).end(CONTENT);
  const [from, to] = [Number(m[1]), Number(m[2])];
  res.writeHead(206, { 'content-length': to - from + 1, 'content-range': `bytes ${from}-${to}/${CONTENT.length}` });
  res.end(CONTENT.subarray(from, to + 1));
};

let dir: string;
let server: Server;
let origin: string;
let file: FileHandle;
let seen: IncomingMessage[];
const sockets = new Set<Socket>();
const dispatcher = createDispatcher(2);

async function listen(handler: Handler): Promise<void> {
  server = createServer((req, res) => {
    seen.push(req);
    handler(req, res);
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

beforeEach(async () => {
  seen = [];
  dir = await mkdtemp(join(tmpdir(), 'llamactl-fetch-range-'));
  file = await open(join(dir, 'x.part'), 'w+');
  await file.truncate(CONTENT.length + 100);
});
afterAll(() => dispatcher.close());
afterEach(async () => {
  await file.close();
  for (const socket of sockets) socket.destroy();
  await new Promise((resolve) => server?.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

function options(overrides: Partial<FetchRangeOptions> = {}): FetchRangeOptions & { written: number[] } {
  const written: number[] = [];
  return {
    url: `${origin}/file`,
    start: 1000,
    end: 1000 + 2 * 1024 * 1024,
    shardSize: CONTENT.length,
    offset: 100 + 1000,
    file,
    dispatcher,
    token: undefined,
    signal: undefined,
    stallTimeoutMs: 30_000,
    what: { repo: 'acme/x', revision: 'main', file: 'X.llamafile' },
    onBytes: (n) => written.push(n),
    written,
    ...overrides,
  };
}

describe('fetchRange', () => {
  it.each([
    ['through undici', undefined],
    ['lean', () => new LeanPool()],
  ])('writes the range at its offset (%s) and reports every byte written', async (_, lean) => {
    await listen(ranged);
    const pool = lean?.();
    const o = options({ lean: pool });
    try {
      await fetchRange(o);
    } finally {
      pool?.close();
    }
    const bytes = await readFile(join(dir, 'x.part'));
    expect(bytes.subarray(o.offset, o.offset + (o.end - o.start)).equals(CONTENT.subarray(o.start, o.end))).toBe(true);
    expect(bytes.subarray(0, o.offset).every((b) => b === 0)).toBe(true);
    expect(o.written.reduce((a, b) => a + b, 0)).toBe(o.end - o.start);
    expect(seen[0]!.headers.range).toBe(`bytes=${o.start}-${o.end - 1}`);
  });

  it.each([
    ['through undici', undefined],
    ['lean', () => new LeanPool()],
  ])('gives its page-aligned write batches back (%s): 80 ranges in a row leave the next batches aligned', async (_, lean) => {
    await listen(ranged);
    const pool = lean?.();
    try {
      for (let i = 0; i < 80; i++) await fetchRange(options({ lean: pool, start: i * 4096, end: i * 4096 + 65536, offset: i * 4096 }));
    } finally {
      pool?.close();
    }
    // 80 ranges take 160 batches; the pool has 128, so any not given back would leave the next ones unaligned.
    const writer = new BatchWriter({ write: async (_b, _o, length) => ({ bytesWritten: length }) }, 0, 8192, () => {});
    expect(alignedLike(writer.region(8192)!, 0, 0)).toBe(true);
    writer.release();
  });

  it('fetches a whole shard without Range when asked to', async () => {
    await listen(ranged);
    const o = options({ start: 0, end: CONTENT.length, whole: true, offset: 0 });
    await fetchRange(o);
    expect((await readFile(join(dir, 'x.part'))).subarray(0, CONTENT.length).equals(CONTENT)).toBe(true);
    expect(seen[0]!.headers.range).toBeUndefined();
  });

  it('says when the server ignores Range (a 200 with the whole file for part of it)', async () => {
    await listen((req, res) => res.writeHead(200, { 'content-length': CONTENT.length }).end(CONTENT));
    await expect(fetchRange(options())).rejects.toBeInstanceOf(RangeIgnoredError);
  });

  it('retries the wrong range, and refuses a file of another size', async () => {
    await listen((req, res) => res.writeHead(206, { 'content-range': `bytes 0-9/${CONTENT.length}`, 'content-length': 10 }).end(CONTENT.subarray(0, 10)));
    await expect(fetchRange(options())).rejects.toThrow(RetryableError);
    server.removeAllListeners('request');
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      const o = options();
      res.writeHead(206, { 'content-range': `bytes ${o.start}-${o.end - 1}/${CONTENT.length + 5}`, 'content-length': o.end - o.start }).end(CONTENT.subarray(o.start, o.end));
    });
    const error = await fetchRange(options()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IntegrityError);
    expect((error as Error).message).toBe(`The size of X.llamafile disagrees: the hub lists ${CONTENT.length} bytes, the download server has ${CONTENT.length + 5}.`);
  });

  it('refuses a web page instead of the bytes', async () => {
    await listen((req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>log in</html>'));
    await expect(fetchRange(options())).rejects.toBeInstanceOf(FormatError);
  });

  it('asks for a fresh URL when the CDN refuses one that worked (403 off the token origin)', async () => {
    await listen((req, res) => res.writeHead(403).end());
    await expect(fetchRange(options({ token: { origin: 'https://hub.example', value: 'hf_x' } }))).rejects.toBeInstanceOf(LocationExpiredError);
  });

  it('sends Authorization only to the token origin', async () => {
    await listen(ranged);
    await fetchRange(options({ token: { origin: 'https://hub.example', value: 'hf_x' } }));
    await fetchRange(options({ token: { origin, value: 'hf_mine' } }));
    expect(seen.map((r) => r.headers.authorization)).toEqual([undefined, 'Bearer hf_mine']);
  });

  it('retries a body that ends early', async () => {
    await listen((req, res) => {
      const o = options();
      res.writeHead(206, { 'content-range': `bytes ${o.start}-${o.end - 1}/${CONTENT.length}`, 'content-length': o.end - o.start });
      res.write(CONTENT.subarray(o.start, o.start + 1000));
      setTimeout(() => res.socket?.destroy(), 20);
    });
    await expect(fetchRange(options())).rejects.toBeInstanceOf(RetryableError);
  });

  it.each([
    ['through undici', undefined],
    ['lean', () => new LeanPool()],
  ])('gives up on a body that stalls (%s): a retryable error, not a wait without end', async (_, lean) => {
    await listen((req, res) => {
      const o = options();
      res.writeHead(206, { 'content-range': `bytes ${o.start}-${o.end - 1}/${CONTENT.length}`, 'content-length': o.end - o.start });
      res.write(CONTENT.subarray(o.start, o.start + 1000)); // then nothing
    });
    const pool = lean?.();
    const error = await fetchRange(options({ stallTimeoutMs: 300, lean: pool })).catch((e: unknown) => e);
    pool?.close();
    expect(error).toBeInstanceOf(RetryableError);
    expect((error as Error).message).toBe('No data for 0.3 s from the download server.');
  });

  const bothPaths = [
    ['through undici', undefined],
    ['lean', () => new LeanPool()],
  ] as const;

  // Issue 10 defect 2: a trickle resets the idle timer forever; the progress window gives up on it.
  it.each(bothPaths)('gives up on a body that trickles one byte every 50 ms (%s), faster than the stall timeout', async (_, lean) => {
    const timers: NodeJS.Timeout[] = [];
    await listen((req, res) => {
      const o = options();
      res.writeHead(206, { 'content-range': `bytes ${o.start}-${o.end - 1}/${CONTENT.length}`, 'content-length': o.end - o.start });
      let at = o.start;
      timers.push(setInterval(() => res.write(CONTENT.subarray(at, ++at)), 50));
    });
    const pool = lean?.();
    const started = Date.now();
    const error = await fetchRange(options({ stallTimeoutMs: 300, progressTimeoutMs: 600, lean: pool })).catch((e: unknown) => e);
    pool?.close();
    for (const timer of timers) clearInterval(timer);
    expect(error).toBeInstanceOf(RetryableError);
    expect((error as Error).message).toMatch(/^Too slow: \d+ bytes in 0\.6 s from the download server/);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it.each(bothPaths)('gives up on a server that accepts and never answers (%s)', async (_, lean) => {
    await listen(() => {});
    const pool = lean?.();
    const error = await fetchRange(options({ stallTimeoutMs: 5000, answerTimeoutMs: 300, lean: pool })).catch((e: unknown) => e);
    pool?.close();
    expect(error).toBeInstanceOf(RetryableError);
    expect((error as Error).message).toBe('No answer for 0.3 s from the download server.');
  });

  // Issue 10 defect 15: `Content-Range: bytes a-b/*` cut short is a size lie (exit 5), never seven retries.
  it.each(bothPaths)('refuses a range cut short with the total unsaid (bytes a-b/*) as a size lie (%s)', async (_, lean) => {
    await listen((req, res) => {
      const o = options();
      const last = o.end - 1000;
      res.writeHead(206, { 'content-range': `bytes ${o.start}-${last}/*`, 'content-length': last - o.start + 1 }).end(CONTENT.subarray(o.start, last + 1));
    });
    const pool = lean?.();
    const error = await fetchRange(options({ lean: pool })).catch((e: unknown) => e);
    pool?.close();
    expect(error).toBeInstanceOf(IntegrityError);
    expect((error as Error).message).toBe(`The size of X.llamafile disagrees: the hub lists ${CONTENT.length} bytes, the download server has only ${options().end - 999}.`);
  });

  // Issue 10 defect 1: a CDN's Location to anything but http(s) is never followed, on either path.
  it.each(bothPaths)('refuses a redirect to a non-http URL before connecting to it (%s)', async (_, lean) => {
    const trap = createServer();
    let connections = 0;
    trap.on('connection', (socket: Socket) => {
      connections++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => trap.listen(0, '127.0.0.1', resolve));
    const port = (trap.address() as AddressInfo).port;
    try {
      for (const location of [`ftp://127.0.0.1:${port}/x`, 'file:///etc/passwd', 'javascript:alert(1)']) {
        server?.close();
        await listen((req, res) => res.writeHead(302, { location }).end());
        const pool = lean?.();
        const error = await fetchRange(options({ lean: pool })).catch((e: unknown) => e);
        pool?.close();
        expect(error).toBeInstanceOf(HubError);
        expect((error as HubError).exitCode).toBe(7);
        expect((error as Error).message).toMatch(/sent a redirect to .*only http:\/\/ and https:\/\/ URLs are followed/);
      }
      expect(connections).toBe(0);
    } finally {
      trap.close();
    }
  });

  it.each(bothPaths)('never opens a connection for a location that is not http(s) (%s)', async (_, lean) => {
    const pool = lean?.();
    const error = await fetchRange(options({ url: 'ftp://127.0.0.1:1/x', lean: pool })).catch((e: unknown) => e);
    pool?.close();
    expect(error).toBeInstanceOf(HubError);
    await listen(ranged);
  });
});
