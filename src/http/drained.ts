import type { ServerResponse } from 'node:http';

/**
 * Resolves when a server response can take more after a `write()` returned false, or has closed: the one
 * backpressure wait of llamactl's HTTP servers (the gateway, the demo hub). No listener is left behind either way.
 */
export function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}
