/**
 * A PROTOCOL STAND-IN for an rpc-server of ANOTHER llama.cpp build: it answers only the RPC HELLO, with the version
 * and in the message layout it is told to. It exists because a second llama.cpp build cannot be made on the test
 * machines; everything else (reachability, the real handshake, device memory, serving) is tested against the real
 * rpc-server. 127.0.0.1 only.
 */
import { createServer, type Server, type Socket } from 'node:net';

export interface RpcStandinOptions {
  version: [number, number, number];
  /** `current`: protocol ≥ 4 (24 bytes of capabilities each way). `legacy`: protocol ≤ 3 (empty request, 3 bytes). */
  layout: 'current' | 'legacy';
  /** Accept connections but never answer. */
  silent?: boolean;
}

export interface RpcStandin {
  port: number;
  endpoint: string;
  close(): Promise<void>;
}

export async function startRpcStandin(options: RpcStandinOptions): Promise<RpcStandin> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    if (options.silent) return;
    let buffer = Buffer.alloc(0);
    socket.on('data', (data: Buffer) => {
      buffer = Buffer.concat([buffer, data]);
      if (buffer.length < 9) return;
      const size = Number(buffer.readBigUInt64LE(1));
      const expected = options.layout === 'current' ? 24 : 0;
      // As the real servers do: a HELLO of the other layout is dropped without an answer.
      if (buffer[0] !== 14 || size !== expected) return void socket.destroy();
      if (buffer.length < 9 + size) return;
      const body = options.layout === 'current' ? Buffer.alloc(28) : Buffer.alloc(3);
      body[0] = options.version[0];
      body[1] = options.version[1];
      body[2] = options.version[2];
      const head = Buffer.alloc(8);
      head.writeBigUInt64LE(BigInt(body.length));
      socket.write(Buffer.concat([head, body]));
      buffer = Buffer.alloc(0);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    endpoint: `127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
