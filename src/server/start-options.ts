import { UsageError } from '../errors.js';
import type { ServeFitOptions } from './check-fit.js';
import type { RpcHeadOptions } from './rpc/plan-rpc-head.js';
import type { RestartEvent } from './supervise.js';

export interface StartServerOptions extends Pick<ServeFitOptions, 'force' | 'memory' | 'onFit'>, RpcHeadOptions {
  /** A store name (from `pull`), a path to a `.llamafile`, or a `.gguf` path together with `runtime`. */
  model: string;
  /** A llamafile or llama-server binary to run `model` with (`-m`). */
  runtime?: string | undefined;
  /** `-c`. @default the engine's own default */
  ctxSize?: number | undefined;
  /** `-ngl`. @default the engine's own default */
  gpuLayers?: number | undefined;
  /** @default '127.0.0.1' */
  host?: string | undefined;
  /** A fixed port (fails with PortInUseError when taken). @default a free port */
  port?: number | undefined;
  /**
   * Also listen on a Unix socket (Linux, under `runDir()/sockets`, mode 0700), where the engine can: a llama-server
   * that takes a list of addresses, given no `--host` of the caller's. `RunningServer.socketPath` then says where; it
   * is undefined where the engine cannot, or with `detach`. A request over it costs a little less CPU than one over
   * loopback TCP; the gateway reaches its engines this way. @default false
   */
  unixSocket?: boolean | undefined;
  threads?: number | undefined;
  parallel?: number | undefined;
  /**
   * Require this key from clients (`Authorization: Bearer KEY`); given to the engine through its environment, never
   * its argv. `'auto'`: a random key (256 bits, base64url), kept in a detached server's record (0600) where
   * `connect(name)`, `llamactl run NAME` and `chat NAME` find it; also `RunningServer.apiKey`.
   * @default none: the engine answers anyone who can reach it
   */
  apiKey?: string | undefined;
  /** Passed to the engine after llamactl's own flags. */
  extraArgs?: readonly string[] | undefined;
  /** Load deadline: fail when the engine prints nothing for this long while loading. @default 120_000 */
  timeoutMs?: number | undefined;
  /** Server name (records of detached servers, `ps`). @default derived from the model */
  name?: string | undefined;
  /** Aborts the start; in foreground mode an abort after ready stops the server. */
  signal?: AbortSignal | undefined;
  /** Every line the engine prints. */
  onLog?: ((line: string) => void) | undefined;
  env?: NodeJS.ProcessEnv | undefined;
  /** Background mode: output to a log file under runDir(), a record for `ps`/`stop`, survives this process. */
  detach?: boolean | undefined;
  /** Restart a crashed server with backoff (with `detach`, a detached supervisor process does it). @default 'no' */
  restart?: 'no' | 'on-failure' | undefined;
  /** Bound on restarts with `restart: 'on-failure'`. @default 5 */
  maxRestarts?: number | undefined;
  onRestart?: ((event: RestartEvent) => void) | undefined;
  /** SIGTERM → SIGKILL grace period on stop. @default 5000 */
  stopGraceMs?: number | undefined;
}

/** Rejects numeric options out of range before anything is spawned (a UsageError naming the option). */
export function validateStartOptions(options: StartServerOptions): void {
  const checks: [string, number | undefined, number, number][] = [
    ['port', options.port, 0, 65535],
    ['ctxSize', options.ctxSize, 0, 2 ** 31 - 1],
    ['gpuLayers', options.gpuLayers, -1, 100_000],
    ['threads', options.threads, 1, 4096],
    ['parallel', options.parallel, 1, 4096],
    ['timeoutMs', options.timeoutMs, 1, 2 ** 31 - 1],
    ['maxRestarts', options.maxRestarts, 0, 1000],
  ];
  for (const [field, value, min, max] of checks) {
    if (value !== undefined && (!Number.isInteger(value) || value < min || value > max)) {
      throw new UsageError(`Bad ${field}: ${JSON.stringify(value)} (expected an integer from ${min} to ${max}).`, {
        option: field,
      });
    }
  }
}
