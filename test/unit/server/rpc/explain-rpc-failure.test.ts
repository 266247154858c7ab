import { describe, expect, it } from 'vitest';
import { WorkerLostError, WorkerUnreachableError, WorkerVersionError } from '../../../../src/errors.js';
import { findFreePort } from '../../../../src/server/ports.js';
import { explainRpcFailure } from '../../../../src/server/rpc/explain-rpc-failure.js';
import { parseRpcList } from '../../../../src/server/rpc/parse-rpc.js';

// The lines llama.cpp prints before it aborts (ggml/src/ggml-rpc/ggml-rpc.cpp).
describe('explainRpcFailure', () => {
  it('a version mismatch names the worker and its version', async () => {
    const error = await explainRpcFailure(
      'RPC server version mismatch: 6.1.0\n/src/ggml-rpc.cpp:550: RPC handshake failed for 10.0.0.3:50052\n',
      parseRpcList('10.0.0.2:50052,10.0.0.3:50052'),
    );
    expect(error).toBeInstanceOf(WorkerVersionError);
    expect(error!.message).toBe('The worker at 10.0.0.3:50052 is a different llama.cpp build: it speaks RPC protocol 6.1.0, the head refused it');
  });

  it('a failed connect names the worker', async () => {
    const error = await explainRpcFailure('ggml-rpc.cpp:547: Failed to connect to 10.0.0.2:50052\n', parseRpcList('10.0.0.2:50052'));
    expect(error).toBeInstanceOf(WorkerUnreachableError);
    expect((error as WorkerUnreachableError).endpoint).toBe('10.0.0.2:50052');
  });

  it('a crash mid-run names the worker that no longer accepts connections', async () => {
    const port = await findFreePort('127.0.0.1');
    const error = await explainRpcFailure(
      'ggml-rpc.cpp:566: Remote RPC server crashed or returned malformed response\n',
      parseRpcList(`127.0.0.1:${port}`),
      500,
    );
    expect(error).toBeInstanceOf(WorkerLostError);
    expect(error!.message).toBe(`The head lost RPC worker 127.0.0.1:${port}: it no longer accepts connections`);
  });

  it('other output is not an RPC failure', async () => {
    expect(await explainRpcFailure('error: unknown argument: --foo\n', parseRpcList('127.0.0.1:1'))).toBeUndefined();
  });
});
