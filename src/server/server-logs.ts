import { open, stat } from 'node:fs/promises';
import { NotFoundError } from '../errors.js';
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
  // Without a live record, only a plain server name may pick a log file (no `../` out of the run dir).
  const file = record?.logFile ?? (isServerName(nameOrModel) ? logFilePath(nameOrModel, env) : undefined);
  if (!file || !(await stat(file).catch(() => undefined))) {
    throw new NotFoundError(`No server or log named ${nameOrModel}.`, { hint: 'See `llamactl ps`.' });
  }
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(65536);
    const decoder = new TextDecoder();
    let position = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
      if (bytesRead > 0) {
        position += bytesRead;
        options.onText(decoder.decode(buffer.subarray(0, bytesRead), { stream: true }));
        continue;
      }
      if (!options.follow || options.signal?.aborted) return;
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
