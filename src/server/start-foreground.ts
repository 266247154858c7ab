import { serverNameFor } from '../store/servers.js';
import { launchReady, type LaunchedServer } from './launch-ready.js';
import { launchWithPort, type LaunchPlan } from './launch-plan.js';
import { runningServer, type RunningServer } from './running-server.js';
import type { StartServerOptions } from './start-options.js';
import { supervise } from './supervise.js';

/**
 * Foreground mode: the engine's output comes through pipes, it lives as long as this process (the watchdog sees to
 * that), and with `restart: 'on-failure'` a crash is restarted here on the same port. An abort of `signal` after
 * ready stops it.
 */
export async function startForeground(options: StartServerOptions, plan: LaunchPlan): Promise<RunningServer> {
  const { restart = 'no', maxRestarts = 5, stopGraceMs = 5000 } = options;
  let gpu: { offloaded: number; total: number } | undefined;
  const onGpu = (value: typeof gpu) => (gpu = value);
  const first = await launchWithPort(options.port || undefined, plan.host, (port) =>
    plan.spec(port, { signal: options.signal, onGpu }),
  ).catch((error: unknown) => {
    plan.socket?.remove();
    throw error;
  });
  let current: LaunchedServer = first;
  const server = runningServer({
    name: options.name ?? serverNameFor(options.model),
    model: options.model,
    runtime: plan.runtime,
    logFile: undefined,
    apiKey: options.apiKey,
    socketPath: plan.socket?.path,
    restart,
    stopGraceMs,
    first,
    current: () => current,
    gpu: () => gpu,
    watch: (stopping) =>
      supervise({
        first,
        restart,
        maxRestarts,
        signal: stopping,
        isStopping: () => stopping.aborted,
        relaunch: async () => (current = await launchReady(plan.spec(first.port, { signal: stopping, onGpu }))),
        onRestart: options.onRestart,
      }).then((exit) => plan.explainExit(exit)),
  });
  void server.exited.finally(() => plan.socket?.remove());
  options.signal?.addEventListener('abort', () => void server.stop(), { once: true });
  return server;
}
