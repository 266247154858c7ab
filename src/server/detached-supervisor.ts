/**
 * The process behind `serve --detach --restart on-failure`: a detached node process that runs a foreground,
 * supervised startServer() and outlives the llamactl that started it. Its stdout/stderr are the server's log file;
 * it gets its options from LLAMACTL_SUPERVISOR_OPTIONS (not argv: an API key must not show in `ps`). SIGTERM or
 * SIGINT stops the engine and exits; if it is SIGKILLed, its watchdog takes the engine down.
 */
import { startServer, type StartServerOptions } from './start-server.js';
import { isCleanExit } from './supervise.js';

const options = JSON.parse(process.env.LLAMACTL_SUPERVISOR_OPTIONS ?? '{}') as StartServerOptions;
delete process.env.LLAMACTL_SUPERVISOR_OPTIONS;
const controller = new AbortController();
for (const name of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(name, () => controller.abort());
const log = (line: string) => process.stdout.write(`${line}\n`);

try {
  const server = await startServer({
    ...options,
    detach: false,
    restart: 'on-failure',
    signal: controller.signal,
    onLog: log,
    onRestart: (event) =>
      log(`llamactl: the server ${event.reason}; restarting (restart ${event.attempt}, ${event.retriesLeft} left)`),
  });
  log(`llamactl: supervising ${server.url} (engine pid ${server.pid})`);
  const aborted = new Promise<void>((resolve) => controller.signal.addEventListener('abort', () => resolve(), { once: true }));
  const outcome = await Promise.race([server.exited, aborted]);
  await server.stop();
  if (outcome && isCleanExit(outcome)) log(`llamactl: the server ${outcome.reason} (shut down from outside); not restarting it`);
  else if (outcome) {
    log(`llamactl: giving up: the server ${outcome.reason} and has no restarts left`);
    process.exitCode = 8;
  }
} catch (error) {
  log(`llamactl: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 8;
}
