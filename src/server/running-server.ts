import { LlamafileClient } from '../client/client.js';
import { ServerExitError } from '../errors.js';
import type { RuntimeInfo } from '../runtime/runtime-info.js';
import type { LaunchedServer } from './launch-ready.js';
import type { ReadinessTimes } from './wait-until-ready.js';
import { connectHost, formatUrl } from './parse-log-line.js';
import { isCleanExit, type ServerExit } from './supervise.js';
import { terminateGroup } from './terminate-group.js';

export interface RunningServer {
  name: string;
  url: string;
  host: string;
  port: number;
  /** The Unix socket it also listens on (`unixSocket`), as `net.connect({ path })` takes it; else undefined. */
  socketPath: string | undefined;
  /** PID of the engine (also its process group); changes after a restart. */
  readonly pid: number;
  model: string;
  runtime: RuntimeInfo;
  argv: readonly string[];
  logFile: string | undefined;
  /** The key clients must send (the generated one for `apiKey: 'auto'`); `client` sends it. */
  readonly apiKey: string | undefined;
  client: LlamafileClient;
  /** From the engine's "offloaded N/M layers to GPU" line, when it printed one. */
  readonly gpu: { offloaded: number; total: number } | undefined;
  /** Spawn → ready, in ms. */
  readyMs: number;
  /**
   * When the first launch's readiness conditions were seen (`performance.now()` of this process): spawn, the port's
   * first answer, /health 200, the "listening" line, the loop probe's answer, ready.
   */
  readiness: ReadinessTimes;
  /** Resolves when the server is down for good (stopped, exited, or crashed with no restarts left). */
  exited: Promise<ServerExit>;
  /**
   * Waits for the end: resolves when the server was stopped (`stop()`, the start `signal`) or shut down from outside
   * (exit code 0, or killed by SIGTERM/SIGINT/SIGHUP); rejects with a ServerExitError when it crashed (with no
   * restarts left), or with the worker's error (WorkerLostError, …) when an RPC worker brought it down.
   */
  wait(): Promise<ServerExit>;
  /** Stops the server (SIGTERM, SIGKILL after the grace period, whole process group). Idempotent. */
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** What a start mode (foreground, detached) hands over once its first launch is ready. */
export interface ServerParts {
  name: string;
  model: string;
  runtime: RuntimeInfo;
  logFile: string | undefined;
  apiKey: string | undefined;
  socketPath?: string | undefined;
  restart: 'no' | 'on-failure';
  stopGraceMs: number;
  first: LaunchedServer;
  /** The run serving now (another one after a restart). */
  current: () => LaunchedServer;
  gpu: () => { offloaded: number; total: number } | undefined;
  /** Watches the server until it is down for good; `stopping` is aborted once `stop()` is called. */
  watch: (stopping: AbortSignal) => Promise<ServerExit>;
  /** Runs on `stop()` once the engine is down (a detached server: remove its record). */
  afterStop?: (() => Promise<void>) | undefined;
}

/** The handle `startServer` returns, the same in every mode. */
export function runningServer(parts: ServerParts): RunningServer {
  const { first } = parts;
  const url = formatUrl(connectHost(first.host), first.port);
  const client = new LlamafileClient({ baseUrl: url, apiKey: parts.apiKey });
  const stopController = new AbortController();
  const exited = parts.watch(stopController.signal);
  let stopping: Promise<void> | undefined;
  const server: RunningServer = {
    name: parts.name,
    url,
    host: first.host,
    port: first.port,
    socketPath: parts.socketPath,
    get pid() {
      return parts.current().engine.pid;
    },
    model: parts.model,
    runtime: parts.runtime,
    argv: first.engine.command,
    logFile: parts.logFile,
    apiKey: parts.apiKey,
    client,
    get gpu() {
      return parts.gpu();
    },
    readyMs: first.readyMs,
    readiness: first.readiness,
    exited,
    async wait() {
      const exit = await exited;
      if (stopController.signal.aborted || isCleanExit(exit)) return exit;
      throw exit.rpcError ?? exitError(exit, server.argv, parts.restart);
    },
    stop() {
      stopping ??= (async () => {
        stopController.abort(new Error('stopped'));
        await terminateGroup(parts.current().engine.pid, {
          graceMs: parts.stopGraceMs,
          gone: () => parts.current().engine.exited,
        });
        await exited.catch(() => undefined);
        await client.close().catch(() => undefined);
        await parts.afterStop?.();
      })();
      return stopping;
    },
    [Symbol.asyncDispose]() {
      return server.stop();
    },
  };
  return server;
}

/** A server that was ready and went down on its own: what happened and its last output. */
function exitError(exit: ServerExit, command: readonly string[], restart: 'no' | 'on-failure'): ServerExitError {
  const tail = exit.outputTail.trimEnd();
  return new ServerExitError(
    `The server ${exit.reason}.${tail ? `\n--- last output ---\n${tail}\n---` : ''}`,
    { command, exitCode: exit.exitCode, signal: exit.signal, outputTail: tail, durationMs: exit.durationMs },
    {
      hint: restart === 'on-failure'
        ? 'It kept failing and has no restarts left; its output says why.'
        : "Its output says why; restart: 'on-failure' restarts a crashed server.",
    },
  );
}
