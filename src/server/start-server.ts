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
 */
export async function startServer(options: StartServerOptions): Promise<RunningServer> {
  validateStartOptions(options);
  // Boots while the model is resolved and checked, so it is ready to act even if we are killed right after spawn.
  warmWatchdog();
  const plan = await planLaunch(options);
  const start = options.detach ? startDetached : startForeground;
  return start(options, plan).catch(async (error: unknown) => {
    throw await plan.explainStartError(error);
  });
}
