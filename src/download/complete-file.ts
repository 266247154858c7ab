import type { FileHandle } from 'node:fs/promises';
import { open, rename, chmod } from 'node:fs/promises';
import { dirname } from 'node:path';

/** Atomic completion: fsync the data, rename `.part` → final, make it executable, fsync the folder. */
export async function completeFile(file: Pick<FileHandle, 'sync' | 'close'>, partPath: string, target: string): Promise<void> {
  await file.sync();
  await file.close();
  await chmod(partPath, 0o755);
  await rename(partPath, target);
  const dir = await open(dirname(target), 'r').catch(() => undefined);
  if (dir) {
    await dir.sync().catch(() => {});
    await dir.close();
  }
}
