import { rename, writeFile } from 'node:fs/promises';

/**
 * Writes `value` as JSON to `path` atomically: to a temp file beside it, then renamed over it, so a reader (or a
 * process killed half-way) never sees a half-written file. `indent` pretty-prints, for files people read.
 */
export async function writeJsonAtomic(path: string, value: unknown, mode = 0o600, indent?: number): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, `${JSON.stringify(value, null, indent)}\n`, { mode });
  await rename(tmp, path);
}
