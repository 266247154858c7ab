import { openRegularFile } from '../system/regular-file.js';

/**
 * Whether the file at `path` starts with the GGUF magic: a bare GGUF, not a llamafile. Opened without blocking and
 * only if it is a regular file (a FIFO there is a UsageError, never a hang).
 */
export async function startsWithGgufMagic(path: string): Promise<boolean> {
  const { handle } = await openRegularFile(path, 'a model is a regular file');
  try {
    const magic = Buffer.alloc(4);
    const { bytesRead } = await handle.read(magic, 0, 4, 0);
    return bytesRead === 4 && magic.toString('latin1') === 'GGUF';
  } finally {
    await handle.close();
  }
}
