/**
 * Replicate's webhooks: a prediction created with `webhook` gets the prediction object POSTed to it, signed (see
 * webhook-sign.ts), at the events in `webhook_events_filter` (default all): `start` at once, `output` and `logs` as
 * they grow — at most one delivery per 500 ms, each with the latest state, so a fast model does not mean a flood —
 * and `completed` once, at the end, in that order. Each delivery is one message (one `webhook-id`) tried up to 4
 * times: again after a network error, a timeout (10 s per attempt), 408, 429 or 5xx, with exponential backoff and
 * jitter; a 3xx is not followed and, like other 4xx, ends it. One delivery at a time per prediction, each with the
 * state of when it was made; later changes wait and coalesce into the next, and an `output`/`logs` delivery waiting
 * to be retried gives way to a newer state (or to `completed`). Nothing here holds the prediction; close aborts all.
 */
import { randomBytes } from 'node:crypto';
import { request as httpRequest, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { UsageError } from '../errors.js';
import { isTerminal, type PredictionRecord } from './prediction-store.js';
import { GatewayError } from './gateway-error.js';
import { signWebhook } from './webhook-sign.js';
import type { WebhookAllowList, WebhookTarget } from './webhook-target.js';

export const WEBHOOK_EVENTS = ['start', 'output', 'logs', 'completed'] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

export interface WebhookSenderOptions {
  allow: WebhookAllowList;
  secret: string;
  /** Per attempt, connection to status line. @default 10 s */
  timeoutMs?: number | undefined;
  /** @default 4 */
  attempts?: number | undefined;
  /** Least time between `output`/`logs` deliveries. @default 500 ms */
  throttleMs?: number | undefined;
  /** First retry delay (doubling, capped at 30 s, jittered). @default 1 s */
  backoffMs?: number | undefined;
}

export class WebhookSender {
  readonly allow: WebhookAllowList;
  readonly secret: string;
  readonly #options: { timeoutMs: number; attempts: number; throttleMs: number; backoffMs: number };
  readonly #stop = new AbortController();
  readonly #running = new Set<Promise<void>>();

  constructor(options: WebhookSenderOptions) {
    this.allow = options.allow;
    this.secret = options.secret;
    this.#options = { timeoutMs: options.timeoutMs ?? 10_000, attempts: options.attempts ?? 4, throttleMs: options.throttleMs ?? 500, backoffMs: options.backoffMs ?? 1000 };
    const { timeoutMs } = this.#options;
    if (!(timeoutMs >= 100 && timeoutMs <= 120_000)) {
      throw new UsageError(`webhooks.timeout must be between 100 ms and 2 min (per delivery attempt), got ${timeoutMs} ms.`, { option: 'webhookTimeoutMs' });
    }
  }

  /** Delivers `record`'s events to `target` until it has ended (`view` is the prediction object, as GET shows it). */
  follow(record: PredictionRecord, target: WebhookTarget, events: ReadonlySet<WebhookEvent>, view: () => unknown): void {
    const run = this.#follow(record, target, events, view).catch(() => undefined);
    this.#running.add(run);
    void run.finally(() => this.#running.delete(run));
  }

  /** Aborts every delivery in flight or waiting, and waits for them to stop. */
  async close(): Promise<void> {
    this.#stop.abort();
    await Promise.all(this.#running);
  }

  async #follow(record: PredictionRecord, target: WebhookTarget, events: ReadonlySet<WebhookEvent>, view: () => unknown): Promise<void> {
    const { signal } = this.#stop;
    const stopped = new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    if (events.has('start')) await this.#deliver(target, view, () => false);
    let seen = { output: record.output.length, logs: record.logs.length };
    const grew = () => (events.has('output') && record.output.length > seen.output) || (events.has('logs') && record.logs.length > seen.logs);
    let last = -Infinity;
    while (!signal.aborted && !isTerminal(record.status)) {
      const changed = record.changed();
      if (!grew()) {
        await Promise.race([changed, record.finished, stopped]);
        continue;
      }
      const wait = last + this.#options.throttleMs - performance.now();
      if (wait > 0) {
        await Promise.race([sleep(wait), record.finished, stopped]);
        continue;
      }
      seen = { output: record.output.length, logs: record.logs.length };
      last = performance.now();
      // Superseded, while it waits to be retried, by the end or by a newer state (delivered next, as a new message).
      await this.#deliver(target, view, () => isTerminal(record.status) || grew());
    }
    if (signal.aborted) return;
    // The last state is always delivered: by `completed`, or else as the last `output`/`logs` the throttle held back.
    if (events.has('completed') || grew()) await this.#deliver(target, view, () => false);
  }

  /** One message, tried until it is taken, refused for good, superseded or out of attempts. */
  async #deliver(target: WebhookTarget, view: () => unknown, superseded: () => boolean): Promise<void> {
    const { signal } = this.#stop;
    const id = `msg_${randomBytes(16).toString('hex')}`;
    const body = JSON.stringify(view());
    for (let attempt = 1; attempt <= this.#options.attempts && !signal.aborted; attempt++) {
      if (attempt > 1) {
        const delay = Math.min(30_000, this.#options.backoffMs * 2 ** (attempt - 2)) * (0.5 + Math.random() / 2);
        await sleep(delay, signal);
        if (signal.aborted || superseded()) return;
      }
      // Checked again each time: the name may resolve elsewhere now; the connection goes to the address checked.
      // Resolving outside webhooks.allow ends the message; not resolving (now) is a failed attempt like no answer.
      let checked: WebhookTarget | undefined;
      try {
        checked = await this.allow.check(target.url.href, signal);
      } catch (error) {
        if (error instanceof GatewayError && error.reason === 'webhook_not_allowed') return;
      }
      const timestamp = Math.floor(Date.now() / 1000);
      const status = !checked ? 0 : await post(checked, body, {
        'content-type': 'application/json',
        'user-agent': 'llamactl-gateway',
        'webhook-id': id,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': signWebhook(this.secret, id, timestamp, body),
      }, this.#options.timeoutMs, signal);
      if (status >= 200 && status < 300) return;
      const retry = status === 0 || status === 408 || status === 429 || status >= 500;
      if (!retry) return;
    }
  }
}

/** `webhook_events_filter`: a list of known events (422 otherwise); all of them when absent. */
export function parseEventsFilter(value: unknown): Set<WebhookEvent> {
  if (value === undefined || value === null) return new Set(WEBHOOK_EVENTS);
  const known = new Set<string>(WEBHOOK_EVENTS);
  if (!Array.isArray(value) || value.length > 8 || value.some((event) => typeof event !== 'string' || !known.has(event))) {
    throw new GatewayError(422, 'invalid_webhook_events_filter', `webhook_events_filter must be a list of ${WEBHOOK_EVENTS.join(', ')}.`, { param: 'webhook_events_filter' });
  }
  return new Set(value as WebhookEvent[]);
}

/** POSTs `body` to the checked address; resolves the status, or 0 for no answer in time or a network error. */
function post(target: WebhookTarget, body: string, headers: Record<string, string>, timeoutMs: number, signal: AbortSignal): Promise<number> {
  const send = target.url.protocol === 'https:' ? httpsRequest : httpRequest;
  const options: RequestOptions = {
    method: 'POST',
    headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
    agent: false,
    signal,
    // The address that was checked, never a second lookup (TLS still checks the certificate against the name).
    lookup: ((_host: string, opts: { all?: boolean }, callback: (...args: unknown[]) => void) => {
      if (opts.all) callback(null, [{ address: target.address, family: target.family }]);
      else callback(null, target.address, target.family);
    }) as unknown as RequestOptions['lookup'],
  };
  return new Promise((resolve) => {
    let done = false;
    const finish = (status: number) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      req.destroy();
      resolve(status);
    };
    const timer = setTimeout(() => finish(0), timeoutMs);
    // The status is all that is needed: the body is not read (a receiver cannot make the gateway read much).
    const req = send(target.url, options, (res) => finish(res.statusCode ?? 0));
    req.on('error', () => finish(0));
    req.end(body);
  });
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
