import { WorkerLostError, WorkerUnreachableError, WorkerVersionError, type LlamactlError } from '../../errors.js';
import { acceptsTcp } from '../../system/accepts-tcp.js';
import type { RpcEndpoint } from './parse-rpc.js';
import { formatVersion, RPC_PROTOCOL } from './rpc-probe.js';

/**
 * Turns what a dead head printed into the worker that caused it. llama.cpp aborts (SIGABRT) on every RPC failure:
 * "Failed to connect to H:P", "RPC server version mismatch: X" + "RPC handshake failed for H:P", or, mid-run,
 * "Remote RPC server crashed or returned malformed response", which names no worker: then each worker is tried
 * (within `timeoutMs`) and the first that no longer accepts connections is the one named.
 */
export async function explainRpcFailure(
  output: string,
  workers: readonly RpcEndpoint[],
  timeoutMs = 1000,
): Promise<LlamactlError | undefined> {
  const mismatch = /RPC server version mismatch: (\d+\.\d+\.\d+)/.exec(output);
  const handshake = /RPC handshake failed for (\S+)/.exec(output);
  if (mismatch || handshake) {
    const endpoint = handshake?.[1] ?? '?';
    const version = mismatch?.[1];
    return new WorkerVersionError(
      endpoint,
      `The worker at ${endpoint} is a different llama.cpp build: ${version ? `it speaks RPC protocol ${version}, ` : ''}` +
        `the head refused it${version ? '' : ' at the RPC handshake'}`,
      { workerVersion: version, hint: "Run rpc-server from the same llama.cpp build (release) as the head's llama-server on every machine." },
    );
  }
  const refused = /Failed to connect to (\S+)/.exec(output);
  if (refused) {
    return new WorkerUnreachableError(refused[1]!, `The head could not connect to the worker at ${refused[1]}`, {
      hint: 'Check that the worker runs (llamactl ps on that machine) and that the port is right.',
    });
  }
  if (!/Remote RPC server crashed|RPC_STATUS_ASSERT|ggml-rpc/.test(output)) return undefined;
  const alive = await Promise.all(workers.map((worker) => acceptsTcp(worker.host, worker.port, timeoutMs)));
  const lost = workers.filter((_, index) => !alive[index]);
  const named = lost.map((worker) => worker.endpoint).join(', ');
  if (lost.length === 0) {
    return new WorkerLostError('?', 'The head lost its connection to an RPC worker (llama.cpp: "Remote RPC server crashed or returned malformed response")', {
      hint: `All workers accept connections again; one of them restarted or dropped the head (RPC protocol ${formatVersion(RPC_PROTOCOL)}). Its log says why.`,
    });
  }
  return new WorkerLostError(lost[0]!.endpoint, `The head lost RPC worker ${named}: it no longer accepts connections`, {
    hint: `Restart the worker (llamactl worker on ${lost[0]!.host}), then the head.`,
  });
}
