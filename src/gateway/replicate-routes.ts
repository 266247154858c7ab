/**
 * Replicate's predictions API (seed 000): create (`Prefer: wait` answers when done; without it 201 at once), get,
 * cancel, and the SSE stream of `output` events then `done` (or `error`) at `urls.stream`, which needs no key;
 * webhooks (webhook-sender.ts) to destinations in `webhooks.allow`, and their signing secret.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { lookupModel, type GatewayContext } from './context.js';
import { GatewayError } from './gateway-error.js';
import { clientGone, errorHeaders, parseJsonObject, readBody, sendJson, write } from './http-io.js';
import { isTerminal, type PredictionRecord } from './prediction-store.js';
import { InputError, mapReplicateInput } from './replicate-input.js';
import { runPrediction } from './replicate-run.js';
import { parseEventsFilter } from './webhook-sender.js';

/** Replicate's own limit for `Prefer: wait`. */
const MAX_WAIT_S = 60;

/** POST /v1/models/{owner}/{name}/predictions (`model` set) or POST /v1/predictions (`version` names the model). */
export async function createPrediction(req: IncomingMessage, res: ServerResponse, ctx: GatewayContext, modelName?: string): Promise<void> {
  const body = parseJsonObject(await readBody(req, ctx.maxBodyBytes));
  const name = modelName ?? body.version ?? body.model;
  const model = lookupModel(ctx, name, modelName ? 'model' : 'version');
  const { input, notes } = mapReplicateInput(body.input);
  // Checked before anything is created: a refused webhook (422) leaves no prediction behind.
  // `webhook: null` is no webhook, as Replicate takes it; a bad filter is a 422 with or without one.
  const events = parseEventsFilter(body.webhook_events_filter);
  const target = body.webhook !== undefined && body.webhook !== null ? await ctx.webhooks.allow.check(body.webhook) : undefined;
  const record = ctx.predictions.create(String(name), body.input as Record<string, unknown>);
  for (const note of notes) record.logs.push(`${new Date().toISOString()} ${note}`);
  if (target) {
    record.webhook = { url: target.url.href, events: [...events] };
    ctx.webhooks.follow(record, target, events, () => view(record, ctx, req));
  }
  void runPrediction(ctx, record, model, input);
  const wait = preferWait(String(req.headers.prefer ?? ''));
  if (wait !== undefined) {
    // The client leaving while it waits cancels the prediction (Replicate's clients cancel it themselves then too).
    const gone = clientGone(req, res);
    const onGone = () => record.controller.abort();
    gone.addEventListener('abort', onGone, { once: true });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([record.finished, new Promise((resolve) => (timer = setTimeout(resolve, wait * 1000)))]);
    clearTimeout(timer);
    gone.removeEventListener('abort', onGone);
  }
  sendJson(res, 201, view(record, ctx, req), { location: `${ctx.baseUrl(req)}/v1/predictions/${record.id}` });
}

/** GET /v1/webhooks/default/secret: the key webhooks are signed with, for `validateWebhook()`. */
export function getWebhookSecret(_req: IncomingMessage, res: ServerResponse, ctx: GatewayContext): Promise<void> {
  sendJson(res, 200, { key: ctx.webhooks.secret });
  return Promise.resolve();
}

/** GET /v1/predictions/{id} */
export function getPrediction(req: IncomingMessage, res: ServerResponse, ctx: GatewayContext, id: string): Promise<void> {
  sendJson(res, 200, view(found(ctx, id), ctx, req));
  return Promise.resolve();
}

/** POST /v1/predictions/{id}/cancel */
export async function cancelPrediction(req: IncomingMessage, res: ServerResponse, ctx: GatewayContext, id: string): Promise<void> {
  const record = found(ctx, id);
  if (!isTerminal(record.status)) {
    record.status = 'canceled';
    record.completedAt = new Date();
    record.controller.abort();
    record.notify();
  }
  sendJson(res, 200, view(record, ctx, req));
}

/** GET /v1/streams/{streamId}: the tokens so far, then each new one as it comes, then `done`. */
export async function streamPrediction(req: IncomingMessage, res: ServerResponse, ctx: GatewayContext, streamId: string): Promise<void> {
  const record = ctx.predictions.byStream(streamId);
  if (!record) throw new GatewayError(404, 'not_found', 'No such stream.');
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', 'x-accel-buffering': 'no' });
  res.flushHeaders();
  const gone = clientGone(req, res);
  const left = new Promise<void>((resolve) => gone.addEventListener('abort', () => resolve(), { once: true }));
  let sent = 0;
  while (!gone.aborted) {
    const changed = record.changed();
    // One event per token, each written only once the previous one is taken (backpressure: the output is bounded).
    while (sent < record.output.length && !gone.aborted) {
      await write(res, `event: output\nid: ${sent}\n${dataLines(record.output[sent]!)}\n`);
      sent++;
    }
    if (isTerminal(record.status) && sent >= record.output.length) break;
    await Promise.race([changed, left]);
  }
  if (gone.aborted) return;
  if (record.status === 'failed') res.end(`event: error\n${dataLines(record.error ?? 'failed')}\n`);
  else res.end(`event: done\ndata: ${record.status === 'canceled' ? '{"reason":"canceled"}' : '{}'}\n\n`);
}

export function sendReplicateError(res: ServerResponse, error: GatewayError): void {
  const title = error.status === 401 ? 'Unauthenticated' : error.status === 404 ? 'Not found' : error.status === 422 ? 'Input validation failed'
    : error.status === 429 ? 'Too many requests' : error.status < 500 ? 'Bad request' : 'Server error';
  const invalid = error instanceof InputError ? { invalid_fields: [{ type: 'invalid', field: `input.${error.field}`, description: error.message }] } : {};
  sendJson(res, error.status, { title, detail: error.message, status: error.status, ...invalid }, errorHeaders(error));
}

/** `Prefer: wait` → 60 s, `Prefer: wait=N` → N s (1–60); undefined without it. */
function preferWait(header: string | undefined): number | undefined {
  const match = /(?:^|[,;\s])wait(?:=(\d+))?(?:$|[,;\s])/i.exec(header ?? '');
  if (!match) return undefined;
  return Math.min(MAX_WAIT_S, Math.max(1, match[1] ? Number(match[1]) : MAX_WAIT_S));
}

function found(ctx: GatewayContext, id: string): PredictionRecord {
  const record = ctx.predictions.get(id);
  if (!record) throw new GatewayError(404, 'not_found', `No prediction with id ${JSON.stringify(id.slice(0, 64))} (predictions are kept for an hour).`);
  return record;
}

/** SSE `data:` lines for a text that may hold newlines. */
function dataLines(text: string): string {
  return `${text.split(/\r\n|\r|\n/).map((line) => `data: ${line}`).join('\n')}\n`;
}

/** The prediction object as Replicate's API returns it. */
function view(record: PredictionRecord, ctx: GatewayContext, req: IncomingMessage): Record<string, unknown> {
  const base = ctx.baseUrl(req);
  const iso = (date: Date | undefined) => date?.toISOString() ?? null;
  return {
    id: record.id,
    model: record.model,
    version: 'hidden',
    input: record.input,
    logs: record.logs.join('\n'),
    output: record.status === 'starting' ? null : record.output,
    data_removed: false,
    error: record.error,
    status: record.status,
    source: 'api',
    created_at: iso(record.createdAt),
    started_at: iso(record.startedAt),
    completed_at: iso(record.completedAt),
    urls: {
      get: `${base}/v1/predictions/${record.id}`,
      cancel: `${base}/v1/predictions/${record.id}/cancel`,
      stream: `${base}/v1/streams/${record.streamId}`,
    },
    ...(record.metrics ? { metrics: record.metrics } : {}),
    ...(record.webhook ? { webhook: record.webhook.url, webhook_events_filter: record.webhook.events } : {}),
  };
}
