import { statfs } from 'node:fs/promises';
import { DiskSpaceError } from '../errors.js';
import { formatBytes as formatSize } from '../cli/output.js';

/** Free bytes for an unprivileged user on the filesystem holding `dir`. */
export async function freeSpace(dir: string): Promise<number> {
  const stats = await statfs(dir);
  return stats.bavail * stats.bsize;
}

/** Throws `DiskSpaceError` when `needed` bytes (plus a small margin) do not fit in `dir`. */
export async function assertDiskSpace(
  dir: string,
  needed: number,
  free: (dir: string) => Promise<number> = freeSpace,
): Promise<void> {
  const available = await free(dir);
  const margin = Math.min(64 * 1024 * 1024, Math.ceil(needed * 0.01));
  if (needed + margin > available) {
    throw new DiskSpaceError(
      `Not enough disk space in ${dir}: ${formatSize(needed)} still to write, ${formatSize(available)} free.`,
      { hint: 'Free some space or choose another folder with --dir.' },
    );
  }
}
