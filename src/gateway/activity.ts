/**
 * What the gateway is doing, for its status page and for scripts: the models with the budget they hold, and the last
 * requests. `GET /gateway/models` answers it once; `GET /gateway/events` is a Server-Sent Events stream of it:
 * `snapshot` at once, `models` whenever a model changes state (at once) or a queue or the budget changes (at once,
 * but at most one per 250 ms however busy the gateway is: changes closer than that go out together), and `request` as each request ends. Bounded: the last 100 requests, 16 streams, and a
 * stream whose reader stops reading is dropped once 1 MiB is waiting for it.
 */
import type { ServerResponse } from 'node:http';
import { GatewayError } from './gateway-error.js';
import type { FinishedRequest } from './metrics.js';
import type { ModelStatus } from './model-handle.js';
import type { BudgetStatus } from './scheduler.js';

export interface RecentRequest extends FinishedRequest {
  /** When it ended (ISO 8601). */
  at: string;
  /** Generated tokens per second of the whole request, where the count is known. */
  tokensPerS: number | undefined;
}

export interface ModelsSnapshot {
  models: ModelStatus[];
  budget: BudgetStatus;
}

const RECENT = 100;
const MAX_STREAMS = 16;
const COALESCE_MS = 250;
const HEARTBEAT_MS = 15_000;
const MAX_BUFFERED = 2 ** 20;

export class Activity {
  readonly #models: () => ModelsSnapshot;
  /** A ring of what ended, with when (ms since the epoch); shaped for the page only when someone asks. */
  readonly #recent: { request: FinishedRequest; at: number }[] = [];
  #next = 0;
  readonly #streams = new Set<ServerResponse>();
  #pending: NodeJS.Timeout | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #lastSent = -Infinity;

  constructor(models: () => ModelsSnapshot) {
    this.#models = models;
  }

  /** The models, the budget and the last requests, newest last. */
  snapshot(): ModelsSnapshot & { recent: RecentRequest[] } {
    const ring = this.#recent.length < RECENT ? this.#recent : [...this.#recent.slice(this.#next), ...this.#recent.slice(0, this.#next)];
    return { ...this.#models(), recent: ring.map(({ request, at }) => view(request, at)) };
  }

  /** Called for every request (keep it cheap: it is on the gateway's hot path). */
  record(request: FinishedRequest): void {
    const entry = { request, at: Date.now() };
    if (this.#recent.length < RECENT) this.#recent.push(entry);
    else this.#recent[this.#next] = entry;
    this.#next = (this.#next + 1) % RECENT;
    if (this.#streams.size > 0) this.#send('request', view(request, entry.at));
  }

  /** Something the page shows changed: sent at once, or, after another change this close, COALESCE_MS after it. */
  changed(): void {
    if (this.#streams.size === 0 || this.#pending) return;
    const wait = this.#lastSent + COALESCE_MS - performance.now();
    if (wait <= 0) return this.#sendModels();
    this.#pending = setTimeout(() => {
      this.#pending = undefined;
      this.#sendModels();
    }, wait);
    this.#pending.unref();
  }

  /** A model changed state (loading, loaded, unloaded, failed): sent at once, whatever was sent just before. */
  transition(): void {
    if (this.#streams.size === 0) return;
    clearTimeout(this.#pending);
    this.#pending = undefined;
    this.#sendModels();
  }

  /** Answers `GET /gateway/events`: the stream stays open until the client or the gateway closes it. */
  stream(res: ServerResponse): void {
    if (this.#streams.size >= MAX_STREAMS) {
      throw new GatewayError(503, 'too_many_streams', `At most ${MAX_STREAMS} event streams may be open at once; close another status page.`, { retryAfterS: 5 });
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', 'x-accel-buffering': 'no' });
    this.#streams.add(res);
    res.on('close', () => {
      this.#streams.delete(res);
      if (this.#streams.size === 0) this.#stopHeartbeat();
    });
    res.write(frame('snapshot', this.snapshot()));
    this.#heartbeat ??= setInterval(() => {
      for (const stream of this.#streams) stream.write(': keep-alive\n\n');
    }, HEARTBEAT_MS).unref();
  }

  /** Ends every stream (the gateway is closing: they must not hold its grace period). */
  close(): void {
    clearTimeout(this.#pending);
    this.#stopHeartbeat();
    for (const stream of this.#streams) stream.end();
    this.#streams.clear();
  }

  #send(event: string, data: unknown): void {
    if (this.#streams.size === 0) return;
    const text = frame(event, data);
    for (const stream of this.#streams) {
      if (stream.writableLength > MAX_BUFFERED) stream.destroy();
      else stream.write(text);
    }
  }

  #sendModels(): void {
    this.#lastSent = performance.now();
    this.#send('models', this.#models());
  }

  #stopHeartbeat(): void {
    clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
  }
}

function view(request: FinishedRequest, at: number): RecentRequest {
  const round = (value: number) => Math.round(value * 10) / 10;
  const tokensPerS = request.completionTokens && request.ms > 0 ? round((request.completionTokens / request.ms) * 1000) : undefined;
  const firstByteMs = request.firstByteMs === undefined ? undefined : round(request.firstByteMs);
  return { ...request, ms: round(request.ms), firstByteMs, at: new Date(at).toISOString(), tokensPerS };
}

function frame(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}
