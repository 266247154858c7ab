import pRetry from 'p-retry';
import type { ExitInfo } from './launch-engine.js';
import type { LaunchedServer } from './launch-ready.js';

export interface RestartEvent {
  /** 1 for the first restart. */
  attempt: number;
  /** How the previous run ended (or why the restart attempt failed). */
  reason: string;
  retriesLeft: number;
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

class Crashed extends Error {
  constructor(
    readonly exit: ExitInfo,
    readonly ranMs: number,
  ) {
    super(exit.signal ? `killed by ${exit.signal}` : `exited with code ${exit.exitCode}`);
  }
}

/**
 * Watches a foreground server and, with `restart: 'on-failure'`, brings it back after a crash with exponential
 * backoff (p-retry: 0.5 s, 1 s, 2 s … at most 10 s), at most `maxRestarts` times in a row. Resolves with the last
 * exit once the server is down for good.
 */
export async function supervise(options: SuperviseOptions): Promise<ExitInfo> {
  let current = options.first;
  let lastExit: ExitInfo = { exitCode: undefined, signal: undefined };
  const runOnce = async (attempt: number): Promise<void> => {
    if (attempt > 1) current = await options.relaunch();
    const started = Date.now();
    lastExit = await current.engine.exited;
    if (options.isStopping() || options.restart === 'no') return;
    throw new Crashed(lastExit, Date.now() - started);
  };
  try {
    await pRetry(runOnce, {
      retries: options.maxRestarts,
      minTimeout: 500,
      factor: 2,
      maxTimeout: 10_000,
      signal: options.signal,
      shouldConsumeRetry: ({ error }) => !(error instanceof Crashed && error.ranMs >= STABLE_MS),
      onFailedAttempt: ({ error, attemptNumber, retriesLeft }) => {
        if (options.isStopping() || retriesLeft === 0) return;
        options.onRestart?.({ attempt: attemptNumber, reason: error.message, retriesLeft });
      },
    });
  } catch {}
  return lastExit;
}
