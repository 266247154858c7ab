import { AbortError } from '../errors.js';
import { launchEngine, type EngineProcess } from './launch-engine.js';
import { parseLogLine } from './parse-log-line.js';
import { terminateGroup } from './terminate-group.js';
import { ReadinessWatcher, type LoopProbe, type ReadinessTimes } from './wait-until-ready.js';

export interface LaunchSpec {
  executable: { path: string; ape: boolean };
  args: string[];
  host: string;
  port: number;
  env: NodeJS.ProcessEnv | undefined;
  logFile: string | undefined;
  healthPath: string;
  /** A GET answered by the engine's task loop (see runtime/server-args loopPath), probed once /health says 200. */
  loopProbe: LoopProbe | undefined;
  idleTimeoutMs: number;
  signal: AbortSignal | undefined;
  onLine: ((line: string) => void) | undefined;
  onGpu: (gpu: { offloaded: number; total: number }) => void;
}

export interface LaunchedServer {
  engine: EngineProcess;
  /** Where it actually listens (from its log when it said so). */
  host: string;
  port: number;
  readyMs: number;
  /** When each readiness condition was seen. */
  readiness: ReadinessTimes;
}

/** Spawns the engine and waits until it is ready; on any failure the engine's group is stopped before rethrowing. */
export async function launchReady(spec: LaunchSpec): Promise<LaunchedServer> {
  if (spec.signal?.aborted) throw new AbortError('The server start was aborted.', { cause: spec.signal.reason });
  const watcher = new ReadinessWatcher(spec.host, spec.port);
  const engine = await launchEngine({
    executable: spec.executable,
    args: spec.args,
    env: spec.env,
    logFile: spec.logFile,
    // Nobody reads the lines once it is ready: the engine writes them to a file, not to a pipe that wakes us.
    output: spec.onLine ? 'pipe' : 'file',
    onOutput: () => watcher.onOutput(),
    onLine: (line) => {
      const event = parseLogLine(line);
      if (event) {
        watcher.onEvent(event);
        if (event.type === 'offload') spec.onGpu({ offloaded: event.offloaded, total: event.total });
      }
      spec.onLine?.(line);
    },
  });
  watcher.spawned();
  try {
    const address = await watcher.wait(engine, {
      healthPath: spec.healthPath,
      loopProbe: spec.loopProbe,
      idleTimeoutMs: spec.idleTimeoutMs,
      signal: spec.signal,
    });
    // Ready: the log has told all it had to. Without a listener of its own, the engine's output is only kept from
    // here (a gateway's engine writes ten lines for each request).
    if (!spec.onLine) engine.stopWatching();
    return { engine, ...address, readyMs: Date.now() - engine.startedAt, readiness: watcher.times };
  } catch (error) {
    await terminateGroup(engine.pid, { graceMs: 2000, gone: () => engine.exited });
    throw error;
  }
}
