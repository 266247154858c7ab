import { spawn, type ChildProcess } from 'node:child_process';

/**
 * The engine must not outlive llamactl, even when llamactl is SIGKILLed and no exit hook runs. The watchdog is a
 * tiny detached node process that holds the read end of a pipe from us: the kernel closes that pipe however we
 * die, and the watchdog then terminates the engine's whole process group (SIGTERM, SIGKILL after `graceMs`).
 * A clean stop disarms it first ("d" on the pipe). Portable (Linux and macOS), unlike PR_SET_PDEATHSIG.
 * It runs from `node -e` so it works the same from dist/ and from the TypeScript sources under test.
 */
const WATCHDOG_SOURCE = `
process.title = 'llamactl-watchdog';
const pgid = Number(process.argv[1]);
const graceMs = Number(process.argv[2]);
let disarmed = false;
for (const name of ['SIGINT', 'SIGHUP', 'SIGTERM']) process.on(name, () => {});
const alive = () => { try { process.kill(-pgid, 0); return true; } catch { return false; } };
const fire = () => {
  if (disarmed || !alive()) process.exit(0);
  try { process.kill(-pgid, 'SIGTERM'); } catch {}
  const started = Date.now();
  const timer = setInterval(() => {
    if (!alive()) process.exit(0);
    if (Date.now() - started >= graceMs) {
      try { process.kill(-pgid, 'SIGKILL'); } catch {}
      process.exit(0);
    }
  }, 25);
};
process.stdin.on('data', (data) => { if (String(data).includes('d')) disarmed = true; });
process.stdin.on('end', fire);
process.stdin.on('error', fire);
process.stdin.resume();
`;

export interface Watchdog {
  /** Tells the watchdog the engine is being stopped on purpose, and lets it exit. */
  disarm(): void;
}

/** Starts a watchdog for the process group `pgid`. It never keeps our event loop alive. */
export function startWatchdog(pgid: number, graceMs = 1000): Watchdog {
  const child: ChildProcess = spawn(process.execPath, ['-e', WATCHDOG_SOURCE, String(pgid), String(graceMs)], {
    detached: true,
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  child.on('error', () => {});
  child.stdin?.on('error', () => {});
  child.unref();
  (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  let done = false;
  return {
    disarm() {
      if (done) return;
      done = true;
      child.stdin?.end('d');
    },
  };
}
