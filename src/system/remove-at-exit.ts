import { rmSync } from 'node:fs';

const pending = new Set<string>();
let hooked = false;

/** Removes `path` (a file, or a folder with what is in it) when our process exits, unless `removeNow` came first. */
export function removeAtExit(path: string): void {
  pending.add(path);
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    for (const left of pending) rmSync(left, { recursive: true, force: true });
  });
}

/** Removes `path` now, and no longer at exit. */
export function removeNow(path: string): void {
  rmSync(path, { recursive: true, force: true });
  pending.delete(path);
}
