import { execa } from 'execa';
import { UsageError } from '../errors.js';

export interface WorkerArgsOptions {
  host: string;
  port: number;
  threads?: number | undefined;
  /** `-c`: keep tensors the head sent in a local file cache (`$XDG_CACHE_HOME/llama.cpp/rpc/`), so a restart is quicker. */
  cache?: boolean | undefined;
  /** `-m MB`: the memory the worker reports, on builds that still have the flag. */
  memMb?: number | undefined;
}

/** What an rpc-server build accepts, read from its usage text (it has no --version). */
export interface RpcServerCaps {
  mem: boolean;
  cache: boolean;
  threads: boolean;
}

const capsCache = new Map<string, Promise<RpcServerCaps>>();

/** Reads `rpc-server --help` once per binary (it prints its usage on stderr and exits 0). */
export function rpcServerCaps(path: string): Promise<RpcServerCaps> {
  let caps = capsCache.get(path);
  if (!caps) {
    caps = execa(path, ['--help'], { reject: false, timeout: 10_000, stdin: 'ignore', all: true }).then((result) => {
      const text = String(result.all ?? '');
      return { mem: /--mem\b/.test(text), cache: /--cache\b/.test(text), threads: /--threads\b/.test(text) };
    });
    capsCache.set(path, caps);
  }
  return caps;
}

/**
 * The argv for rpc-server. Its parser prints the usage and exits 0 on an unknown flag, which would look like a clean
 * exit, so flags this build lacks are refused here instead. `-m` in particular was dropped by llama.cpp in late 2025
 * (it only changed the reported memory, never enforced it; `--tensor-split` on the head does the same job).
 */
export function buildWorkerArgs(options: WorkerArgsOptions, caps: RpcServerCaps): string[] {
  const args = ['-H', options.host, '-p', String(options.port)];
  if (options.threads !== undefined) args.push('-t', String(options.threads));
  if (options.cache) {
    if (!caps.cache) throw new UsageError('This rpc-server build has no local cache (-c/--cache).', { hint: 'Leave the cache out.', option: 'cache' });
    args.push('-c');
  }
  if (options.memMb !== undefined) {
    if (!caps.mem) {
      throw new UsageError('This rpc-server build has no memory flag (llama.cpp removed -m; it was never enforced).', {
        hint: "Declare the worker's share on the head instead: llamactl serve MODEL --rpc HOST:PORT=24G",
        option: 'memMb',
      });
    }
    args.push('-m', String(options.memMb));
  }
  return args;
}

