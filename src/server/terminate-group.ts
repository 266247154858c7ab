import { readFileSync } from 'node:fs';

/** Sends `signal` to the process group `pgid`; false when the group is already gone. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
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

/** SIGTERM to the whole group, SIGKILL after the grace period, then waits until the leader is gone. */
export async function terminateGroup(pgid: number, options: TerminateOptions): Promise<void> {
  if (!signalGroup(pgid, 'SIGTERM')) {
    await options.gone();
    return;
  }
  let timer: NodeJS.Timeout | undefined;
  const graceOver = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), options.graceMs ?? 5000);
  });
  const outcome = await Promise.race([options.gone().then(() => 'gone' as const), graceOver]);
  clearTimeout(timer);
  if (outcome === 'timeout') {
    signalGroup(pgid, 'SIGKILL');
    await options.gone();
  }
}

/** Resolves when `pid` no longer exists (for processes that are not our children, e.g. detached servers). */
export async function waitForPidGone(pid: number, pollMs = 50): Promise<void> {
  while (isAlive(pid)) await new Promise((resolve) => setTimeout(resolve, pollMs));
}

/** True while `pid` exists and is not a zombie (an unreaped zombie has exited; some container inits never reap). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as { code?: string }).code === 'EPERM';
  }
  if (process.platform !== 'linux') return true;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}
