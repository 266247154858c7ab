import { randomBytes } from 'node:crypto';
import { link, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isAlive } from '../system/process-facts.js';
import { readSmallFile } from '../system/regular-file.js';

/** Tries at taking a lock that exists but may be stale (a takeover in progress elsewhere waits 10 ms a try). */
const MAX_ATTEMPTS = 50;

/** A lock holds a pid and nothing else. */
const MAX_LOCK_BYTES = 64;

/** The pid a lock's text names, if it names one (0 and negatives would make `kill(pid, 0)` ask about groups). */
function pidOf(text: string | undefined): number | undefined {
  const pid = Number.parseInt(text ?? '', 10);
  return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
}

/**
 * A lock file's text, `undefined` when there is none. Never blocks: a FIFO, device or oversized file in a lock's
 * place is a UsageError saying what it is (a plain read of a FIFO would wait forever).
 */
async function readLock(path: string): Promise<string | undefined> {
  return readSmallFile(path, MAX_LOCK_BYTES).catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  });
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
      const owner = pidOf(await readLock(join(lockDir, 'pid')));
      if (owner !== undefined && !isAlive(owner)) {
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

/** The pid in a lock file when that process is alive; `undefined` for no lock or a stale one. */
export async function lockOwner(lockFile: string): Promise<number | undefined> {
  return liveOwner(await readLock(lockFile).catch(() => undefined));
}

/** The pid a lock's text names when that process is alive. */
function liveOwner(text: string | undefined): number | undefined {
  const owner = pidOf(text);
  return owner !== undefined && isAlive(owner) ? owner : undefined;
}

/**
 * Takes `lockFile` (created whole, holding our pid) without waiting. Returns the release function, or the pid of the
 * live process that holds it. A lock left by a process that no longer exists is taken over.
 */
export async function tryFileLock(lockFile: string, mode = 0o644): Promise<{ release: () => Promise<void> } | { owner: number }> {
  for (let attempt = 0; ; attempt++) {
    try {
      await createLock(lockFile, mode);
      return { release: () => rm(lockFile, { force: true }) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= MAX_ATTEMPTS) throw error;
    }
    const text = await readLock(lockFile);
    if (text === undefined) continue;
    // Empty: the owner may be between creating the file and writing its pid; look again before taking it over.
    if (text === '' && attempt === 0) {
      await sleep(100);
      continue;
    }
    const owner = liveOwner(text);
    if (owner !== undefined) return { owner };
    await removeStale(lockFile, text);
  }
}

/**
 * Removes a lock judged stale, if it still is, while holding `<lock>.takeover`: of several processes that found the
 * same stale lock, only one removes it, and the others then find the lock that one made (removing by name without
 * this let a second taker remove the first one's new lock). A takeover lock whose holder is gone is removed.
 */
async function removeStale(lockFile: string, staleText: string): Promise<void> {
  const takeover = `${lockFile}.takeover`;
  try {
    await createLock(takeover, 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    if (liveOwner(await readLock(takeover).catch(() => undefined)) === undefined) await rm(takeover, { force: true });
    else await sleep(10);
    return;
  }
  try {
    if ((await readLock(lockFile)) === staleText) await rm(lockFile, { force: true });
  } finally {
    await rm(takeover, { force: true });
  }
}

/**
 * Creates `lockFile` holding our pid in one step: the pid is written to a private file that is then hard-linked into
 * place (which fails with EEXIST when the lock exists), so nobody reads a lock half written and takes it for stale.
 * Where the file system has no hard links, the lock is created with O_EXCL and written after.
 */
async function createLock(lockFile: string, mode: number): Promise<void> {
  const draft = `${lockFile}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(draft, String(process.pid), { flag: 'wx', mode });
  try {
    await link(draft, lockFile);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw error;
    await writeFile(lockFile, String(process.pid), { flag: 'wx', mode });
  } finally {
    await rm(draft, { force: true });
  }
}
