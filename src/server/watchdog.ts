import { spawn, type ChildProcess } from 'node:child_process';
import { setPriority } from 'node:os';

/**
 * The engine must not outlive llamactl, even when llamactl is SIGKILLed and no exit hook runs. The watchdog is a
 * tiny detached node process that holds the read end of a pipe from us: the kernel closes that pipe however we
 * die, and the watchdog then terminates every process group it was told about (SIGTERM, SIGKILL after `graceMs`).
 * `+PGID` / `-PGID` lines add and remove groups; one watchdog serves all the servers of this process and exits once
 * none is left. Portable (Linux and macOS), unlike PR_SET_PDEATHSIG. It runs from `node -e` so it works the same
 * from dist/ and from the TypeScript sources under test.
 */
const WATCHDOG_SOURCE = `
process.title = 'llamactl-watchdog';
const graceMs = Number(process.argv[1]);
const groups = new Set();
let pending = '';
for (const name of ['SIGINT', 'SIGHUP', 'SIGTERM']) process.on(name, () => {});
const alive = (pgid) => { try { process.kill(-pgid, 0); return true; } catch { return false; } };
const signal = (name) => { for (const pgid of groups) { try { process.kill(-pgid, name); } catch {} } };
const fire = () => {
  for (const pgid of groups) if (!alive(pgid)) groups.delete(pgid);
  if (groups.size === 0) process.exit(0);
  signal('SIGTERM');
  const started = Date.now();
  setInterval(() => {
    for (const pgid of groups) if (!alive(pgid)) groups.delete(pgid);
    if (groups.size === 0) process.exit(0);
    if (Date.now() - started >= graceMs) { signal('SIGKILL'); process.exit(0); }
  }, 25);
};
process.stdin.on('data', (data) => {
  const lines = (pending + data).split('\\n');
  pending = lines.pop();
  for (const line of lines) {
    const pgid = Number(line.slice(1));
    if (line[0] === '+') groups.add(pgid); else groups.delete(pgid);
  }
});
process.stdin.on('end', fire);
process.stdin.on('error', fire);
process.stdin.resume();
`;

const GRACE_MS = 1000;

let shared: { child: ChildProcess; groups: Set<number> } | undefined;

export interface Watchdog {
  /** Tells the watchdog the engine is being stopped on purpose (or has exited). */
  disarm(): void;
}

/** Puts the process group `pgid` under the watchdog. It never keeps our event loop alive. */
export function startWatchdog(pgid: number): Watchdog {
  if (!shared) {
    const child = spawn(process.execPath, ['-e', WATCHDOG_SOURCE, String(GRACE_MS)], {
      detached: true,
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    child.on('error', () => {});
    child.stdin?.on('error', () => {});
    // Lower CPU priority, so that its start-up does not slow the engine's model load (it only has to act once we
    // die; until then what we write waits in the pipe). Not the lowest: on a busy machine it must still get going
    // within the 2 s the engine may outlive us.
    if (child.pid !== undefined) {
      try {
        setPriority(child.pid, 10);
      } catch {}
    }
    child.unref();
    (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
    shared = { child, groups: new Set() };
  }
  const watchdog = shared;
  watchdog.groups.add(pgid);
  watchdog.child.stdin?.write(`+${pgid}\n`);
  let done = false;
  return {
    disarm() {
      if (done) return;
      done = true;
      watchdog.groups.delete(pgid);
      if (watchdog.groups.size > 0) {
        watchdog.child.stdin?.write(`-${pgid}\n`);
        return;
      }
      // The last group: let this watchdog go; the next server gets a fresh one.
      watchdog.child.stdin?.end(`-${pgid}\n`);
      if (shared === watchdog) shared = undefined;
    },
  };
}
