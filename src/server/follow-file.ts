import { constants, read as readFd, watch, type FSWatcher } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { promisify } from 'node:util';

const readAt = promisify(readFd);

/** A slow poll beside the watch, for file systems whose change events do not come (some network mounts). */
const FALLBACK_POLL_MS = 250;
const READ_BYTES = 65536;

/**
 * Follows a growing file (a detached engine's log) until the returned function is called, which reads it one last
 * time. Event-driven: every change the kernel reports (inotify, kqueue) reads what was appended at once, so a
 * readiness line is seen within a millisecond of being written, not on the next tick of a poll; a slow poll backs
 * the watch up. Reads never overlap: a change during a read triggers one more read after it. With `fd`, the file is
 * read through that descriptor (the caller's, left open) and `path` is only watched.
 */
export function followFile(path: string, onText: (text: string) => void, fd?: number): () => Promise<void> {
  let position = 0;
  let handle: FileHandle | undefined;
  let reading: Promise<void> | undefined;
  let again = false;
  let stopped = false;
  const decoder = new TextDecoder();
  const buffer = Buffer.alloc(READ_BYTES);
  const readFrom = async (at: number): Promise<number> => {
    if (fd !== undefined) return (await readAt(fd, buffer, 0, buffer.length, at)).bytesRead;
    // Our own fresh log (created exclusively, never through a link): opened once, read from where we left off.
    handle ??= await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    return (await handle.read(buffer, 0, buffer.length, at)).bytesRead;
  };

  const drain = async () => {
    for (;;) {
      const bytesRead = await readFrom(position);
      if (bytesRead === 0) return;
      position += bytesRead;
      onText(decoder.decode(buffer.subarray(0, bytesRead), { stream: true }));
    }
  };
  const read = (): Promise<void> => {
    if (reading) {
      again = true;
      return reading;
    }
    reading = (async () => {
      do {
        again = false;
        await drain().catch(() => {});
      } while (again);
    })().finally(() => (reading = undefined));
    return reading;
  };

  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(path, { persistent: false }, () => void read());
    watcher.on('error', () => watcher?.close());
  } catch {
    // No watch here: the poll alone follows the file.
  }
  const timer = setInterval(() => void read(), FALLBACK_POLL_MS);
  void read();
  return async () => {
    if (stopped) return;
    stopped = true;
    watcher?.close();
    clearInterval(timer);
    await reading;
    await read();
    await handle?.close().catch(() => {});
    handle = undefined;
  };
}
