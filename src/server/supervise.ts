import pRetry from 'p-retry';
import { ServerStartError, type LlamactlError } from '../errors.js';
import type { ExitInfo } from './launch-engine.js';
import type { LaunchedServer } from './launch-ready.js';

export interface RestartEvent {
  /** 1 for the first restart. */
  attempt: number;
  /** How the previous run ended (or why the restart attempt failed), to follow "the server": "exited with code 1". */
  reason: string;
  /** Restarts left after this one. */
  retriesLeft: number;
}

/** How a server went down for good. */
export interface ServerExit extends ExitInfo {
  /** To follow "the server": "was killed by SIGKILL", "exited with code 1 before it was ready", … */
  reason: string;
  /** The last output of the run that ended it. */
  outputTail: string;
  /** How long that run lived (spawn → exit), in ms. */
  durationMs?: number | undefined;
  /** A head on RPC workers: the worker that brought it down, as that worker's typed error (WorkerLostError, …). */
  rpcError?: LlamactlError | undefined;
}

export interface SuperviseOptions {
  first: LaunchedServer;
  restart: 'no' | 'on-failure';
  maxRestarts: number;
  signal: AbortSignal;
  isStopping: () => boolean;
  relaunch: () => Promise<LaunchedServer>;
  onRestart?: ((event: RestartEvent) => void) | undefined;
}

/** A run that stayed up this long counts as healthy: its crash does not use up the restart budget. */
const STABLE_MS = 60_000;

/** @internal Control flow inside supervise(): a run that crashed, for the retry loop; never leaves this file. */
class Crashed extends Error {
  constructor(readonly ranMs: number) {
    super('crashed');
  }
}

/** "exited with code 1" / "was killed by SIGKILL". */
export function describeExit(exit: ExitInfo): string {
  return exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.exitCode}`;
}

/** The signals that ask a process to stop (as systemd's `Restart=on-failure` counts them, less SIGPIPE). */
const STOP_SIGNALS: readonly string[] = ['SIGTERM', 'SIGINT', 'SIGHUP'];

/**
 * Not a failure: exit code 0 (llama-server shuts down cleanly on a SIGTERM from outside), or killed by a signal that
 * asks a process to stop (an engine that had not yet installed its handler, or one without any, such as rpc-server).
 */
export function isCleanExit(exit: ExitInfo): boolean {
  if (exit.signal !== undefined) return STOP_SIGNALS.includes(exit.signal);
  return exit.exitCode === 0;
}

/**
 * Watches a foreground server and, with `restart: 'on-failure'`, brings it back with exponential backoff (p-retry:
 * 0.5 s, 1 s, 2 s … at most 10 s), at most `maxRestarts` times in a row. A failure is an exit with a non-zero code or
 * by a signal while llamactl is not stopping it; a clean exit (see isCleanExit) is not restarted. Resolves with the last
 * exit once the server is down for good.
 */
export async function supervise(options: SuperviseOptions): Promise<ServerExit> {
  let current = options.first;
  let last: ServerExit = { exitCode: undefined, signal: undefined, reason: 'was stopped', outputTail: '' };
  const runOnce = async (attempt: number): Promise<void> => {
    if (attempt > 1) current = await options.relaunch();
    const started = Date.now();
    const exit = await current.engine.exited;
    const durationMs = Date.now() - current.engine.startedAt;
    last = { ...exit, reason: describeExit(exit), outputTail: current.engine.tail(), durationMs };
    if (options.isStopping() || options.restart === 'no' || isCleanExit(exit)) return;
    throw new Crashed(Date.now() - started);
  };
  const consumes = (error: Error) => !(error instanceof Crashed && error.ranMs >= STABLE_MS);
  try {
    await pRetry(runOnce, {
      retries: options.maxRestarts,
      minTimeout: 500,
      factor: 2,
      maxTimeout: 10_000,
      signal: options.signal,
      shouldConsumeRetry: ({ error }) => consumes(error),
      onFailedAttempt: ({ error, attemptNumber, retriesLeft }) => {
        if (options.isStopping()) return;
        if (!(error instanceof Crashed)) last = relaunchFailure(error);
        if (retriesLeft === 0) return;
        options.onRestart?.({
          attempt: attemptNumber,
          reason: last.reason,
          retriesLeft: consumes(error) ? retriesLeft - 1 : retriesLeft,
        });
      },
    });
  } catch {}
  return last;
}

/** A restart that failed before ready: its ServerStartError's first line, without "The server" and the tail. */
function relaunchFailure(error: Error): ServerExit {
  const details = error instanceof ServerStartError ? error.details : undefined;
  return {
    exitCode: details?.exitCode,
    signal: details?.signal,
    reason: (error.message.split('\n')[0] ?? '').replace(/^The server /, '').replace(/\.$/, ''),
    outputTail: details?.outputTail ?? '',
    durationMs: details?.durationMs,
  };
}
