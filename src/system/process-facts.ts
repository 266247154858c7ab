// src/system/: facts about this machine's processes and files (liveness, /proc, atomic writes), below every other folder.
import { readFileSync } from 'node:fs';

/**
 * Fields of /proc/<pid>/stat after the command name (which may hold spaces and parentheses), from field 3 (state)
 * on: `[0]` is the state, `[1]` the ppid, `[19]` the start time. Undefined when the process is gone (or not Linux).
 */
export function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** True while `pid` exists and is not a zombie (an unreaped zombie has exited; some container inits never reap). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as { code?: string }).code === 'EPERM';
  }
  if (process.platform !== 'linux') return true;
  const fields = statFields(pid);
  return fields !== undefined && fields[0] !== 'Z';
}

/** Start time of `pid`: /proc/<pid>/stat field 22 on Linux, `ps -o lstart=` elsewhere; undefined if gone. */
export async function processStartTime(pid: number): Promise<string | undefined> {
  if (process.platform === 'linux') return statFields(pid)?.[19];
  const { execa } = await import('execa');
  const result = await execa('ps', ['-o', 'lstart=', '-p', String(pid)], { reject: false });
  const text = String(result.stdout ?? '').trim();
  return result.exitCode === 0 && text ? text : undefined;
}
