import { rename, rm, writeFile } from 'node:fs/promises';

/**
 * Writes `value` as JSON to `path` atomically: to a temp file beside it, then renamed over it, so a reader (or a
 * process killed half-way) never sees a half-written file. `indent` pretty-prints, for files people read. Whatever
 * sits at the temp name is removed first and the temp file is created exclusively (`wx`), so a link or FIFO planted
 * there is never written through or waited on.
 */
export async function writeJsonAtomic(path: string, value: unknown, mode = 0o600, indent?: number): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  await rm(tmp, { force: true });
  try {
    await writeFile(tmp, `${JSON.stringify(value, null, indent)}\n`, { mode, flag: 'wx' });
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true }).catch(() => {});
    throw error;
  }
}
