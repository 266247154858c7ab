import { AUTO_API_KEY, resolveApiKey } from './api-key.js';
import { planLaunch } from './launch-plan.js';
import type { RunningServer } from './running-server.js';
import { startDetached } from './start-detached.js';
import { startForeground } from './start-foreground.js';
import { validateStartOptions, type StartServerOptions } from './start-options.js';
import { warmWatchdog } from './watchdog.js';

export type { RunningServer } from './running-server.js';
export type { StartServerOptions } from './start-options.js';
export type { RestartEvent, ServerExit } from './supervise.js';

/**
 * Starts a llamafile / llama-server and resolves once it answers its health check: in the foreground (tied to this
 * process, optionally restarted on a crash) or detached (`detach: true`: a background server with a record).
 *
 * @example
 * await using server = await startServer({ model: 'tiny.gguf', runtime: '/usr/local/bin/llama-server', ctxSize: 256 });
 * console.log((await server.client.health()).ok);
 *
 * @example
 * // A key nobody has to handle: kept in the record (0600), used by `llamactl run NAME`, `chat NAME` and connect(NAME).
 * const server = await startServer({ model: 'tiny.gguf', runtime: '/usr/local/bin/llama-server', apiKey: 'auto', detach: true });
 */
export async function startServer(given: StartServerOptions): Promise<RunningServer> {
  validateStartOptions(given);
  // `apiKey: 'auto'` becomes a random key here, once: every launch, the record and the client get the same one.
  const options = given.apiKey === undefined ? given : { ...given, apiKey: resolveApiKey(given.apiKey) };
  // Boots while the model is resolved and checked, so it is ready to act even if we are killed right after spawn.
  warmWatchdog();
  const plan = await planLaunch(options);
  // Only a generated key is written to the record: it exists nowhere else. A key of the caller's stays theirs.
  const started = options.detach
    ? startDetached(options, plan, { recordKey: given.apiKey === AUTO_API_KEY })
    : startForeground(options, plan);
  return started.catch(async (error: unknown) => {
    throw await plan.explainStartError(error);
  });
}
