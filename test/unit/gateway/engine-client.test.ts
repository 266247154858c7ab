/**
 * The gateway's lean client against raw TCP servers on loopback that answer with exactly the bytes a test writes:
 * Content-Length, chunked (split anywhere), until close, a stale kept-alive socket, a malformed answer, abort.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, test } from 'vitest';
import { requestEngine, type EngineAnswer } from '../../../src/gateway/engine-client.js';
import { eventually } from '../../helpers/gateway.js';

let server: Server | undefined;
const sockets = new Set<Socket>();
afterEach(async () => {
  for (const socket of sockets) socket.destroy();
  sockets.clear();
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  server = undefined;
});

/** A server that calls `answer` with each request's head, the socket and the request's number on that socket. */
async function serve(answer: (head: string, socket: Socket, count: number) => void): Promise<number> {
  server = createServer((socket) => {
    let count = 0;
    sockets.add(socket);
    let buffer = '';
    socket.on('data', (data) => {
      buffer += data.toString('latin1');
      for (;;) {
        const end = buffer.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buffer.slice(0, end);
        const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
        if (buffer.length < end + 4 + length) return;
        buffer = buffer.slice(end + 4 + length);
        answer(head, socket, ++count);
      }
    });
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return (server!.address() as { port: number }).port;
}

function body(answer: EngineAnswer): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    answer.read({ data: (chunk) => (chunks.push(chunk), true), end: () => resolve(Buffer.concat(chunks).toString('utf8')), error: reject });
  });
}

const ask = (port: number, signal = new AbortController().signal) => requestEngine({ port, path: '/v1/x', body: Buffer.from('{"a":1}'), headers: { authorization: 'Bearer k' }, signal });

describe('requestEngine', () => {
  test('sends one well-formed request and reads a Content-Length answer; the socket is reused', async () => {
    const heads: string[] = [];
    const seen = new Set<Socket>();
    const port = await serve((head, socket) => {
      heads.push(head);
      seen.add(socket);
      socket.write('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"ok":true}');
    });
    for (let i = 0; i < 3; i++) {
      const answer = await ask(port);
      expect(answer.status).toBe(200);
      expect(answer.headers.get('content-type')).toBe('application/json');
      expect(await body(answer)).toBe('{"ok":true}');
    }
    expect(heads[0]).toBe(`POST /v1/x HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: 7\r\nauthorization: Bearer k`);
    expect(seen.size).toBe(1);
  });

  test('a socket left idle is closed after 4-5 s (before llama-server\'s own 5 s could close it under a request)', async () => {
    let closedAt: number | undefined;
    const port = await serve((_head, socket) => {
      socket.once('close', () => (closedAt = performance.now()));
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}');
    });
    expect(await body(await ask(port))).toBe('{}');
    const idleFrom = performance.now();
    for (let i = 0; i < 70 && closedAt === undefined; i++) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(closedAt).toBeDefined();
    expect(closedAt! - idleFrom).toBeGreaterThanOrEqual(3900);
    expect(closedAt! - idleFrom).toBeLessThan(5600);
  }, 10_000);

  test('a chunked answer split at every byte is decoded whole (extensions and trailers too)', async () => {
    const wire = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n1\r\n \r\nc\r\ndata: wörld\r\n0\r\nX-Trailer: 1\r\n\r\n';
    const port = await serve((_head, socket) => {
      const bytes = Buffer.from(wire);
      let at = 0;
      const next = () => {
        if (at >= bytes.length) return;
        socket.write(bytes.subarray(at, ++at));
        setImmediate(next);
      };
      next();
    });
    expect(await body(await ask(port))).toBe('hello data: wörld');
    expect(await body(await ask(port))).toBe('hello data: wörld'); // and the socket was clean to reuse
  });

  test('an answer without length runs until the engine closes; Connection: close is not reused', async () => {
    const port = await serve((_head, socket, count) => socket.end(`HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nanswer ${count}`));
    expect(await body(await ask(port))).toBe('answer 1');
    expect(await body(await ask(port))).toBe('answer 1'); // a new connection: the count starts again
  });

  test('a kept-alive socket the engine closed while idle: the request goes again on a fresh one', async () => {
    let connections = 0;
    const port = await serve((_head, socket, count) => {
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
      // Closes after its first answer, as llama-server does after N; later than a close that gets a spare (below).
      if (count === 1) setTimeout(() => socket.destroy(), 150);
    });
    server!.on('connection', () => connections++);
    expect(await body(await ask(port))).toBe('ok');
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect(connections).toBe(1);
    expect(await body(await ask(port))).toBe('ok');
    expect(connections).toBe(2);
  });

  test('a socket the engine closes right after its answer (llama-server after a stream) is replaced before the next request', async () => {
    const connected: Socket[] = [];
    const asked: Socket[] = [];
    const port = await serve((_head, socket) => {
      asked.push(socket);
      socket.end('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nKeep-Alive: timeout=5, max=100\r\n\r\n5\r\nhello\r\n0\r\n\r\n');
    });
    server!.on('connection', (socket) => connected.push(socket));
    expect(await body(await ask(port))).toBe('hello');
    await eventually(() => connected.length === 2); // the spare, connected with no request on it yet
    expect(asked).toHaveLength(1);
    expect(await body(await ask(port))).toBe('hello');
    expect(asked[1]).toBe(connected[1]); // the second request went on the spare
    await eventually(() => connected.length === 3);

    // A spare the engine closes is not replaced: one connection, not a loop.
    for (const socket of connected) socket.destroy();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(connected).toHaveLength(3);
  });

  test('an engine that breaks off mid-body is an error, not a short answer', async () => {
    const port = await serve((_head, socket) => {
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial');
      setTimeout(() => socket.destroy(), 10);
    });
    await expect(body(await ask(port))).rejects.toThrow(/closed the connection before the end/);
  });

  test('a malformed chunk size and an oversized head are refused', async () => {
    const bad = await serve((_head, socket) => socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'));
    await expect(body(await ask(bad))).rejects.toThrow(/bad chunk size/);
    await new Promise((resolve) => server!.close(resolve));
    const huge = await serve((_head, socket) => socket.write(`HTTP/1.1 200 OK\r\nX: ${'a'.repeat(70_000)}\r\n\r\n`));
    await expect(ask(huge)).rejects.toThrow(/oversized/);
  });

  test('aborting before or during the answer closes the socket (the engine sees it and stops)', async () => {
    let closed = 0;
    const port = await serve((_head, socket) => {
      socket.on('close', () => closed++);
      socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n');
    });
    const controller = new AbortController();
    const answer = await ask(port, controller.signal);
    const read = new Promise<void>((resolve) => answer.read({ data: () => (controller.abort(), true), end: resolve, error: () => resolve() }));
    await read;
    await expect.poll(() => closed).toBe(1);
    const early = new AbortController();
    early.abort();
    await expect(ask(port, early.signal)).rejects.toThrow(/aborted/);
  });
});
