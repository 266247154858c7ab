import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';

/**
 * The engine must not outlive llamactl, even when llamactl is SIGKILLed and no exit hook runs. The watchdog is a
 * tiny detached node process that holds the read end of a pipe from us: the kernel closes that pipe however we
 * die, and the watchdog then terminates every process group it was told about (SIGTERM, SIGKILL after `graceMs`).
 * `+PGID` / `-PGID` lines add and remove groups; one watchdog serves all the servers of this process and exits a while
 * (LINGER_MS) after none is left. Portable (Linux and macOS), unlike PR_SET_PDEATHSIG. It runs from `node -e` so it works the same
 * from dist/ and from the TypeScript sources under test.
 */
const WATCHDOG_SOURCE = `
process.title = 'llamactl-watchdog';
const { readdirSync, readFileSync } = require('node:fs');
const graceMs = Number(process.argv[1]);
const mark = process.argv[2] ? Buffer.from('LLAMACTL_WATCHDOG=' + process.argv[2] + '\\0') : undefined;
const groups = new Set();
const released = new Set();
let pending = '';
// The groups of processes that carry our mark in their environment (Linux): an engine spawned a moment before its
// group was sent here is found too. Those sent back with '-' (released, or stopped on purpose) are left alone.
const marked = () => {
  const found = [];
  let names = [];
  try { names = mark ? readdirSync('/proc') : []; } catch {}
  for (const name of names) {
    if (!/^[0-9]+$/.test(name)) continue;
    try {
      if (!readFileSync('/proc/' + name + '/environ').includes(mark)) continue;
      const stat = readFileSync('/proc/' + name + '/stat', 'latin1');
      const pgid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
      if (pgid > 1) found.push(pgid);
    } catch {}
  }
  return found;
};
for (const name of ['SIGINT', 'SIGHUP', 'SIGTERM']) process.on(name, () => {});
const alive = (pgid) => { try { process.kill(-pgid, 0); return true; } catch { return false; } };
const signal = (name) => { for (const pgid of groups) { try { process.kill(-pgid, name); } catch {} } };
const fire = () => {
  for (const pgid of marked()) if (!released.has(pgid)) groups.add(pgid);
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
    if (line[0] === '+') { groups.add(pgid); released.delete(pgid); } else { groups.delete(pgid); released.add(pgid); }
  }
});
process.stdin.on('end', fire);
process.stdin.on('error', fire);
process.stdin.resume();
`;

const GRACE_MS = 1000;
/**
 * How long an idle watchdog is kept after its last engine, so that the next server of this process does not boot
 * one: a `node` start-up is tens of ms of CPU, spent right beside the loading engine (measured by bench:serve on 2
 * cores: 60-100 ms more to ready). It holds no event loop open, and exits at once with us (its pipe closes).
 */
const LINGER_MS = 30_000;
let lingering: NodeJS.Timeout | undefined;

let shared: { child: ChildProcess; groups: Set<number>; token: string } | undefined;
/** While held (a gateway starting engines on demand), the watchdog stays up between engines: no node start-up per load. */
let holds = 0;

export interface Watchdog {
  /** Tells the watchdog the engine is being stopped on purpose (or has exited). */
  disarm(): void;
}

/**
 * Starts this process's watchdog now if it is not running, so that it has booted by the time an engine needs it
 * (a `node` start-up on a busy machine can take a while). It never keeps our event loop alive.
 */
export function warmWatchdog(): void {
  clearTimeout(lingering);
  if (shared) return;
  const token = randomBytes(16).toString('hex');
  const child = spawn(process.execPath, ['-e', WATCHDOG_SOURCE, String(GRACE_MS), token], {
    detached: true,
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  child.on('error', () => {});
  // One that died (killed by someone) is replaced by the next server instead of being written to.
  child.once('exit', () => {
    if (shared?.child === child) shared = undefined;
  });
  child.stdin?.on('error', () => {});
  child.unref();
  (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  shared = { child, groups: new Set(), token };
}

/**
 * The environment entry that marks an engine as this watchdog's before it is spawned: if we are killed between the
 * spawn and `startWatchdog`, the watchdog still finds it (Linux, through /proc).
 */
export function watchdogMark(): Record<string, string> {
  warmWatchdog();
  return { LLAMACTL_WATCHDOG: shared!.token };
}

/** Puts the process group `pgid` under the watchdog. It never keeps our event loop alive. */
export function startWatchdog(pgid: number): Watchdog {
  warmWatchdog();
  const watchdog = shared!;
  watchdog.groups.add(pgid);
  watchdog.child.stdin?.write(`+${pgid}\n`);
  let done = false;
  return {
    disarm() {
      if (done) return;
      done = true;
      watchdog.groups.delete(pgid);
      watchdog.child.stdin?.write(`-${pgid}\n`);
      if (watchdog.groups.size === 0) linger(watchdog);
    },
  };
}

/** Keeps this process's watchdog running until the returned function is called, even with no engine to watch. */
export function holdWatchdog(): () => void {
  warmWatchdog();
  holds++;
  let released = false;
  return () => {
    if (released) return;
    released = true;
    holds--;
    if (shared && shared.groups.size === 0) linger(shared);
  };
}

/** The watchdog has nothing to watch: let it go after LINGER_MS unless a server (or a hold) comes first. */
function linger(watchdog: NonNullable<typeof shared>): void {
  if (holds > 0 || shared !== watchdog) return;
  clearTimeout(lingering);
  lingering = setTimeout(() => {
    if (shared !== watchdog || holds > 0 || watchdog.groups.size > 0) return;
    watchdog.child.stdin?.end();
    shared = undefined;
  }, LINGER_MS);
  lingering.unref();
}
