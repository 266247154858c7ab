import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { LlamafileClient } from '../client/client.js';
import { ServerStartError, UsageError } from '../errors.js';
import { detectRuntime } from '../runtime/detect-runtime.js';
import type { RuntimeInfo } from '../runtime/runtime-info.js';
import { buildServerArgs, buildServerEnv, effectiveKind, healthPath } from '../runtime/server-args.js';
import { runDir } from '../store/paths.js';
import {
  claimServerName, logFilePath, processStartTime, removeServer, saveServer, serverNameFor,
} from '../store/servers.js';
import { connectHost, formatUrl } from './parse-log-line.js';
import { assertPortFree, findFreePort } from './ports.js';
import { checkServeFit, type ServeFitOptions } from './check-fit.js';
import { resolveModel } from './resolve-model.js';
import { launchReady, type LaunchedServer, type LaunchSpec } from './launch-ready.js';
import { describeExit, supervise, type RestartEvent, type ServerExit } from './supervise.js';
import { warmWatchdog } from './watchdog.js';
import { terminateGroup } from './terminate-group.js';
import { planRpcHead, type RpcHeadOptions } from './rpc/plan-rpc-head.js';

export type { RestartEvent, ServerExit } from './supervise.js';

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
  threads?: number | undefined;
  parallel?: number | undefined;
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

export interface RunningServer {
  name: string;
  url: string;
  host: string;
  port: number;
  /** PID of the engine (also its process group); changes after a restart. */
  readonly pid: number;
  model: string;
  runtime: RuntimeInfo;
  argv: readonly string[];
  logFile: string | undefined;
  client: LlamafileClient;
  /** From the engine's "offloaded N/M layers to GPU" line, when it printed one. */
  readonly gpu: { offloaded: number; total: number } | undefined;
  /** Spawn → ready, in ms. */
  readyMs: number;
  /** Resolves when the server is down for good (stopped, exited, or crashed with no restarts left). */
  exited: Promise<ServerExit>;
  /** Stops the server (SIGTERM, SIGKILL after the grace period, whole process group). Idempotent. */
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Starts a llamafile / llama-server and resolves once it answers its health check.
 *
 * @example
 * await using server = await startServer({ model: 'tiny.gguf', runtime: '/usr/local/bin/llama-server', ctxSize: 256 });
 * console.log((await server.client.health()).ok);
 */
export async function startServer(options: StartServerOptions): Promise<RunningServer> {
  const {
    model, env, host = '127.0.0.1', timeoutMs = 120_000, restart = 'no', maxRestarts = 5, stopGraceMs = 5000,
  } = options;
  validate(options);
  // Boots while the model is resolved and checked, so it is ready to act even if we are killed right after spawn.
  warmWatchdog();
  // A head on llama.cpp's RPC backend: workers checked, fit across machines, a llamafile's GGUF as a file.
  const rpcPlan = options.rpc?.length ? await planRpcHead(options) : undefined;
  const resolved = rpcPlan?.resolved ?? (await resolveModel(model, options.runtime, env));
  if (!rpcPlan) await checkServeFit(resolved.modelPath ?? resolved.executable, options);
  const runtime = await detectRuntime(resolved.executable, { env, signal: options.signal });
  const kind = effectiveKind(runtime.kind, options.extraArgs);
  if (options.port !== undefined && options.port !== 0) await assertPortFree(host, options.port);
  // Held until this function returns: by then the record exists (or the start failed), so the name stays taken.
  await using claim = options.detach ? await claimServerName(model, options.name, env) : undefined;
  const name = claim?.name ?? options.name ?? serverNameFor(model);
  let logFile: string | undefined;
  if (options.detach) {
    await mkdir(runDir(env), { recursive: true, mode: 0o700 });
    logFile = logFilePath(name, env);
  }

  let gpu: { offloaded: number; total: number } | undefined;
  const engineArgs = (port: number) => buildServerArgs(kind, {
    ...options, modelPath: resolved.modelPath, host, port,
    ...(rpcPlan && { rpc: rpcPlan.endpoints, extraArgs: [...rpcPlan.extraArgs, ...(options.extraArgs ?? [])] }),
  });
  const engineEnv = options.apiKey === undefined ? env : { ...(env ?? process.env), ...buildServerEnv(kind, options) };
  // Detached with restarts: a detached supervisor process (itself a foreground startServer) runs the engine.
  const supervised = options.detach && restart === 'on-failure';
  const spec = (port: number, signal: AbortSignal | undefined): LaunchSpec => ({
    ...(supervised
      ? supervisorLaunch(options, { ...(env ?? process.env) }, host, port)
      : { executable: runtime, args: engineArgs(port), env: engineEnv }),
    host,
    port,
    logFile,
    healthPath: healthPath(kind),
    idleTimeoutMs: timeoutMs,
    signal,
    onLine: options.onLog,
    onGpu: (value) => (gpu = value),
  });

  const first = await launchWithPort(options.port || undefined, host, (port) => spec(port, options.signal)).catch(
    async (error: unknown) => {
      throw rpcPlan ? await rpcPlan.explainStartError(error) : error;
    },
  );
  let current: LaunchedServer = first;
  const url = formatUrl(connectHost(first.host), first.port);
  const client = new LlamafileClient({ baseUrl: url, apiKey: options.apiKey });

  const stopController = new AbortController();
  let stopping: Promise<void> | undefined;
  const stopCurrent = () =>
    terminateGroup(current.engine.pid, { graceMs: stopGraceMs, gone: () => current.engine.exited });

  let exited: Promise<ServerExit>;
  if (options.detach) {
    try {
      const startTime = (await processStartTime(first.engine.pid)) ?? '';
      await saveServer(
        {
          name, pid: first.engine.pid, startTime, url, host: first.host, port: first.port, model,
          runtime: kind, healthPath: healthPath(kind), logFile: logFile!,
          argv: redactKey(supervised ? [runtime.path, ...engineArgs(first.port)] : first.engine.command),
          createdAt: new Date().toISOString(), gpu,
        },
        env,
      );
    } catch (error) {
      // A background server nobody can find again (no record) must not be left running.
      await stopCurrent();
      throw error;
    }
    first.engine.release();
    exited = first.engine.exited.then((exit) => ({ ...exit, reason: describeExit(exit), outputTail: first.engine.tail() }));
  } else {
    exited = supervise({
      first,
      restart,
      maxRestarts,
      signal: stopController.signal,
      isStopping: () => stopping !== undefined,
      relaunch: async () => (current = await launchReady(spec(first.port, stopController.signal))),
      onRestart: options.onRestart,
    });
  }

  if (rpcPlan) exited = exited.then((exit) => rpcPlan.explainExit(exit));

  const server: RunningServer = {
    name,
    url,
    host: first.host,
    port: first.port,
    get pid() {
      return current.engine.pid;
    },
    model,
    runtime,
    argv: first.engine.command,
    logFile,
    client,
    get gpu() {
      return gpu;
    },
    readyMs: first.readyMs,
    exited,
    stop() {
      stopping ??= (async () => {
        stopController.abort(new Error('stopped'));
        await stopCurrent();
        await exited.catch(() => undefined);
        await client.close().catch(() => undefined);
        if (options.detach) await removeServer(name, env);
      })();
      return stopping;
    },
    [Symbol.asyncDispose]() {
      return server.stop();
    },
  };
  if (!options.detach) options.signal?.addEventListener('abort', () => void server.stop(), { once: true });
  return server;
}

/** Launches on the fixed port, or on a free one; a free port can be taken in the meantime, so that is retried. */
async function launchWithPort(
  fixed: number | undefined,
  host: string,
  spec: (port: number) => LaunchSpec,
): Promise<LaunchedServer> {
  for (let attempt = 1; ; attempt++) {
    const port = fixed ?? (await findFreePort(host));
    try {
      return await launchReady(spec(port));
    } catch (error) {
      const lostRace = error instanceof ServerStartError && /couldn't bind|already in use/i.test(error.details.outputTail ?? '');
      if (fixed === undefined && lostRace && attempt < 3) continue;
      throw error;
    }
  }
}

function validate(options: StartServerOptions): void {
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
      throw new UsageError(`Bad ${field}: ${JSON.stringify(value)} (expected an integer from ${min} to ${max}).`);
    }
  }
}

/** The recorded argv must not carry the API key (`ps --json` prints records). */
function redactKey(argv: readonly string[]): string[] {
  return argv.map((arg, index) => (argv[index - 1] === '--api-key' ? '<redacted>' : arg));
}

/** How to start the detached supervisor (dist/server/detached-supervisor.js) for `options` on a fixed port. */
function supervisorLaunch(
  options: StartServerOptions,
  env: NodeJS.ProcessEnv,
  host: string,
  port: number,
): Pick<LaunchSpec, 'executable' | 'args' | 'env'> {
  const script = fileURLToPath(new URL('./detached-supervisor.js', import.meta.url));
  if (!existsSync(script)) {
    throw new UsageError('--detach with --restart needs the built package (dist/server/detached-supervisor.js).', {
      hint: 'Run `npm run build`.',
    });
  }
  const { signal, onLog, onRestart, onFit, env: _env, detach, restart, ...plain } = options;
  // The fit check already ran here, before the supervisor was spawned.
  env.LLAMACTL_SUPERVISOR_OPTIONS = JSON.stringify({ ...plain, force: true, host, port });
  return { executable: { path: process.execPath, ape: false }, args: [script], env };
}
