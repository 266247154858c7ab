import { resolve } from 'node:path';
import { ServerStartError, WorkerVersionError } from '../../errors.js';
import type { ExtractResult } from '../../extract.js';
import type { FitReport, SystemMemory } from '../../format/fit.js';
import { resolveModel, type ResolvedModel } from '../resolve-model.js';
import type { ServerExit } from '../supervise.js';
import { explainRpcFailure } from './explain-rpc-failure.js';
import { findLlamaServer } from './find-llama-server.js';
import { parseRpcList, type RpcEndpoint } from './parse-rpc.js';
import { checkRpcFit } from './rpc-fit.js';
import { formatVersion, probeWorker, RPC_PROTOCOL, type RpcVersion, type WorkerProbe } from './rpc-probe.js';
import { findLlamaCppBuild } from '../../store/llama-cpp-cache.js';

/** What startServer takes for a head on llama.cpp's RPC backend. */
export interface RpcHeadOptions {
  /**
   * Workers (`llamactl worker` / rpc-server): `HOST:PORT`, optionally `=MEM` to declare what the worker may hold
   * (`10.0.0.2:50052=24G`; MiB without a unit). Declared memory replaces what the worker reports, in the fit check
   * and in the split (`--tensor-split`). Needs a llama-server runtime; a llamafile is served through its GGUF.
   */
  rpc?: readonly string[] | undefined;
  /** Bound on each worker check: connecting, and each answer. @default 3000 */
  rpcTimeoutMs?: number | undefined;
  onRpc?: ((event: RpcHeadEvent) => void) | undefined;
}

export type RpcHeadEvent =
  | { type: 'workers'; workers: WorkerProbe[]; checkMs: number }
  | { type: 'extract'; result: ExtractResult };

interface PlanInput extends RpcHeadOptions {
  model: string;
  runtime?: string | undefined;
  ctxSize?: number | undefined;
  force?: boolean | undefined;
  memory?: SystemMemory | undefined;
  extraArgs?: readonly string[] | undefined;
  onFit?: ((report: FitReport) => void) | undefined;
  signal?: AbortSignal | undefined;
  env?: NodeJS.ProcessEnv | undefined;
}

/** A head ready to launch: what to run, the clean `--rpc` list, and how to explain its failures. */
export interface RpcHeadPlan {
  resolved: ResolvedModel;
  /** `host:port` each, for llama-server's `--rpc`. */
  endpoints: string[];
  /** Flags llamactl adds before the user's engine flags (`--tensor-split` for declared memory). */
  extraArgs: string[];
  workers: WorkerProbe[];
  /** A start failure caused by a worker, as that worker's error; anything else unchanged. */
  explainStartError(error: unknown): Promise<unknown>;
  /** An exit caused by a worker, with the worker named in `reason` and the typed error in `rpcError`. */
  explainExit(exit: ServerExit): Promise<ServerExit>;
}

/**
 * The checks before a head is spawned, all bounded: every worker is reachable and speaks this build's protocol
 * (in parallel, `rpcTimeoutMs` each), the model fits across the head and the workers, and a llamafile's GGUF is
 * available as a file for llama-server (reflinked where the filesystem allows, see extract.ts).
 */
export async function planRpcHead(options: PlanInput): Promise<RpcHeadPlan> {
  const endpoints = parseRpcList(options.rpc ?? []);
  const runtime = options.runtime ?? (await findLlamaServer(options.env));
  const expect = await headProtocol(runtime, options.env);
  const started = Date.now();
  const results = await Promise.allSettled(
    endpoints.map((worker) => probeWorker(worker.host, worker.port, { timeoutMs: options.rpcTimeoutMs, expect })),
  );
  const failed = results.find((result) => result.status === 'rejected');
  if (failed) throw failed.reason;
  const workers = results.map((result) => (result as PromiseFulfilledResult<WorkerProbe>).value);
  assertSameBuild(workers);
  options.onRpc?.({ type: 'workers', workers, checkMs: Date.now() - started });

  const resolved = await resolveModel(options.model, runtime, options.env);
  const weights = resolved.modelPath!;
  const memory = endpoints.map((worker, index) => ({
    endpoint: worker.endpoint,
    bytes: worker.declaredBytes ?? workers[index]!.devices.reduce((sum, device) => sum + device.freeBytes, 0),
    declared: worker.declaredBytes !== undefined,
  }));
  await checkRpcFit(weights, memory, options);

  const { extractGguf } = await import('../../extract.js');
  const extracted = await extractGguf(weights, { signal: options.signal });
  if (extracted.method !== 'none') options.onRpc?.({ type: 'extract', result: extracted });

  return {
    resolved: { executable: resolved.executable, modelPath: extracted.path },
    endpoints: endpoints.map((worker) => worker.endpoint),
    extraArgs: tensorSplit(endpoints, workers, options.extraArgs ?? []),
    workers,
    async explainStartError(error) {
      if (!(error instanceof ServerStartError)) return error;
      return (await explainRpcFailure(error.details.outputTail ?? '', endpoints)) ?? error;
    },
    async explainExit(exit) {
      if (exit.exitCode === 0 && exit.signal === undefined) return exit;
      const rpcError = await explainRpcFailure(exit.outputTail, endpoints);
      return rpcError ? { ...exit, reason: `${exit.reason}: ${rpcError.message}`, rpcError } : exit;
    },
  };
}

/**
 * The head's RPC protocol, where llamactl knows it: its own llama.cpp build speaks RPC_PROTOCOL. For any other
 * llama-server it is not written anywhere llamactl can read without running it, so then the workers are only
 * compared with each other, and a mismatch with the head is caught from llama.cpp's own handshake at start.
 */
async function headProtocol(runtime: string, env: NodeJS.ProcessEnv | undefined): Promise<RpcVersion | null> {
  const build = await findLlamaCppBuild(env);
  return build && resolve(runtime) === build.serverPath ? RPC_PROTOCOL : null;
}

/** Workers of different builds cannot all match one head: name the one that differs from the first. */
function assertSameBuild(workers: readonly WorkerProbe[]): void {
  const first = workers[0];
  const odd = workers.find((worker) => formatVersion(worker.version) !== formatVersion(first!.version));
  if (!first || !odd) return;
  throw new WorkerVersionError(
    odd.endpoint,
    `The workers are different llama.cpp builds: ${first.endpoint} speaks RPC protocol ${formatVersion(first.version)}, ` +
      `${odd.endpoint} ${formatVersion(odd.version)}`,
    { workerVersion: formatVersion(odd.version), hint: 'Run rpc-server from the same llama.cpp build on every machine, and the same for the head.' },
  );
}

/**
 * With declared memory, the split follows it: `--tensor-split` gets one share per RPC device, in the order llama.cpp
 * lists them (the `--rpc` order, each worker's devices in turn). Not when the user set a split of their own, and not
 * when nothing is declared (llama.cpp then splits by the free memory each device reports, which is the same thing).
 */
function tensorSplit(endpoints: readonly RpcEndpoint[], workers: readonly WorkerProbe[], extra: readonly string[]): string[] {
  if (!endpoints.some((worker) => worker.declaredBytes !== undefined)) return [];
  if (extra.some((arg) => ['-ts', '--tensor-split'].includes(arg.split('=')[0]!))) return [];
  const shares = endpoints.flatMap((worker, index) => {
    const devices = workers[index]!.devices;
    if (worker.declaredBytes === undefined) return devices.map((device) => device.freeBytes);
    return devices.map(() => worker.declaredBytes! / Math.max(1, devices.length));
  });
  return ['--tensor-split', shares.map((bytes) => String(Math.max(1, Math.round(bytes / 2 ** 20)))).join(',')];
}
