import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Runs `body` while holding a lock directory (`mkdir` is atomic). A lock left by a process that no longer exists is
 * taken over, so a build killed half-way does not block the next one forever.
 */
export async function withDirLock<T>(lockDir: string, body: () => Promise<T>, pollMs = 500): Promise<T> {
  for (;;) {
    try {
      await mkdir(lockDir);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = Number.parseInt(await readFile(join(lockDir, 'pid'), 'utf8').catch(() => ''), 10);
      if (Number.isInteger(owner) && !isAlive(owner)) {
        await rm(lockDir, { recursive: true, force: true });
        continue;
      }
      // No pid yet means the owner is between mkdir and writeFile: wait like for any live owner.
      await sleep(pollMs);
    }
  }
  try {
    await writeFile(join(lockDir, 'pid'), String(process.pid));
    return await body();
  } finally {
    await rm(lockDir, { recursive: true, force: true });
  }
}
