import { createServer } from 'node:net';
import { PortInUseError, UsageError } from '../errors.js';

/** Binds `host:port` for a moment: resolves with the bound port, rejects with the listen error. */
function probeBind(host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host, port, exclusive: true }, () => {
      const address = server.address();
      const bound = typeof address === 'object' && address ? address.port : port;
      server.close(() => resolve(bound));
    });
  });
}

/**
 * A port that is free on `host` right now (the kernel picks it). There is a short window before the engine binds
 * it; startServer covers that by retrying with a new port when the engine reports a failed bind.
 */
export function findFreePort(host: string): Promise<number> {
  return probeBind(host, 0);
}

/** Throws PortInUseError when a fixed port is taken (so the user hears "port taken", not an engine crash). */
export async function assertPortFree(host: string, port: number): Promise<void> {
  try {
    await probeBind(host, port);
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'EADDRINUSE') throw new PortInUseError(port, host, { cause: error });
    throw new UsageError(`Cannot listen on ${host}:${port} (${code ?? String(error)}).`, {
      hint: 'Check host (an address of this machine) and port (1024-65535 without privileges).',
      option: code === 'EACCES' ? 'port' : 'host',
      cause: error,
    });
  }
}
