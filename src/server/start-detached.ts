import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../errors.js';
import { runDir } from '../store/paths.js';
import { claimServerName, logFilePath, removeServer, saveServer } from '../store/servers.js';
import { processStartTime } from '../system/process-facts.js';
import type { LaunchSpec } from './launch-ready.js';
import { launchWithPort, type LaunchPlan } from './launch-plan.js';
import { runningServer, type RunningServer } from './running-server.js';
import type { StartServerOptions } from './start-options.js';
import { describeExit } from './supervise.js';

/**
 * Background mode: the engine writes to a log file under runDir(), gets a record for `ps`/`stop`/`logs`, and
 * outlives this process once ready. With `restart: 'on-failure'` a detached supervisor process (itself a foreground
 * startServer) runs the engine and restarts it. `recordKey`: keep the API key in the record (a generated one).
 */
export async function startDetached(
  options: StartServerOptions,
  plan: LaunchPlan,
  { recordKey = false }: { recordKey?: boolean } = {},
): Promise<RunningServer> {
  const { model, env, restart = 'no', stopGraceMs = 5000 } = options;
  // Held until this function returns: by then the record exists (or the start failed), so the name stays taken.
  await using claim = await claimServerName(model, options.name, env);
  const { name } = claim;
  await mkdir(runDir(env), { recursive: true, mode: 0o700 });
  const logFile = logFilePath(name, env);
  let gpu: { offloaded: number; total: number } | undefined;
  const supervised = restart === 'on-failure';
  const first = await launchWithPort(options.port || undefined, plan.host, (port) =>
    plan.spec(port, {
      signal: options.signal,
      logFile,
      onGpu: (value) => (gpu = value),
      process: supervised ? supervisorLaunch(options, { ...(env ?? process.env) }, plan.host, port) : undefined,
    }),
  );
  const server = runningServer({
    name,
    model,
    runtime: plan.runtime,
    logFile,
    apiKey: options.apiKey,
    restart,
    stopGraceMs,
    first,
    current: () => first,
    gpu: () => gpu,
    watch: () =>
      first.engine.exited.then((exit) => ({
        ...exit,
        reason: describeExit(exit),
        outputTail: first.engine.tail(),
        durationMs: Date.now() - first.engine.startedAt,
      })).then((exit) => plan.explainExit(exit)),
    afterStop: () => removeServer(name, env),
  });
  try {
    const startTime = (await processStartTime(first.engine.pid)) ?? '';
    await saveServer(
      {
        name, pid: first.engine.pid, startTime, url: server.url, host: first.host, port: first.port, model,
        runtime: plan.kind, healthPath: plan.healthPath, logFile,
        argv: redactKey(supervised ? [plan.runtime.path, ...plan.engineArgs(first.port)] : first.engine.command),
        createdAt: new Date().toISOString(), gpu,
        // A generated key (`apiKey: 'auto'`) is kept here, 0600 in a 0700 dir, for `run`/`chat`/connect() by name; a
        // key of the caller's is not written anywhere. `ps` says only that there is one.
        ...(options.apiKey === undefined ? {} : { keyRequired: true }),
        ...(recordKey && options.apiKey !== undefined ? { apiKey: options.apiKey } : {}),
      },
      env,
    );
  } catch (error) {
    // A background server nobody can find again (no record) must not be left running.
    await server.stop();
    throw error;
  }
  first.engine.release();
  return server;
}

/** The recorded argv must not carry the API key (`ps --json` prints records). */
function redactKey(argv: readonly string[]): string[] {
  return argv.map((arg, index) => (argv[index - 1] === '--api-key' ? '<redacted>' : arg));
}

/** How to start the detached supervisor (dist/server/detached-supervisor.js) for `options` on a fixed port. */
function supervisorLaunch(
  options: StartServerOptions,
  env: NodeJS.ProcessEnv,
  host: string,
  port: number,
): Pick<LaunchSpec, 'executable' | 'args' | 'env'> {
  const script = fileURLToPath(new URL('./detached-supervisor.js', import.meta.url));
  if (!existsSync(script)) {
    throw new UsageError(
      "A detached server with restart: 'on-failure' needs the built package (dist/server/detached-supervisor.js).",
      { hint: 'Run `npm run build`.', option: 'restart' },
    );
  }
  const { signal, onLog, onRestart, onFit, env: _env, detach, restart, ...plain } = options;
  // The fit check already ran here, before the supervisor was spawned.
  env.LLAMACTL_SUPERVISOR_OPTIONS = JSON.stringify({ ...plain, force: true, host, port });
  return { executable: { path: process.execPath, ape: false }, args: [script], env };
}
