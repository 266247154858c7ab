import { connect } from 'node:net';

/**
 * True when a TCP connection to host:port opens within `timeoutMs` (closed again at once). That is all "ready" can
 * mean for an rpc-server: it prints nothing once it listens, and it speaks no HTTP.
 */
export function acceptsTcp(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: host === '0.0.0.0' ? '127.0.0.1' : host, port });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}
