import { NotFoundError } from '../errors.js';
import { openRegularFile } from '../system/regular-file.js';
import { findServer, isRecordAlive, isServerName, logFilePath } from '../store/servers.js';

export interface ReadLogOptions {
  /** Keep reading new output until the server exits or `signal` aborts. */
  follow?: boolean | undefined;
  signal?: AbortSignal | undefined;
  onText: (text: string) => void;
  env?: NodeJS.ProcessEnv | undefined;
}

/**
 * Streams a detached server's log file to `onText`. The name may also be the model a live server serves; the log
 * of a server that has exited stays readable by its name.
 */
export async function readServerLog(nameOrModel: string, options: ReadLogOptions): Promise<void> {
  const { env } = options;
  let record = await findServer(nameOrModel, env).catch(() => undefined);
  // Always `<run dir>/<name>.log`, where servers write theirs: never a path read from a record, and without a live
  // record only a plain server name may pick the file (no `../` out of the run dir).
  const name = record?.name ?? (isServerName(nameOrModel) ? nameOrModel : undefined);
  const file = name === undefined ? undefined : logFilePath(name, env);
  const missing = () => new NotFoundError(`No server or log named ${nameOrModel}.`, { hint: 'See `llamactl ps`.' });
  if (!file) throw missing();
  // Never a plain open: a FIFO (or a device) in the log's place would block it, past any Ctrl-C or SIGTERM.
  const { handle } = await openRegularFile(file, 'llamactl logs reads only the log file a server wrote').catch((error: unknown) => {
    throw (error as NodeJS.ErrnoException).code === 'ENOENT' ? missing() : error;
  });
  try {
    const buffer = Buffer.alloc(65536);
    const decoder = new TextDecoder();
    let position = 0;
    for (;;) {
      // A large log is printed to its end, but Ctrl-C, SIGTERM or a closed stdout stop it between reads.
      if (options.signal?.aborted) return;
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
      if (bytesRead > 0) {
        position += bytesRead;
        options.onText(decoder.decode(buffer.subarray(0, bytesRead), { stream: true }));
        continue;
      }
      if (!options.follow) return;
      if (!record || !(await isRecordAlive(record))) {
        // One last read: the server may have written its final lines just before exiting.
        if (record) {
          record = undefined;
          continue;
        }
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    await handle.close();
  }
}
