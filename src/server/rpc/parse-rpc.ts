import { UsageError } from '../../errors.js';

/** One worker named in `--rpc`: where it listens and, optionally, how much memory the user says it may use. */
export interface RpcEndpoint {
  host: string;
  port: number;
  /** `host:port`, as llama-server's `--rpc` takes it. */
  endpoint: string;
  /** Declared memory in bytes (`host:port=24G`), which replaces what the worker reports. */
  declaredBytes: number | undefined;
}

/** llama.cpp's limit on RPC servers per head (GGML_RPC_MAX_SERVERS). */
export const MAX_RPC_WORKERS = 16;

const UNITS: Record<string, number> = { '': 2 ** 20, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };

/** `24G`, `512M`, `2048` (MiB) → bytes. Binary units, as llama.cpp prints its buffers. */
export function parseMemory(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?$/i.exec(text.trim());
  const value = match ? Number(match[1]) * UNITS[match[2]!.toUpperCase()]! : Number.NaN;
  if (!Number.isFinite(value) || value <= 0 || value > 2 ** 60) {
    throw new UsageError(`Bad memory size ${JSON.stringify(text)}.`, {
      hint: 'Write it as a number of MiB, or with a unit: 512M, 24G.',
    });
  }
  return Math.round(value);
}

/**
 * Parses `rpc` (`--rpc`): `H:P[=MEM][,H:P[=MEM]…]` (one string or several). llama.cpp splits an endpoint at its first `:`,
 * so IPv6 literals cannot be used there; they are refused here with that reason rather than left to fail later.
 */
export function parseRpcList(input: string | readonly string[]): RpcEndpoint[] {
  const items = (typeof input === 'string' ? [input] : input)
    .flatMap((part) => part.split(','))
    .map((part) => part.trim())
    .filter((part) => part !== '');
  if (items.length === 0) throw new UsageError('rpc needs at least one worker, as HOST:PORT.', { option: 'rpc' });
  if (items.length > MAX_RPC_WORKERS) {
    throw new UsageError(`rpc names ${items.length} workers; llama.cpp takes at most ${MAX_RPC_WORKERS}.`, { option: 'rpc' });
  }
  const seen = new Set<string>();
  return items.map((item) => {
    const parsed = parseOne(item);
    if (seen.has(parsed.endpoint)) throw new UsageError(`rpc names ${parsed.endpoint} twice.`, { option: 'rpc' });
    seen.add(parsed.endpoint);
    return parsed;
  });
}

function parseOne(item: string): RpcEndpoint {
  if (item.length > 300) throw new UsageError('rpc: a worker address is longer than 300 characters.', { option: 'rpc' });
  const [address = '', memory] = item.split('=', 2);
  if (address.startsWith('[') || (address.match(/:/g)?.length ?? 0) > 1) {
    throw new UsageError(`rpc worker ${JSON.stringify(item)}: llama.cpp's RPC client does not take IPv6 addresses.`, {
      hint: 'Use an IPv4 address or a host name.',
      option: 'rpc',
    });
  }
  const match = /^([A-Za-z0-9.-]+):(\d{1,5})$/.exec(address);
  const port = match ? Number(match[2]) : Number.NaN;
  if (!match || port < 1 || port > 65535) {
    throw new UsageError(`rpc worker ${JSON.stringify(item)}: expected HOST:PORT (e.g. 192.168.1.20:50052).`, { option: 'rpc' });
  }
  const host = match[1]!;
  return { host, port, endpoint: `${host}:${port}`, declaredBytes: memory === undefined ? undefined : parseMemory(memory) };
}
