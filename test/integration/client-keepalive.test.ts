/**
 * llama.cpp's HTTP server closes kept-alive connections (idle for a few seconds, or after 100 requests). A request
 * sent on such a socket fails before anything was processed; the client retries it once on a fresh connection.
 * The server here answers the first request of each connection and drops the connection on the next one.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, expect, it } from 'vitest';
import { LlamafileClient } from '../../src/client/client.js';
import { ConnectionError } from '../../src/errors.js';

let server: Server | undefined;
const sockets = new Set<Socket>();

afterEach(async () => {
  for (const socket of sockets) socket.destroy();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

/** `dropAll`: drop every request (no connection ever answers). Returns the URL and the per-connection log. */
async function start(dropAll = false): Promise<{ url: string; log: string[] }> {
  const log: string[] = [];
  let connections = 0;
  server = createServer((socket) => {
    sockets.add(socket);
    const id = ++connections;
    let requests = 0;
    socket.on('data', (data) => {
      if (!data.toString().includes('\r\n\r\n')) return;
      requests++;
      if (dropAll || requests > 1) {
        log.push(`conn ${id} request ${requests}: dropped`);
        socket.destroy();
        return;
      }
      log.push(`conn ${id} request ${requests}: answered`);
      const body = JSON.stringify({ status: 'ok' });
      socket.write(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: keep-alive\r\n\r\n${body}`);
    });
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return { url: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`, log };
}

it('retries once on a fresh connection when the kept-alive one was closed', async () => {
  const { url, log } = await start();
  const client = new LlamafileClient({ baseUrl: url, connections: 1 });
  try {
    expect(await client.props()).toEqual({ status: 'ok' });
    expect(await client.props()).toEqual({ status: 'ok' });
    expect(log).toEqual(['conn 1 request 1: answered', 'conn 1 request 2: dropped', 'conn 2 request 1: answered']);
  } finally {
    await client.close();
  }
});

it('gives up with ConnectionError when the fresh connection fails too', async () => {
  const { url, log } = await start(true);
  const client = new LlamafileClient({ baseUrl: url, connections: 1 });
  try {
    const error = await client.props().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConnectionError);
    expect((error as ConnectionError).message).toMatch(/reset/);
    expect(log).toEqual(['conn 1 request 1: dropped', 'conn 2 request 1: dropped']);
  } finally {
    await client.close();
  }
});
