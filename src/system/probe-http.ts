import { request } from 'node:http';

/**
 * One GET, answered with the status code, or undefined when nothing answers (refused, reset, timeout).
 * node:http rather than fetch: it is already loaded, needs no pool, and costs well under a millisecond per probe,
 * which matters for the ≤30 ms readiness overhead target.
 */
export function probeHttp(url: string, timeoutMs = 2000, headers?: Record<string, string>): Promise<number | undefined> {
  return new Promise((resolve) => {
    const req = request(url, { method: 'GET', agent: false, timeout: timeoutMs, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
      res.on('error', () => resolve(res.statusCode));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
    req.end();
  });
}
