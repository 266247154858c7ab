import { ServerStartError } from '../errors.js';
import { detectRuntime } from '../runtime/detect-runtime.js';
import type { RuntimeInfo, RuntimeKind } from '../runtime/runtime-info.js';
import { takesSocketHosts } from '../runtime/socket-hosts.js';
import { buildServerArgs, buildServerEnv, effectiveKind, healthPath, loopPath } from '../runtime/server-args.js';
import { checkServeFit } from './check-fit.js';
import { EngineSocket } from './engine-socket.js';
import { launchReady, type LaunchedServer, type LaunchSpec } from './launch-ready.js';
import { assertPortFree, findFreePort } from './ports.js';
import { resolveModel } from './resolve-model.js';
import { planRpcHead } from './rpc/plan-rpc-head.js';
import type { StartServerOptions } from './start-options.js';
import type { ServerExit } from './supervise.js';

/** What one server runs, worked out once before its first launch and reused by every restart. */
export interface LaunchPlan {
  runtime: RuntimeInfo;
  kind: RuntimeKind;
  host: string;
  /** The Unix socket every launch also listens on (`unixSocket`); removed before each launch binds it. */
  socket: EngineSocket | undefined;
  healthPath: string;
  /** The engine's arguments for a launch on `port`. */
  engineArgs(port: number): string[];
  /** A launch on `port`. */
  spec(port: number, run: RunParts): LaunchSpec;
  /** A failed start as the error to throw: an RPC head names the worker that caused it; anything else unchanged. */
  explainStartError(error: unknown): Promise<unknown>;
  /** How the server went down, with the RPC worker that caused it named (`reason`, `rpcError`) where one did. */
  explainExit(exit: ServerExit): Promise<ServerExit>;
}

/** What differs between the launches of one plan. */
export interface RunParts {
  signal: AbortSignal | undefined;
  logFile?: string | undefined;
  onGpu: LaunchSpec['onGpu'];
  /** A process to run instead of the engine (the detached supervisor, which runs the engine itself). */
  process?: Pick<LaunchSpec, 'executable' | 'args' | 'env'> | undefined;
}

/**
 * Resolves the model, checks that it fits, identifies the runtime and checks that a fixed port is free. A head on
 * llama.cpp's RPC backend (`rpc`) checks its workers first, fits across machines and serves a llamafile's GGUF.
 */
export async function planLaunch(options: StartServerOptions): Promise<LaunchPlan> {
  const { env, host = '127.0.0.1', timeoutMs = 120_000 } = options;
  const rpc = options.rpc?.length ? await planRpcHead(options) : undefined;
  const resolved = rpc?.resolved ?? (await resolveModel(options.model, options.runtime, env));
  if (!rpc) await checkServeFit(resolved.modelPath ?? resolved.executable, options);
  const runtime = await detectRuntime(resolved.executable, { env, signal: options.signal });
  const kind = effectiveKind(runtime.kind, options.extraArgs);
  if (options.port !== undefined && options.port !== 0) await assertPortFree(host, options.port);
  // A --host of the caller's would replace our list (the last one wins), and with it the socket.
  const ownHost = options.extraArgs?.some((arg) => arg === '--host' || arg.startsWith('--host='));
  const socket = options.unixSocket && !options.detach && !ownHost && kind === 'llama-server' && (await takesSocketHosts(runtime))
    ? await EngineSocket.create(env)
    : undefined;
  const engineArgs = (port: number) => buildServerArgs(kind, {
    ...options, modelPath: resolved.modelPath, host, port, socket: socket?.path,
    ...(rpc && { rpc: rpc.endpoints, extraArgs: [...rpc.extraArgs, ...(options.extraArgs ?? [])] }),
  });
  const engineEnv = options.apiKey === undefined ? env : { ...(env ?? process.env), ...buildServerEnv(kind, options) };
  return {
    runtime,
    kind,
    host,
    socket,
    healthPath: healthPath(kind),
    engineArgs,
    spec: (port, run) => {
      socket?.clear();
      return {
        ...(run.process ?? { executable: runtime, args: engineArgs(port), env: engineEnv }),
        host,
        port,
        logFile: run.logFile,
        healthPath: healthPath(kind),
        loopProbe: loopProbe(kind, options.apiKey),
        idleTimeoutMs: timeoutMs,
        signal: run.signal,
        onLine: options.onLog,
        onGpu: run.onGpu,
      };
    },
    explainStartError: async (error) => (rpc ? rpc.explainStartError(error) : error),
    explainExit: async (exit) => (rpc ? rpc.explainExit(exit) : exit),
  };
}

/** Launches on the fixed port, or on a free one; a free port can be taken in the meantime, so that is retried. */
export async function launchWithPort(
  fixed: number | undefined,
  host: string,
  spec: (port: number) => LaunchSpec,
): Promise<LaunchedServer> {
  for (let attempt = 1; ; attempt++) {
    const port = fixed ?? (await findFreePort(host));
    try {
      return await launchReady(spec(port));
    } catch (error) {
      const lostRace = error instanceof ServerStartError && /couldn't bind|already in use/i.test(error.details.outputTail ?? '');
      if (fixed === undefined && lostRace && attempt < 3) continue;
      throw error;
    }
  }
}

/** The task-loop probe (see loopPath), with the key it needs when the server has one. */
function loopProbe(kind: RuntimeKind, apiKey: string | undefined): LaunchSpec['loopProbe'] {
  const path = loopPath(kind);
  if (!path) return undefined;
  return { path, headers: apiKey === undefined ? undefined : { authorization: `Bearer ${apiKey}` } };
}
