import { findServer, isRecordAlive, listServers, removeServer, type ServerRecord } from '../store/servers.js';
import { terminateGroup, waitForPidGone } from './terminate-group.js';

export interface StopOptions {
  env?: NodeJS.ProcessEnv | undefined;
  /** SIGTERM → SIGKILL grace period. @default 5000 */
  graceMs?: number | undefined;
}

/** Stops a detached server (by name, or by model when unambiguous) and removes its record. Resolves with its record. */
export async function stopServer(nameOrModel: string, options: StopOptions = {}): Promise<ServerRecord> {
  const record = await findServer(nameOrModel, options.env);
  await stopRecord(record, options);
  return record;
}

/** Stops every detached server llamactl knows; resolves with the records it stopped. */
export async function stopAllServers(options: StopOptions = {}): Promise<ServerRecord[]> {
  const live = (await listServers(options.env, { health: false })).filter((server) => server.state !== 'exited');
  await Promise.all(live.map((record) => stopRecord(record, options)));
  return live;
}

async function stopRecord(record: ServerRecord, options: StopOptions): Promise<void> {
  // Re-check right before signalling: never signal a group whose leader PID now belongs to someone else.
  if (await isRecordAlive(record)) {
    await terminateGroup(record.pid, { graceMs: options.graceMs, gone: () => waitForPidGone(record.pid) });
  }
  await removeServer(record.name, options.env);
}
