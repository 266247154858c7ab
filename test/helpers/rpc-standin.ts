/**
 * A PROTOCOL STAND-IN for an rpc-server of ANOTHER llama.cpp build: it answers the RPC HELLO (with the version and in
 * the message layout it is told to), DEVICE_COUNT and GET_DEVICE_MEMORY, and hangs up on anything else. It exists
 * because a second llama.cpp build cannot be made on the test machines; everything else (reachability, the real handshake, device memory, serving) is tested against the real
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
    let greeted = false;
    const reply = (body: Buffer) => {
      const head = Buffer.alloc(8);
      head.writeBigUInt64LE(BigInt(body.length));
      socket.write(Buffer.concat([head, body]));
    };
    socket.on('data', (data: Buffer) => {
      buffer = Buffer.concat([buffer, data]);
      while (buffer.length >= 9) {
        const cmd = buffer[0]!;
        const size = Number(buffer.readBigUInt64LE(1));
        if (buffer.length < 9 + size) return;
        buffer = buffer.subarray(9 + size);
        if (!greeted) {
          // As the real servers do: anything but a HELLO of its own layout first is dropped without an answer.
          if (cmd !== 14 || size !== (options.layout === 'current' ? 24 : 0)) return void socket.destroy();
          greeted = true;
          const body = options.layout === 'current' ? Buffer.alloc(28) : Buffer.alloc(3);
          [body[0], body[1], body[2]] = options.version;
          reply(body);
        } else if (cmd === 15) {
          const count = Buffer.alloc(4);
          count.writeUInt32LE(1);
          reply(count); // DEVICE_COUNT: one device
        } else if (cmd === 11) {
          const memory = Buffer.alloc(16);
          memory.writeBigUInt64LE(1073741824n, 0);
          memory.writeBigUInt64LE(1073741824n, 8);
          reply(memory); // GET_DEVICE_MEMORY: 1 GiB free of 1 GiB
        } else {
          return void socket.destroy();
        }
      }
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
