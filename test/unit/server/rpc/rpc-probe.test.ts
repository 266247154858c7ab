import { createServer } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { WorkerProtocolError, WorkerUnreachableError, WorkerVersionError } from '../../../../src/errors.js';
import { findFreePort } from '../../../../src/server/ports.js';
import { probeWorker } from '../../../../src/server/rpc/rpc-probe.js';
import { startRpcStandin, type RpcStandin } from '../../../helpers/rpc-standin.js';

let standin: RpcStandin | undefined;
afterEach(async () => {
  await standin?.close();
  standin = undefined;
});

describe('probeWorker (the real rpc-server is in test/integration/rpc-*.test.ts)', () => {
  it('a closed port is unreachable, named, and says so at once', async () => {
    const port = await findFreePort('127.0.0.1');
    const error = await probeWorker('127.0.0.1', port).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WorkerUnreachableError);
    expect((error as WorkerUnreachableError).endpoint).toBe(`127.0.0.1:${port}`);
    expect((error as Error).message).toMatch(/connection refused/);
    expect((error as WorkerUnreachableError).exitCode).toBe(7);
  });

  it('a newer build (protocol 8) is a version error, not a hang', async () => {
    standin = await startRpcStandin({ version: [8, 0, 0], layout: 'current' });
    const error = await probeWorker('127.0.0.1', standin.port).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WorkerVersionError);
    expect((error as Error).message).toMatch(/different llama\.cpp build: it speaks RPC protocol 8\.0\.0, the head 7\.0\.0 \(the worker is newer\)/);
  });

  it('an old build (protocol 3, empty HELLO) hangs up on the current HELLO and is asked the old way', async () => {
    standin = await startRpcStandin({ version: [3, 0, 0], layout: 'legacy' });
    const error = await probeWorker('127.0.0.1', standin.port).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WorkerVersionError);
    expect((error as WorkerVersionError).workerVersion).toBe('3.0.0');
    expect((error as Error).message).toMatch(/the worker is older/);
  });

  it('a listener that never answers is reported within the bound', async () => {
    standin = await startRpcStandin({ version: [7, 0, 0], layout: 'current', silent: true });
    const started = Date.now();
    const error = await probeWorker('127.0.0.1', standin.port, { timeoutMs: 500 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WorkerProtocolError);
    expect((error as Error).message).toMatch(/did not answer the RPC hello within 0\.5 s: it is busy with another head/);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('an HTTP server on that port is not an rpc-server', async () => {
    const http = createServer((_, res) => res.end('hello'));
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const port = (http.address() as { port: number }).port;
    try {
      // Node's HTTP server answers a garbage request with "HTTP/1.1 400 Bad Request".
      const error = await probeWorker('127.0.0.1', port, { timeoutMs: 1000 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(WorkerProtocolError);
      expect((error as Error).message).toMatch(/not an rpc-server this head can use: it answered like a web server/);
    } finally {
      http.closeAllConnections();
      await new Promise((resolve) => http.close(resolve));
    }
  });
});
