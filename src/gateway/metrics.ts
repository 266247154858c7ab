/** `/metrics` in Prometheus text, from a registry of the gateway's own (not prom-client's global one). */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ModelStatus } from './model-handle.js';
import type { SchedulerEvent } from './scheduler.js';

import type { Api } from './gateway-error.js';

export type ApiName = Api;

/** One request as it ended: what /metrics counts and the status page lists. */
export interface FinishedRequest {
  model: string;
  api: Api;
  /** The route as the client called it (`/v1/messages`, `/v1/predictions`, `/ai/run`). */
  route: string;
  /** The HTTP status (499: the client went away). */
  status: number;
  /** Whole request, queueing and loading included. */
  ms: number;
  /** To the first byte (or token) of the answer. */
  firstByteMs?: number | undefined;
  promptTokens?: number | undefined;
  completionTokens?: number | undefined;
}

export class GatewayMetrics {
  readonly registry = new Registry();
  readonly #requests: Counter<'model' | 'api' | 'status'>;
  readonly #tokens: Counter<'model' | 'direction'>;
  readonly #ttft: Histogram<'model' | 'api'>;
  readonly #duration: Histogram<'model' | 'api'>;
  readonly #loads: Histogram<'model'>;
  readonly #evictions: Counter<'model' | 'reason'>;
  readonly #restarts: Counter<'model'>;
  onRequest: ((request: FinishedRequest) => void) | undefined;

  constructor(status: () => ModelStatus[]) {
    const registers = [this.registry];
    this.#requests = new Counter({ name: 'llamactl_gateway_requests_total', help: 'Requests by model, API and HTTP status.', labelNames: ['model', 'api', 'status'], registers });
    this.#tokens = new Counter({ name: 'llamactl_gateway_tokens_total', help: 'Tokens in (prompt) and out (generated).', labelNames: ['model', 'direction'], registers });
    const latency = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
    this.#ttft = new Histogram({ name: 'llamactl_gateway_time_to_first_token_seconds', help: 'From the request to the first byte of the answer.', labelNames: ['model', 'api'], buckets: latency, registers });
    this.#duration = new Histogram({ name: 'llamactl_gateway_request_duration_seconds', help: 'Whole requests, queueing and loading included.', labelNames: ['model', 'api'], buckets: latency, registers });
    this.#loads = new Histogram({ name: 'llamactl_gateway_model_load_seconds', help: 'Engine start to ready.', labelNames: ['model'], buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300], registers });
    this.#evictions = new Counter({ name: 'llamactl_gateway_unloads_total', help: 'Engines stopped: evicted for memory, idle TTL, shutdown.', labelNames: ['model', 'reason'], registers });
    this.#restarts = new Counter({ name: 'llamactl_gateway_engine_crashes_total', help: 'Engines that died on their own (the next request restarts them).', labelNames: ['model'], registers });
    const gauge = (name: string, help: string, value: (model: ModelStatus) => number) =>
      new Gauge({
        name, help, labelNames: ['model'], registers,
        collect() {
          for (const model of status()) this.set({ model: model.name }, value(model));
        },
      });
    gauge('llamactl_gateway_queue_depth', 'Requests waiting for a slot.', (m) => m.queued);
    gauge('llamactl_gateway_requests_in_flight', 'Requests holding a slot.', (m) => m.inFlight);
    gauge('llamactl_gateway_model_resident', '1 while the model\'s engine runs.', (m) => (m.state === 'loaded' ? 1 : 0));
    gauge('llamactl_gateway_model_memory_bytes', 'Memory estimate of resident models (0 when unloaded).', (m) => (m.state === 'loaded' ? (m.memoryBytes ?? 0) : 0));
  }

  /** Counts one finished request, and hands it to `onRequest` (the status page's list of recent requests). */
  finished(request: FinishedRequest): void {
    const { model, api } = request;
    this.#requests.inc({ model, api, status: String(request.status) });
    this.#duration.observe({ model, api }, request.ms / 1000);
    if (request.firstByteMs !== undefined) this.#ttft.observe({ model, api }, request.firstByteMs / 1000);
    if (request.promptTokens) this.#tokens.inc({ model, direction: 'in' }, request.promptTokens);
    if (request.completionTokens) this.#tokens.inc({ model, direction: 'out' }, request.completionTokens);
    this.onRequest?.(request);
  }

  event(event: SchedulerEvent): void {
    if (event.type === 'load') this.#loads.observe({ model: event.model }, event.ms / 1000);
    else if (event.type === 'unload') this.#evictions.inc({ model: event.model, reason: event.reason });
    else if (event.type === 'crash') this.#restarts.inc({ model: event.model });
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}
