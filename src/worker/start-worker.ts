import { mkdir } from 'node:fs/promises';
import { AbortError, PortInUseError, ServerExitError, ServerStartError, UsageError } from '../errors.js';
import { launchEngine, type EngineProcess } from '../server/launch-engine.js';
import { assertPortFree, findFreePort } from '../server/ports.js';
import { describeExit, isCleanExit, type ServerExit } from '../server/supervise.js';
import { terminateGroup } from '../server/terminate-group.js';
import { warmWatchdog } from '../server/watchdog.js';
import { runDir } from '../store/paths.js';
import { claimServerName, logFilePath, removeServer, saveServer } from '../store/servers.js';
import { acceptsTcp } from '../system/accepts-tcp.js';
import { processStartTime } from '../system/process-facts.js';
import { findRpcServer } from './find-rpc-server.js';
import { buildWorkerArgs, rpcServerCaps } from './worker-args.js';
import { isLoopback } from '../system/loopback.js';
import { parseWorkerBanner, type WorkerBanner } from './worker-banner.js';

/** rpc-server's own default port. */
export const DEFAULT_WORKER_PORT = 50052;

export interface StartWorkerOptions {
  /** @default '127.0.0.1' */
  host?: string | undefined;
  /** 0 picks a free port. @default 50052 (rpc-server's default) */
  port?: number | undefined;
  /** `-m MB` on rpc-server builds that still have it (see buildWorkerArgs). */
  memMb?: number | undefined;
  threads?: number | undefined;
  /** rpc-server's local tensor cache (`-c`). */
  cache?: boolean | undefined;
  /** The rpc-server binary. @default found by findRpcServer */
  rpcServer?: string | undefined;
  /** The llama-server whose directory is searched for rpc-server first. */
  llamaServer?: string | undefined;
  /** Background mode: a log file and a record under runDir(), so `ps`, `logs` and `stop` find it. */
  detach?: boolean | undefined;
  /** @default `rpc-worker`, `rpc-worker-2`, … */
  name?: string | undefined;
  /** Give up when it does not accept connections within this time. @default 30_000 */
  timeoutMs?: number | undefined;
  /** SIGTERM → SIGKILL grace on stop. @default 5000 */
  stopGraceMs?: number | undefined;
  /** Told once, before the start, when the bind is not loopback (the protocol has no authentication). */
  onWarning?: ((message: string) => void) | undefined;
  onLog?: ((line: string) => void) | undefined;
  signal?: AbortSignal | undefined;
  env?: NodeJS.ProcessEnv | undefined;
}

export interface RunningWorker {
  name: string;
  host: string;
  port: number;
  /** `host:port`, what a head's `--rpc` takes. */
  address: string;
  readonly pid: number;
  rpcServer: string;
  argv: readonly string[];
  /** What the worker printed when it started: protocol version and devices with their memory. */
  banner: WorkerBanner;
  logFile: string | undefined;
  readyMs: number;
  exited: Promise<ServerExit>;
  /**
   * Waits for the end: resolves when the worker was stopped (`stop()`, the start `signal`) or exited with code 0;
   * rejects with a ServerExitError (its exit, last output, how long it ran) when it died.
   */
  wait(): Promise<ServerExit>;
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export const UNAUTHENTICATED_WARNING =
  "llama.cpp's RPC protocol has no authentication and no encryption: anyone who can reach this port can send the " +
  'worker commands and data. Expose it only on a trusted network (a VPN or a private link between your machines), ' +
  'never on the internet.';

/**
 * Starts llama.cpp's `rpc-server` (in its own process group, under the watchdog) and resolves once it accepts TCP
 * connections.
 *
 * @example
 * await using worker = await startWorker({ port: 0 });
 * await using head = await startServer({ model: 'm.gguf', runtime: 'llama-server', rpc: [worker.address], gpuLayers: 99 });
 */
export async function startWorker(options: StartWorkerOptions = {}): Promise<RunningWorker> {
  const { env, host = '127.0.0.1', timeoutMs = 30_000, stopGraceMs = 5000 } = options;
  validate(options);
  warmWatchdog();
  if (!isLoopback(host)) options.onWarning?.(`Binding to ${host}: ${UNAUTHENTICATED_WARNING}`);
  const found = await findRpcServer({ explicit: options.rpcServer, llamaServer: options.llamaServer, env });
  const caps = await rpcServerCaps(found.path);
  const requested = options.port ?? DEFAULT_WORKER_PORT;
  const port = requested === 0 ? await findFreePort(host) : requested;
  if (requested !== 0) await assertPortFree(host, port);
  const args = buildWorkerArgs({ host, port, threads: options.threads, cache: options.cache, memMb: options.memMb }, caps);

  await using claim = options.detach ? await claimServerName('rpc-worker', options.name, env) : undefined;
  const name = claim?.name ?? options.name ?? 'rpc-worker';
  let logFile: string | undefined;
  if (options.detach) {
    await mkdir(runDir(env), { recursive: true, mode: 0o700 });
    logFile = logFilePath(name, env);
  }
  const lines: string[] = [];
  let bannerSeen: () => void = () => {};
  const banner = new Promise<void>((resolve) => (bannerSeen = resolve));
  const engine = await launchEngine({
    executable: { path: found.path, ape: false },
    args,
    env,
    logFile,
    onLine: (line) => {
      if (lines.length < 64) lines.push(line);
      if (/Accepted client connection/.test(line)) bannerSeen();
      options.onLog?.(line);
    },
  });
  try {
    await waitAccepting(engine, host, port, timeoutMs, options.signal);
    // rpc-server's stdout is block-buffered when it is not a terminal; it flushes when it accepts a client, so the
    // banner (version, devices) arrives just after our readiness probe connected.
    await Promise.race([banner, engine.exited, new Promise((resolve) => setTimeout(resolve, 1000))]);
  } catch (error) {
    await terminateGroup(engine.pid, { graceMs: 2000, gone: () => engine.exited });
    throw error;
  }
  const readyMs = Date.now() - engine.startedAt;
  const address = `${host}:${port}`;
  const stopEngine = () => terminateGroup(engine.pid, { graceMs: stopGraceMs, gone: () => engine.exited });
  if (options.detach) {
    try {
      await saveServer(
        {
          name, pid: engine.pid, startTime: (await processStartTime(engine.pid)) ?? '', url: `rpc://${address}`, host, port,
          model: 'rpc-server', runtime: 'rpc-server', healthPath: '', argv: engine.command, logFile: logFile!,
          createdAt: new Date().toISOString(), kind: 'worker',
        },
        env,
      );
    } catch (error) {
      await stopEngine();
      throw error;
    }
    engine.release();
  }
  const exited = engine.exited.then((exit) => ({
    ...exit, reason: describeExit(exit), outputTail: engine.tail(), durationMs: Date.now() - engine.startedAt,
  }));
  let stopping: Promise<void> | undefined;
  const worker: RunningWorker = {
    name, host, port, address, pid: engine.pid, rpcServer: found.path, argv: engine.command,
    banner: parseWorkerBanner(lines), logFile, readyMs, exited,
    async wait() {
      const exit = await exited;
      if (stopping || isCleanExit(exit)) return exit;
      const tail = exit.outputTail.trimEnd();
      throw new ServerExitError(
        `The worker ${exit.reason}.${tail ? `\n--- last output ---\n${tail}\n---` : ''}`,
        { command: engine.command, exitCode: exit.exitCode, signal: exit.signal, outputTail: tail, durationMs: exit.durationMs },
        { hint: 'Its output says why; heads using it fail until it runs again.' },
      );
    },
    stop() {
      stopping ??= (async () => {
        await stopEngine();
        if (options.detach) await removeServer(name, env);
      })();
      return stopping;
    },
    [Symbol.asyncDispose]() {
      return worker.stop();
    },
  };
  if (!options.detach) options.signal?.addEventListener('abort', () => void worker.stop(), { once: true });
  return worker;
}

/** Polls until host:port accepts (10 ms, backing off to 100 ms); fails at once if the process exits first. */
async function waitAccepting(
  engine: EngineProcess, host: string, port: number, timeoutMs: number, signal: AbortSignal | undefined,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let pause = 10;
  for (;;) {
    if (signal?.aborted) throw new AbortError('The worker start was aborted.', { cause: signal.reason });
    if (engine.exit) throw startFailure(engine, host, port);
    if (await acceptsTcp(host, port, 1000)) {
      // Something accepted: make sure it is our process and not one that took the port in the meantime.
      if (!engine.exit) return;
    }
    if (Date.now() > deadline) {
      throw new ServerStartError(
        `rpc-server did not accept connections on ${host}:${port} within ${Math.round(timeoutMs / 1000)} s.`,
        { command: engine.command, outputTail: engine.tail() },
        { hint: 'Its output (llamactl logs, or --verbose) says why.' },
      );
    }
    await Promise.race([new Promise((resolve) => setTimeout(resolve, pause)), engine.exited]);
    pause = Math.min(100, pause * 2);
  }
}

function startFailure(engine: EngineProcess, host: string, port: number): Error {
  const tail = engine.tail().trimEnd();
  if (/Failed to create server socket/.test(tail)) {
    return new PortInUseError(port, host, { hint: 'Pick another port, or check that the host is an address of this machine.' });
  }
  const usage = /error: unknown argument: (\S+)/.exec(tail);
  const why = usage ? `it does not know the flag ${usage[1]}` : describeExit(engine.exit!);
  return new ServerStartError(
    `rpc-server ${usage ? 'refused to start' : why} before accepting connections${usage ? `: ${why}` : ''}.` +
      (tail ? `\n--- last output ---\n${tail.slice(-2000)}\n---` : ''),
    { command: engine.command, exitCode: engine.exit?.exitCode, signal: engine.exit?.signal, outputTail: tail },
    { hint: 'Its output says why; check the rpc-server binary (a llama.cpp build with -DGGML_RPC=ON).' },
  );
}

function validate(options: StartWorkerOptions): void {
  const checks: [string, number | undefined, number, number][] = [
    ['port', options.port, 0, 65535],
    ['threads', options.threads, 1, 4096],
    ['memMb', options.memMb, 1, 2 ** 40],
    ['timeoutMs', options.timeoutMs, 1, 2 ** 31 - 1],
  ];
  for (const [field, value, min, max] of checks) {
    if (value !== undefined && (!Number.isInteger(value) || value < min || value > max)) {
      throw new UsageError(`Bad ${field}: ${JSON.stringify(value)} (expected an integer from ${min} to ${max}).`, {
        option: field,
      });
    }
  }
  if (options.host !== undefined && !/^[A-Za-z0-9.:-]{1,253}$/.test(options.host)) {
    throw new UsageError(`Bad host ${JSON.stringify(options.host)}.`, { option: 'host' });
  }
}
