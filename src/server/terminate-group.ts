import { isAlive } from '../system/process-facts.js';

/** Sends `signal` to the process group `pgid`; false when the group is already gone. */
function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (error) {
    if ((error as { code?: string }).code === 'ESRCH') return false;
    throw error;
  }
}

export interface TerminateOptions {
  /** How long SIGTERM gets before SIGKILL. @default 5000 */
  graceMs?: number | undefined;
  /** Resolves when the group leader is gone (for a child of ours: its exit; otherwise polled). */
  gone: () => Promise<unknown>;
}

/** When SIGTERM is repeated, if the group is still there. */
const REPEAT_TERM_MS = 1000;

/**
 * SIGTERM to the whole group, SIGKILL after the grace period, then waits until the leader is gone.
 * SIGTERM is sent a second time after a second: llama-server loses a SIGTERM that lands between installing its
 * handler and entering its main loop (`start_loop()` sets `running = true` again, LC server-queue.cpp), and its
 * handler treats a second signal as "terminate immediately".
 */
export async function terminateGroup(pgid: number, options: TerminateOptions): Promise<void> {
  if (!signalGroup(pgid, 'SIGTERM')) {
    await options.gone();
    return;
  }
  const graceMs = options.graceMs ?? 5000;
  const timers: NodeJS.Timeout[] = [];
  const graceOver = new Promise<'timeout'>((resolve) => {
    if (graceMs > REPEAT_TERM_MS) timers.push(setTimeout(() => signalGroup(pgid, 'SIGTERM'), REPEAT_TERM_MS));
    timers.push(setTimeout(() => resolve('timeout'), graceMs));
  });
  const outcome = await Promise.race([options.gone().then(() => 'gone' as const), graceOver]);
  for (const timer of timers) clearTimeout(timer);
  if (outcome === 'timeout') {
    signalGroup(pgid, 'SIGKILL');
    await options.gone();
  }
}

/** Resolves when `pid` no longer exists (for processes that are not our children, e.g. detached servers). */
export async function waitForPidGone(pid: number, pollMs = 50): Promise<void> {
  while (isAlive(pid)) await new Promise((resolve) => setTimeout(resolve, pollMs));
}
