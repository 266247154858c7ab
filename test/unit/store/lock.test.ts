import { execa } from 'execa';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { UsageError } from '../../../src/errors.js';
import { lockOwner, tryFileLock, withDirLock } from '../../../src/store/lock.js';

let dir: string;
const children: { pid?: number | undefined; kill: () => boolean }[] = [];
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'llamactl-lock-'));
});
afterEach(async () => {
  for (const child of children.splice(0)) child.kill();
  await rm(dir, { recursive: true, force: true });
});

/** The pid of a process that has exited (and been reaped). */
async function deadPid(): Promise<number> {
  const child = execa(process.execPath, ['-e', '']);
  await child;
  return child.pid!;
}

/** A live process other than us, killed after the test. */
function otherProcess() {
  const child = execa(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { reject: false });
  children.push(child);
  return child;
}

test('tryFileLock: the first holder gets it; a second gets the holder pid until it is released', async () => {
  const file = join(dir, 'a.lock');
  const first = await tryFileLock(file, 0o600);
  expect('release' in first).toBe(true);
  expect(await readFile(file, 'utf8')).toBe(String(process.pid));
  expect((await stat(file)).mode & 0o777).toBe(0o600);
  expect(await tryFileLock(file)).toEqual({ owner: process.pid });
  expect(await lockOwner(file)).toBe(process.pid);
  if ('release' in first) await first.release();
  expect(await lockOwner(file)).toBeUndefined();
  const again = await tryFileLock(file);
  expect('release' in again).toBe(true);
});

test('tryFileLock: a lock held by another live process is refused, and taken over once that process is gone', async () => {
  const file = join(dir, 'b.lock');
  const holder = otherProcess();
  await writeFile(file, String(holder.pid));
  expect(await tryFileLock(file)).toEqual({ owner: holder.pid });
  holder.kill('SIGKILL');
  await holder;
  const taken = await tryFileLock(file);
  expect('release' in taken).toBe(true);
  expect(await readFile(file, 'utf8')).toBe(String(process.pid));
});

test("tryFileLock: a dead pid's lock, or one left empty, is taken over", async () => {
  const stale = join(dir, 'stale.lock');
  await writeFile(stale, String(await deadPid()));
  expect(await lockOwner(stale)).toBeUndefined();
  expect('release' in (await tryFileLock(stale))).toBe(true);
  expect(await readFile(stale, 'utf8')).toBe(String(process.pid));

  const empty = join(dir, 'empty.lock');
  await writeFile(empty, '');
  expect('release' in (await tryFileLock(empty))).toBe(true);
  expect(await readFile(empty, 'utf8')).toBe(String(process.pid));
});

test("tryFileLock: many taking over one dead pid's lock at once: exactly one gets it, and nothing else is left", async () => {
  const file = join(dir, 'race.lock');
  for (let round = 0; round < 20; round++) {
    await writeFile(file, String(2 ** 22 + 1)); // above Linux's pid_max: no such process
    const results = await Promise.all(Array.from({ length: 8 }, () => tryFileLock(file)));
    const holders = results.filter((result) => 'release' in result);
    expect(holders).toHaveLength(1);
    expect(results.filter((result) => 'owner' in result && result.owner === process.pid)).toHaveLength(7);
    expect(await readdir(dir)).toEqual(['race.lock']);
    await (holders[0] as { release: () => Promise<void> }).release();
  }
});

test('withDirLock: two holders never overlap; the second runs once the first is done', async () => {
  const lockDir = join(dir, 'build.lock');
  const events: string[] = [];
  const body = (name: string) => async () => {
    events.push(`${name} in`);
    await new Promise((resolve) => setTimeout(resolve, 100));
    events.push(`${name} out`);
    return name;
  };
  const results = await Promise.all([withDirLock(lockDir, body('a'), 10), withDirLock(lockDir, body('b'), 10)]);
  expect(results).toEqual(['a', 'b']);
  // Either may win the mkdir (both go to the thread pool at once); the other runs only after it is out.
  const [first, second] = events[0] === 'a in' ? ['a', 'b'] : ['b', 'a'];
  expect(events).toEqual([`${first} in`, `${first} out`, `${second} in`, `${second} out`]);
  await expect(stat(lockDir)).rejects.toMatchObject({ code: 'ENOENT' });
});

test("withDirLock: a lock directory left by a dead pid is taken over; a live one's is waited for", async () => {
  const lockDir = join(dir, 'left.lock');
  await mkdir(lockDir);
  await writeFile(join(lockDir, 'pid'), String(await deadPid()));
  expect(await withDirLock(lockDir, async () => readFile(join(lockDir, 'pid'), 'utf8'), 10)).toBe(String(process.pid));

  const holder = otherProcess();
  await mkdir(lockDir);
  await writeFile(join(lockDir, 'pid'), String(holder.pid));
  let ran = false;
  const waiting = withDirLock(lockDir, async () => (ran = true), 10);
  await new Promise((resolve) => setTimeout(resolve, 200));
  expect(ran).toBe(false);
  holder.kill('SIGKILL');
  await holder;
  await waiting;
  expect(ran).toBe(true);
});

test('withDirLock: the lock is released when the body throws', async () => {
  const lockDir = join(dir, 'throws.lock');
  await expect(withDirLock(lockDir, async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
  await expect(stat(lockDir)).rejects.toMatchObject({ code: 'ENOENT' });
  expect(await withDirLock(lockDir, async () => 'again')).toBe('again');
});

test('a lock that is a FIFO, a folder or oversized is refused by what it is, never read (a read would block)', async () => {
  const fifo = join(dir, 'fifo.lock');
  await execa('mkfifo', [fifo]);
  await expect(tryFileLock(fifo)).rejects.toThrow(/fifo\.lock is a FIFO \(named pipe\), not a regular file/);
  expect(await lockOwner(fifo)).toBeUndefined();
  await mkdir(join(dir, 'dir.lock'));
  await expect(tryFileLock(join(dir, 'dir.lock'))).rejects.toBeInstanceOf(UsageError);
  await writeFile(join(dir, 'big.lock'), '1'.repeat(1000));
  await expect(tryFileLock(join(dir, 'big.lock'))).rejects.toThrow(/larger than 64 bytes/);
  const dirLock = join(dir, 'fifo-pid.lock');
  await mkdir(dirLock);
  await execa('mkfifo', [join(dirLock, 'pid')]);
  await expect(withDirLock(dirLock, async () => 'never')).rejects.toBeInstanceOf(UsageError);
});

test('a lock naming pid 0 or a negative pid (process groups for kill) names no owner and is taken over', async () => {
  for (const text of ['0', '-1', '-' + String(process.pid)]) {
    const file = join(dir, `group${text}.lock`);
    await writeFile(file, text);
    expect(await lockOwner(file)).toBeUndefined();
    const taken = await tryFileLock(file);
    expect('release' in taken).toBe(true);
  }
});
