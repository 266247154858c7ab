import { UsageError } from '../errors.js';
import type { RuntimeKind } from './runtime-info.js';

export interface ServerArgsOptions {
  /** Weights to pass with `-m`; omitted for a llamafile that carries its own (its `.args` names them). */
  modelPath?: string | undefined;
  host: string;
  port: number;
  /** A Unix socket path to listen on as well (a llama-server that takes an address list; see socket-hosts.ts). */
  socket?: string | undefined;
  ctxSize?: number | undefined;
  gpuLayers?: number | undefined;
  threads?: number | undefined;
  parallel?: number | undefined;
  apiKey?: string | undefined;
  /** llama.cpp RPC workers (`host:port`), for `--rpc`: only llama-server has the RPC backend. */
  rpc?: readonly string[] | undefined;
  /** Passed through last, so they win over ours (the engines' parsers keep the last value). */
  extraArgs?: readonly string[] | undefined;
}

/**
 * The server kind that will actually run: a 0.9 llamafile given `--v2` runs llamafiler, whose flags differ.
 * (`--version` on a llamafile prints `llamafile v0.9.x` either way; only `--server --v2` selects the v2 server.)
 */
export function effectiveKind(kind: RuntimeKind, extraArgs: readonly string[] = []): RuntimeKind {
  return kind === 'llamafile-legacy' && extraArgs.includes('--v2') ? 'llamafiler' : kind;
}

/**
 * The argv (without the executable) that starts `kind` as an HTTP server.
 *
 * - llamafile 0.8/0.9: `--server --nobrowser` always (no chat REPL grabs the terminal, no browser opens; llamafile
 *   0.8.13 `main.cpp` picks the mode, `server.cpp` opens the browser unless `--nobrowser`), plus `--log-disable`, which
 *   sends the log to stdout instead of a `llama.log` file in the cwd (0.8.13 `server.cpp`; llama.cpp PR #4260) so the
 *   offload and listening lines reach us.
 * - llamafiler (0.9 `--v2`): `-l HOST:PORT`; it has no `--host/--port/--nobrowser/--api-key` and exits 1 on an
 *   unknown flag (llamafile 0.9.3 `llamafile/flags.cpp`), so none of those are passed and an API key is refused up
 *   front.
 * - llamafile 0.10: `--server` only. `--nobrowser` is not among 0.10's documented flags (mozilla-ai/llamafile
 *   `docs/cli_arguments.md`; whether 0.10 accepts it is unconfirmed) and 0.10 fails on flags it does not know
 *   ("error: invalid argument", #936); in `--server` mode it runs upstream llama-server, which opens no browser. So
 *   passing it risks a fatal error for no gain.
 * - llama-server: upstream flags; `--port` always, since its default port is about to change (llama.cpp
 *   `tools/server/server.cpp` warns that it becomes 9931).
 *
 * The API key of llama-server and llamafile 0.10 travels in the environment (`buildServerEnv`), not here.
 */
export function buildServerArgs(kind: RuntimeKind, options: ServerArgsOptions): string[] {
  const extra = options.extraArgs ?? [];
  const model = options.modelPath === undefined ? [] : ['-m', options.modelPath];
  if (kind === 'llama-server' && options.modelPath === undefined) {
    throw new UsageError('llama-server needs weights: pass a .gguf (or .llamafile) as the model, with llama-server as the runtime.', {
      option: 'runtime',
    });
  }
  if (options.rpc?.length && kind !== 'llama-server') {
    throw new UsageError(`${kind === 'llamafile-0.10' ? 'llamafile 0.10' : 'llamafile'} runtimes do not include llama.cpp's RPC backend, so they cannot use --rpc workers.`, {
      hint: 'Serve with llama-server (a llama.cpp build with -DGGML_RPC=ON): --runtime PATH/llama-server, or leave --runtime out.',
    });
  }
  const common = [
    ...flag('-c', options.ctxSize),
    ...flag('-ngl', options.gpuLayers),
    ...flag('-t', options.threads),
  ];
  switch (kind) {
    case 'llamafiler': {
      if (options.apiKey !== undefined) {
        throw new UsageError('llamafiler (--v2) does not support API keys.', {
          hint: 'Leave out apiKey, or run the v1 server (leave out --v2).',
          option: 'apiKey',
        });
      }
      const host = options.host.includes(':') ? `[${options.host}]` : options.host;
      const rest = extra.filter((arg) => arg !== '--v2');
      return ['--server', '--v2', ...model, '-l', `${host}:${options.port}`, ...common,
        ...flag('-s', options.parallel), ...rest];
    }
    case 'llamafile-legacy':
      return ['--server', '--nobrowser', '--log-disable', ...model, ...hostPort(options), ...common,
        ...flag('-np', options.parallel), ...flag('--api-key', options.apiKey), ...extra];
    case 'llamafile-0.10':
      return ['--server', ...model, ...hostPort(options), ...common, ...flag('-np', options.parallel),
        ...offloadLogging(options, extra), ...extra];
    case 'llama-server':
      return [...model, ...hostPort(options), ...common, ...flag('-np', options.parallel), ...flag('--rpc', options.rpc?.join(',')),
        ...offloadLogging(options, extra), ...extra];
  }
}

/**
 * Environment variables the engine needs on top of ours. An argv is readable by every local user (`ps aux`,
 * /proc/PID/cmdline), the environment only by the owner, so the API key goes there where the engine reads it:
 * upstream llama-server, which llamafile 0.10 runs, takes `--api-key` from LLAMA_API_KEY (common/arg.cpp). llamafile
 * 0.8/0.9 know only the flag, so buildServerArgs passes it on their argv (a README known limitation).
 */
export function buildServerEnv(kind: RuntimeKind, options: Pick<ServerArgsOptions, 'apiKey'>): Record<string, string> {
  const upstream = kind === 'llama-server' || kind === 'llamafile-0.10';
  return upstream && options.apiKey !== undefined ? { LLAMA_API_KEY: options.apiKey } : {};
}

/**
 * Upstream llama.cpp prints "load_tensors: offloaded N/M layers to GPU" only at verbosity 4: libllama's INFO lines
 * map to its TRACE level (common/log.cpp), above the default threshold of 3. Seen on a CUDA build on an H100
 * (test/fixtures/gpu/). So ask for it when layers are offloaded, unless the user set a verbosity of their own.
 */
function offloadLogging(options: ServerArgsOptions, extra: readonly string[]): string[] {
  if (!options.gpuLayers || options.gpuLayers <= 0) return [];
  const own = ['-lv', '--verbosity', '--log-verbosity', '-v', '--verbose', '--log-verbose'];
  return extra.some((arg) => own.includes(arg.split('=')[0] ?? arg)) ? [] : ['-lv', '4'];
}

function hostPort(options: ServerArgsOptions): string[] {
  const host = options.socket === undefined ? options.host : `${options.host},${options.socket}`;
  return ['--host', host, '--port', String(options.port)];
}

function flag(name: string, value: string | number | undefined): string[] {
  return value === undefined ? [] : [name, String(value)];
}

/** Where readiness is probed: llamafiler has no /health, and its docs call /v1/models the health check
 * (llamafile 0.9.3 `llamafile/server/doc/endpoints.md`). */
export function healthPath(kind: RuntimeKind): string {
  return kind === 'llamafiler' ? '/v1/models' : '/health';
}

/**
 * A GET that upstream llama-server answers from its task loop, not its HTTP thread (`/slots`, on by default): once
 * it answers, the loop runs and a SIGTERM is handled. Before that, /health already says 200 while a SIGTERM is lost
 * (tools/server/server.cpp sets is_ready, then installs the handler; server_queue::start_loop then sets
 * `running = true` over the terminate() that handler did). Measured with llama.cpp b8000-series: 2 of 52 SIGTERMs
 * sent at /health 200 were lost; none of 80 sent 300 ms later. The old llamafile servers have no such loop probe.
 */
export function loopPath(kind: RuntimeKind): string | undefined {
  return kind === 'llama-server' || kind === 'llamafile-0.10' ? '/slots' : undefined;
}
