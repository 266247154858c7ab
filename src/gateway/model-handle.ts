/**
 * One configured model as the scheduler tracks it: its state (`unloaded` → `loading` → `loaded`, or `failed` with the
 * reason), its engine, its memory reservation, its slots and its idle timer.
 */
import type { RunningServer } from '../server/running-server.js';
import type { GatewayModelConfig } from './config.js';
import { GatewayError } from './gateway-error.js';
import type { ModelCost } from './model-cost.js';
import { SlotQueue } from './slot-queue.js';

export type ModelState = 'unloaded' | 'loading' | 'loaded' | 'failed';

/** What `models()`, `/v1/models` and `llamactl ps` show of a model. */
export interface ModelStatus {
  name: string;
  aliases: string[];
  model: string;
  state: ModelState;
  /** The memory estimate, once it has been read (at the first load). */
  memoryBytes: number | undefined;
  gpuMemoryBytes: number | undefined;
  /** Milliseconds since the last request ended (or started); undefined if never used. */
  idleMs: number | undefined;
  inFlight: number;
  queued: number;
  slots: number;
  /** PID of the engine while it runs. */
  pid: number | undefined;
  /** Why it failed last (the engine's exit and last output line), while `failed`. */
  failure: string | undefined;
  /** The engine's last lines of output when it failed, while `failed`. */
  failureLog: string | undefined;
  restarts: number;
}

/** How many lines of the engine's output go into a 502. */
const TAIL_LINES = 12;

export class ModelHandle {
  readonly config: GatewayModelConfig;
  readonly queue: SlotQueue;
  state: ModelState = 'unloaded';
  server: RunningServer | undefined;
  loading: Promise<RunningServer> | undefined;
  unloading: Promise<void> | undefined;
  stopping = false;
  cost: ModelCost | undefined;
  /** True while the budget counts this model (loading, loaded, or being stopped). */
  reserved = false;
  lastUsed = 0;
  failures = 0;
  restarts = 0;
  failure: { reason: string; at: number; log: string | undefined } | undefined;
  #crash: { server: RunningServer; error: GatewayError } | undefined;
  #ttl: NodeJS.Timeout | undefined;

  constructor(config: GatewayModelConfig, queue: { slots: number; maxQueue: number; timeoutMs: number }) {
    this.config = config;
    this.queue = new SlotQueue(queue);
  }

  idle(): boolean {
    return this.queue.inFlight === 0 && this.queue.queued === 0;
  }

  touch(): void {
    this.lastUsed = Date.now();
  }

  loaded(server: RunningServer): void {
    if (this.failure) this.restarts++;
    this.server = server;
    this.state = 'loaded';
    this.stopping = false;
    this.failure = undefined;
  }

  failed(reason: string, outputTail?: string): void {
    this.state = 'failed';
    this.failures++;
    this.failure = { reason: reason.split('\n')[0]!.slice(0, 500), at: Date.now(), log: lastLines(outputTail) };
  }

  crashed(reason: string, outputTail: string): void {
    const server = this.server!;
    const tail = lastLines(outputTail) ?? '';
    this.#crash = {
      server,
      error: new GatewayError(502, 'engine_crashed', `The engine for ${this.config.name} ${reason} during the request.${tail ? `\n--- last output ---\n${tail}` : ''}`),
    };
    this.server = undefined;
    this.reserved = false;
    this.failed(`the engine ${reason}`, outputTail);
  }

  unloaded(): void {
    this.server = undefined;
    this.reserved = false;
    this.unloading = undefined;
    this.stopping = false;
    if (this.state !== 'failed') this.state = 'unloaded';
  }

  /** The 502 for a request that lost its engine `server`, waiting up to `waitMs` for the exit to be seen. */
  async crashError(server: RunningServer, waitMs = 2000): Promise<GatewayError | undefined> {
    if (this.stopping) return undefined;
    let timer: NodeJS.Timeout | undefined;
    const exited = await Promise.race([
      server.exited.then(() => true),
      new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), waitMs))),
    ]);
    clearTimeout(timer);
    if (!exited) return undefined;
    // The exit handler runs on the same tick as `exited`; give it that tick.
    await new Promise((resolve) => setImmediate(resolve));
    return this.#crash?.server === server ? this.#crash.error : undefined;
  }

  armTtl(ms: number, onIdle: () => void): void {
    this.clearTtl();
    this.#ttl = setTimeout(onIdle, ms);
    this.#ttl.unref();
  }

  clearTtl(): void {
    if (this.#ttl) clearTimeout(this.#ttl);
    this.#ttl = undefined;
  }

  status(): ModelStatus {
    return {
      name: this.config.name,
      aliases: [...(this.config.aliases ?? [])],
      model: this.config.model,
      // `loading` until the engine is up (the load's promise settles a moment after).
      state: this.loading && !this.server ? 'loading' : this.state,
      memoryBytes: this.cost ? this.cost.ram + this.cost.gpu : undefined,
      gpuMemoryBytes: this.cost?.gpu || undefined,
      idleMs: this.lastUsed === 0 ? undefined : this.queue.inFlight > 0 ? 0 : Date.now() - this.lastUsed,
      inFlight: this.queue.inFlight,
      queued: this.queue.queued,
      slots: this.queue.slots,
      pid: this.server?.pid,
      failure: this.state === 'failed' ? this.failure?.reason : undefined,
      failureLog: this.state === 'failed' ? this.failure?.log : undefined,
      restarts: this.restarts,
    };
  }
}

function lastLines(text: string | undefined): string | undefined {
  const tail = text?.trimEnd().split('\n').slice(-TAIL_LINES).join('\n').slice(-4000);
  return tail || undefined;
}
