/** Small helpers the commands share for writing to the terminal. The library never prints; only src/cli does. */
import { AbortError } from '../errors.js';
export { formatBytes } from '../text/format-bytes.js';

const closed = new AbortController();
/** Aborted once stdout's reader has gone (`llamactl … | head`): commands stop, clean up and exit quietly. */
export const stdoutClosed: AbortSignal = closed.signal;

/** Call once at start-up: EPIPE on stdout aborts `stdoutClosed` instead of crashing with a stack trace. */
export function watchStdout(): void {
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    closed.abort(new AbortError('Standard output was closed.'));
  });
}

/** Writes one NDJSON line to stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

/** Joins sentences into one line, each closed by exactly one stop: `sentences('Failed: 127.0.0.1:1', 'Retry.')` →
 * `Failed: 127.0.0.1:1. Retry.` The one place a message meets its hint. */
export function sentences(...parts: (string | undefined)[]): string {
  return parts
    .map((part) => part?.trim() ?? '')
    .filter((part) => part !== '')
    .map((part) => (/[.!?]$/.test(part) ? part : `${part}.`))
    .join(' ');
}

/** A sentence without its closing punctuation, to be continued (`…; retrying`). */
export function clause(text: string): string {
  return text.trim().replace(/[.!?;:,]+$/, '');
}

/** Formats a duration in ms for people: 850 ms, 4.2 s, 3 min 5 s. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const minutes = Math.floor(ms / 60_000);
  return `${minutes} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/**
 * Calls `handler` on each Ctrl-C (SIGINT) or SIGTERM (or the signals named) until disposed. The one place commands
 * listen for interrupts: `withInterrupt` for a command that stops on the first one, directly for the chat REPL.
 */
export function onInterrupt(
  handler: (name: NodeJS.Signals) => void,
  signals: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM'],
): Disposable {
  for (const name of signals) process.on(name, handler);
  return {
    [Symbol.dispose]: () => {
      for (const name of signals) process.off(name, handler);
    },
  };
}

/**
 * Runs `body` with an AbortSignal that fires on the first Ctrl-C (SIGINT) or SIGTERM, or when stdout is closed. A
 * second Ctrl-C is left to Node's default (immediate exit), so a stuck command can always be interrupted.
 */
export async function withInterrupt<T>(body: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  using listening = onInterrupt((name) => {
    listening[Symbol.dispose]();
    controller.abort(new Error(`received ${name}`));
  });
  return await body(AbortSignal.any([controller.signal, stdoutClosed]));
}
