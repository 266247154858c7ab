/**
 * Which engines run: started on demand by the first request for a model (every request for a model that is loading
 * waits on the same start), within a memory budget (idle models are unloaded least recently used first until the
 * new one fits; a model with requests in flight never is), unloaded after their idle TTL, restarted after a crash by
 * the next request (with backoff after repeated failures). Loading + loaded never exceed the budget.
 */
import { randomBytes } from 'node:crypto';
import { ServerStartError } from '../errors.js';
import { startServer, type RunningServer } from '../server/start-server.js';
import { engineArgs, engineEnv } from './capabilities.js';
import type { GatewayModelConfig } from './config.js';
import { GatewayError } from './gateway-error.js';
import { ModelHandle, type ModelStatus } from './model-handle.js';
import { estimateModelCost, type ModelCost } from './model-cost.js';
import { formatMemorySize } from '../text/format-bytes.js';

export interface SchedulerOptions {
  models: readonly GatewayModelConfig[];
  memoryBudget: number;
  gpuMemoryBudget?: number | undefined;
  ttlMs: number;
  queueSize: number;
  queueTimeoutMs: number;
  loadTimeoutMs: number;
  env: NodeJS.ProcessEnv;
  onEvent?: ((event: SchedulerEvent) => void) | undefined;
  /** Any change a status page shows: a state, a queue, a reservation. Called often; keep it cheap. */
  onChange?: (() => void) | undefined;
}

/** The memory budget and who holds it (loading, loaded or being stopped). */
export interface BudgetStatus {
  memoryBytes: number;
  gpuMemoryBytes: number | undefined;
  holders: { name: string; memoryBytes: number; gpuMemoryBytes: number }[];
}

export type UnloadReason = 'evicted' | 'ttl' | 'shutdown' | 'requested';

export type SchedulerEvent =
  | { type: 'loading'; model: string }
  | { type: 'load'; model: string; ms: number }
  | { type: 'load-failed'; model: string; message: string }
  | { type: 'unload'; model: string; reason: UnloadReason }
  | { type: 'crash'; model: string; reason: string };

/** A slot on a running engine, held for one request. */
export interface Lease {
  server: RunningServer;
  /** Gives the slot back; `ok` says the request went through (it resets the failure count). */
  release(ok?: boolean): void;
  /** After an upstream failure: the engine's exit and last output if it died (waits briefly for the exit). */
  crashError(): Promise<GatewayError | undefined>;
}

const RESTART_BACKOFF_MAX_MS = 30_000;

export class Scheduler {
  readonly #options: SchedulerOptions;
  readonly #handles = new Map<string, ModelHandle>();
  readonly #stop = new AbortController();
  /** Wakes up loads that wait for memory. */
  #changed: (() => void)[] = [];

  constructor(options: SchedulerOptions) {
    this.#options = options;
    for (const model of options.models) {
      const handle = new ModelHandle(model, { slots: model.parallel ?? 1, maxQueue: options.queueSize, timeoutMs: options.queueTimeoutMs });
      handle.queue.onChange = () => this.#notify();
      this.#handles.set(model.name, handle);
    }
  }

  status(): ModelStatus[] {
    return [...this.#handles.values()].map((handle) => handle.status());
  }

  budget(): BudgetStatus {
    const holders = [...this.#handles.values()]
      .filter((handle) => handle.reserved && handle.cost)
      .map((handle) => ({ name: handle.config.name, memoryBytes: handle.cost!.ram, gpuMemoryBytes: handle.cost!.gpu }));
    return { memoryBytes: this.#options.memoryBudget, gpuMemoryBytes: this.#options.gpuMemoryBudget, holders };
  }

  /** Starts `name`'s engine now (as a request would), and arms its idle timer. */
  async load(name: string, signal?: AbortSignal): Promise<void> {
    const handle = this.#handle(name);
    await this.#ensureLoaded(handle, signal);
    this.#armTtl(handle);
  }

  /** Stops `name`'s engine; refused with 409 while it has requests in flight or queued. */
  async unload(name: string): Promise<void> {
    const handle = this.#handle(name);
    if (handle.loading) await handle.loading.catch(() => undefined);
    if (!handle.idle()) {
      throw new GatewayError(409, 'model_busy', `${name} has ${handle.queue.inFlight} requests in flight and ${handle.queue.queued} queued; unload it when they are done.`);
    }
    await this.#unload(handle, 'requested');
  }

  /** Waits for a slot on `model`, starting its engine if needed. */
  async acquire(model: GatewayModelConfig, signal?: AbortSignal): Promise<Lease> {
    const handle = this.#handle(model.name);
    const release = await handle.queue.acquire(signal);
    handle.touch();
    try {
      const server = await this.#ensureLoaded(handle, signal);
      let done = false;
      return {
        server,
        release: (ok = false) => {
          if (done) return;
          done = true;
          if (ok) handle.failures = 0;
          handle.touch();
          release();
          this.#armTtl(handle);
        },
        crashError: () => handle.crashError(server),
      };
    } catch (error) {
      release();
      this.#armTtl(handle);
      throw error;
    }
  }

  /** Starts the preload models one after another (never all at once). */
  async preload(names: readonly string[], signal?: AbortSignal): Promise<void> {
    for (const name of names) {
      if (signal?.aborted || this.#stop.signal.aborted) return;
      const handle = this.#handle(name);
      await this.#ensureLoaded(handle, signal).then(
        () => this.#armTtl(handle),
        () => undefined, // reported through onEvent('load-failed'); the next request tries again
      );
    }
  }

  /** Stops every engine and refuses whatever still waits. */
  async close(): Promise<void> {
    this.#stop.abort(new GatewayError(503, 'shutting_down', 'The gateway is shutting down.'));
    const error = new GatewayError(503, 'shutting_down', 'The gateway is shutting down.', { retryAfterS: 5 });
    for (const handle of this.#handles.values()) handle.queue.rejectAll(error);
    await Promise.all([...this.#handles.values()].map((handle) => this.#unload(handle, 'shutdown')));
  }

  #handle(name: string): ModelHandle {
    const handle = this.#handles.get(name);
    if (!handle) throw new GatewayError(404, 'model_not_found', `No model named ${name}.`);
    return handle;
  }

  async #ensureLoaded(handle: ModelHandle, signal: AbortSignal | undefined): Promise<RunningServer> {
    handle.clearTtl();
    // Being stopped (evicted or idle) just as this request came: wait for it to be gone, then start it again.
    while (handle.unloading) await handle.unloading;
    if (handle.server && handle.state === 'loaded') return handle.server;
    if (this.#stop.signal.aborted) throw this.#stop.signal.reason as Error;
    if (!handle.loading) {
      const wait = handle.failures >= 2 ? Math.min(RESTART_BACKOFF_MAX_MS, 1000 * 2 ** (handle.failures - 2)) : 0;
      const retryAt = (handle.failure?.at ?? 0) + wait;
      if (handle.state === 'failed' && Date.now() < retryAt) {
        throw new GatewayError(503, 'engine_failed', `${handle.config.name} failed ${handle.failures} times in a row (${handle.failure?.reason}); the next try is in ${Math.ceil((retryAt - Date.now()) / 1000)} s.`, {
          retryAfterS: Math.ceil((retryAt - Date.now()) / 1000),
        });
      }
      handle.loading = this.#load(handle).finally(() => {
        handle.loading = undefined;
        this.#notify();
      });
      this.#options.onEvent?.({ type: 'loading', model: handle.config.name });
      this.#notify();
    }
    return raceAbort(handle.loading, signal);
  }

  async #load(handle: ModelHandle): Promise<RunningServer> {
    const { config } = handle;
    const started = performance.now();
    try {
      handle.cost ??= await estimateModelCost(config, { env: this.#options.env, gpuBudget: this.#options.gpuMemoryBudget });
      await this.#reserve(handle, handle.cost);
      const server = await startServer({
        model: config.model, runtime: config.runtime, ctxSize: config.ctxSize, gpuLayers: config.gpuLayers,
        parallel: config.parallel, threads: config.threads, extraArgs: engineArgs(config), force: config.force, rpc: config.rpc,
        // Each engine has its own key, so that nobody on this machine can go around the gateway to it.
        apiKey: randomBytes(24).toString('base64url'),
        host: '127.0.0.1', unixSocket: true, timeoutMs: this.#options.loadTimeoutMs, env: engineEnv(this.#options.env), signal: this.#stop.signal,
      });
      handle.loaded(server);
      void server.exited.then((exit) => {
        if (handle.server !== server || handle.stopping) return;
        handle.crashed(exit.reason, exit.outputTail);
        this.#options.onEvent?.({ type: 'crash', model: config.name, reason: exit.reason });
        this.#notify();
      });
      this.#options.onEvent?.({ type: 'load', model: config.name, ms: performance.now() - started });
      return server;
    } catch (error) {
      handle.reserved = false;
      const gatewayError = error instanceof GatewayError ? error : new GatewayError(502, 'load_failed', `${config.name} could not be started: ${(error as Error).message}`, { cause: error, retryAfterS: 1 });
      const outputTail = error instanceof ServerStartError ? error.details.outputTail : undefined;
      if (gatewayError.reason !== 'model_too_large' && gatewayError.reason !== 'memory_busy') handle.failed(gatewayError.message, outputTail);
      this.#options.onEvent?.({ type: 'load-failed', model: config.name, message: gatewayError.message });
      throw gatewayError;
    }
  }

  /** Makes room for `cost` (unloading idle models, least recently used first) and reserves it. */
  async #reserve(handle: ModelHandle, cost: ModelCost): Promise<void> {
    const { memoryBudget, gpuMemoryBudget, queueTimeoutMs } = this.#options;
    if (cost.ram > memoryBudget || (gpuMemoryBudget !== undefined && cost.gpu > gpuMemoryBudget)) {
      const gpu = cost.gpu > 0 ? ` and ${formatMemorySize(cost.gpu)} of GPU memory (GPU budget ${formatMemorySize(gpuMemoryBudget ?? 0)})` : '';
      throw new GatewayError(400, 'model_too_large', `${handle.config.name} needs about ${formatMemorySize(cost.ram)} of memory at a context of ${cost.ctxSize}${gpu}, more than the whole memory budget of ${formatMemorySize(memoryBudget)}.`);
    }
    const deadline = Date.now() + queueTimeoutMs;
    for (;;) {
      const used = this.#reserved();
      if (used.ram + cost.ram <= memoryBudget && (gpuMemoryBudget === undefined || used.gpu + cost.gpu <= gpuMemoryBudget)) {
        handle.reserved = true;
        return;
      }
      const unloading = [...this.#handles.values()].find((other) => other.unloading);
      const victim = [...this.#handles.values()]
        .filter((other) => other !== handle && other.state === 'loaded' && other.idle())
        .sort((a, b) => a.lastUsed - b.lastUsed)[0];
      if (victim) await this.#unload(victim, 'evicted');
      else if (unloading) await unloading.unloading;
      else if (Date.now() >= deadline || this.#stop.signal.aborted) {
        const busy = [...this.#handles.values()].filter((other) => other.reserved).map((other) => other.config.name);
        throw new GatewayError(503, 'memory_busy', `${handle.config.name} needs ${formatMemorySize(cost.ram)} but only ${formatMemorySize(Math.max(0, memoryBudget - used.ram))} of the ${formatMemorySize(memoryBudget)} budget is free, and the models holding the rest (${busy.join(', ')}) are busy.`, {
          retryAfterS: 5,
        });
      } else await this.#waitForChange(deadline - Date.now());
    }
  }

  #reserved(): { ram: number; gpu: number } {
    const used = { ram: 0, gpu: 0 };
    for (const holder of this.budget().holders) {
      used.ram += holder.memoryBytes;
      used.gpu += holder.gpuMemoryBytes;
    }
    return used;
  }

  #unload(handle: ModelHandle, reason: UnloadReason): Promise<void> {
    const server = handle.server;
    if (!server) return handle.unloading ?? Promise.resolve();
    handle.unloading ??= (async () => {
      handle.stopping = true;
      handle.clearTtl();
      try {
        await server.stop();
      } finally {
        handle.unloaded();
        this.#options.onEvent?.({ type: 'unload', model: handle.config.name, reason });
        this.#notify();
      }
    })();
    return handle.unloading;
  }

  #armTtl(handle: ModelHandle): void {
    const ttl = handle.config.ttlMs ?? this.#options.ttlMs;
    if (ttl <= 0 || handle.state !== 'loaded' || !handle.idle()) return;
    handle.armTtl(ttl, () => {
      if (handle.state === 'loaded' && handle.idle()) void this.#unload(handle, 'ttl');
    });
  }

  #notify(): void {
    this.#options.onChange?.();
    const waiting = this.#changed;
    this.#changed = [];
    for (const wake of waiting) wake();
  }

  #waitForChange(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, Math.max(0, ms));
      this.#changed.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

function raceAbort<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new GatewayError(499, 'cancelled', 'The request was cancelled while its model was loading.'));
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
