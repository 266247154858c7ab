import { statfs } from 'node:fs/promises';
import { DiskSpaceError, UsageError, type LlamactlError } from '../errors.js';
import { formatBytes } from '../text/format-bytes.js';

/**
 * Free bytes for an unprivileged user on the filesystem holding `dir`; Infinity for one that reports no size at all
 * (0 blocks in all: ramfs, some FUSE filesystems), where only a write can tell, and a full one fails as ENOSPC.
 */
export async function freeSpace(dir: string): Promise<number> {
  const stats = await statfs(dir);
  return stats.blocks === 0 ? Infinity : stats.bavail * stats.bsize;
}

/** Throws `DiskSpaceError` when `needed` bytes (plus a small margin) do not fit in `dir`. */
export async function assertDiskSpace(
  dir: string,
  needed: number,
  free: (dir: string) => Promise<number> = freeSpace,
): Promise<void> {
  let available: number;
  try {
    available = await free(dir);
  } catch (cause) {
    throw diskError(cause, dir) ?? cause;
  }
  const margin = Math.min(64 * 1024 * 1024, Math.ceil(needed * 0.01));
  if (needed + margin > available) {
    throw new DiskSpaceError(
      `Not enough disk space in ${dir}: ${formatBytes(needed)} still to write, ${formatBytes(available)} free.`,
      { hint: 'Free some space or choose another folder (the `dir` option).' },
    );
  }
}

const FULL = new Set(['ENOSPC', 'EDQUOT', 'EFBIG']);
const UNWRITABLE = new Set(['EACCES', 'EPERM', 'EROFS', 'ENOENT', 'ENOTDIR', 'EEXIST', 'EISDIR']);

/**
 * The typed error for a file-system failure while writing in `dir`: a full disk (DiskSpaceError) or a folder that
 * cannot be written (UsageError); `undefined` for anything else. `resume`: a partial download is kept to resume.
 */
export function diskError(cause: unknown, dir: string, resume = false): LlamactlError | undefined {
  const { code, syscall } = (cause ?? {}) as NodeJS.ErrnoException;
  if (code === undefined || syscall === undefined) return undefined;
  const again = 'then run the same command again to resume: the partial file and its journal are kept.';
  if (FULL.has(code)) {
    return new DiskSpaceError(`The disk is full: cannot write to ${dir} (${code}).`, { cause, hint: resume ? `Free some space, ${again}` : 'Free some space or write somewhere else.' });
  }
  if (UNWRITABLE.has(code)) {
    return new UsageError(`Cannot write to ${dir} (${code}).`, { cause, hint: resume ? `Make the folder writable, ${again}` : 'Choose a writable folder.' });
  }
  return undefined;
}
