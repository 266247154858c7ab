import { readdirSync, readFileSync } from 'node:fs';
import { statFields } from '../system/process-facts.js';

/** Work a process tree has done so far: CPU time in clock ticks (1/100 s) and bytes read. */
export interface Activity {
  ticks: number;
  bytes: number;
}

/**
 * How much work a process and its descendants have done so far: CPU ticks (their own and their reaped children's)
 * and bytes read. It grows while an engine loads a model silently (reading tensors, faulting in mmapped pages,
 * warming up) and hardly moves while it is stuck. Linux only (/proc); undefined elsewhere or once the process is gone.
 */
export function treeActivity(rootPid: number): Activity | undefined {
  if (process.platform !== 'linux') return undefined;
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return undefined;
  }
  const children = new Map<number, number[]>();
  const ticks = new Map<number, number>();
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = statFields(Number(entry));
    if (!fields) continue;
    const pid = Number(entry);
    const ppid = Number(fields[1]);
    // After the command name: state, ppid, …, utime (14), stime (15), cutime (16), cstime (17) → indexes 11–14.
    ticks.set(pid, [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i] ?? 0), 0));
    const siblings = children.get(ppid);
    if (siblings) siblings.push(pid);
    else children.set(ppid, [pid]);
  }
  if (!ticks.has(rootPid)) return undefined;
  const total: Activity = { ticks: 0, bytes: 0 };
  const queue = [rootPid];
  for (let pid = queue.pop(); pid !== undefined; pid = queue.pop()) {
    total.ticks += ticks.get(pid) ?? 0;
    total.bytes += bytesRead(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return total;
}

/**
 * Whether the tree did real work between two samples `elapsedMs` apart: at least 1 MiB read or a tenth of a core
 * busy. Answering our own health probes costs far less, so a stuck engine that still answers 503 is not "working".
 */
export function madeProgress(before: Activity, after: Activity, elapsedMs: number): boolean {
  return after.bytes - before.bytes >= 1024 * 1024 || after.ticks - before.ticks >= Math.max(1, elapsedMs / 100);
}

/** rchar (read calls, page cache included) + read_bytes (from the disk, e.g. mmap faults); 0 if unreadable. */
function bytesRead(pid: number): number {
  try {
    const io = readFileSync(`/proc/${pid}/io`, 'latin1');
    const rchar = /^rchar: (\d+)/m.exec(io);
    const disk = /^read_bytes: (\d+)/m.exec(io);
    return Number(rchar?.[1] ?? 0) + Number(disk?.[1] ?? 0);
  } catch {
    return 0;
  }
}
