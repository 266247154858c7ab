import type { RpcHeadEvent } from '../server/rpc/plan-rpc-head.js';
import { formatBytes } from './output.js';

/** One line for people about a step of an RPC head's start. */
export function describeRpcEvent(event: RpcHeadEvent): string {
  if (event.type === 'workers') {
    const workers = event.workers.map((worker) => {
      const free = worker.devices.reduce((sum, device) => sum + device.freeBytes, 0);
      return `${worker.endpoint} (RPC ${worker.version.major}.${worker.version.minor}.${worker.version.patch}, ${formatBytes(free)} free)`;
    });
    return `${workers.length} worker${workers.length === 1 ? '' : 's'} ready: ${workers.join(', ')} [checked in ${event.checkMs} ms]`;
  }
  const { result } = event;
  if (result.method === 'existing') return `serving the GGUF extracted earlier: ${result.path}`;
  if (result.method === 'reflink') return `extracted the GGUF by reflink (no extra disk): ${result.path}`;
  return `extracted the GGUF by copying ${formatBytes(result.bytes)} (extra disk; no reflink here: ${result.reflinkUnavailable}): ${result.path}`;
}
