/**
 * The OpenAI-compatible API: chat/completions, completions and embeddings are relayed to the model's engine as they
 * are (streams chunk by chunk); `/v1/models` lists every model with its aliases and a router-mode `status`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { lookupModel, type GatewayContext } from './context.js';
import { GatewayError, toGatewayError } from './gateway-error.js';
import { clientGone, errorHeaders, parseJsonObject, readBody, sendJson } from './http-io.js';
import { relay } from './proxy.js';

export const OPENAI_PATHS = new Set(['/v1/chat/completions', '/v1/completions', '/v1/embeddings']);

const STARTED = Math.floor(Date.now() / 1000);

export function listModels(_req: IncomingMessage, res: ServerResponse, ctx: GatewayContext): Promise<void> {
  const data = ctx.scheduler.status().map((model) => ({
    id: model.name,
    object: 'model',
    created: STARTED,
    owned_by: 'llamactl',
    aliases: model.aliases,
    status: {
      value: model.state,
      ...(model.failure ? { failed: true, reason: model.failure } : {}),
      ...(model.memoryBytes === undefined ? {} : { memory_bytes: model.memoryBytes }),
      in_flight: model.inFlight,
      queued: model.queued,
    },
  }));
  sendJson(res, 200, { object: 'list', data });
  return Promise.resolve();
}

/** POST /v1/chat/completions, /v1/completions, /v1/embeddings. */
export async function relayOpenAi(req: IncomingMessage, res: ServerResponse, ctx: GatewayContext, path: string): Promise<void> {
  const started = performance.now();
  let name = '-';
  let status = 500;
  const gone = clientGone(req, res);
  try {
    const body = await readBody(req, ctx.maxBodyBytes);
    const model = lookupModel(ctx, parseJsonObject(body).model);
    name = model.name;
    const lease = await ctx.scheduler.acquire(model, gone);
    let ok = false;
    try {
      const result = await relay(lease, path, body, req, res, gone);
      status = gone.aborted ? 499 : result.status;
      ok = result.status < 400 && !gone.aborted;
      if (result.firstByteMs !== undefined) ctx.metrics.firstToken(name, 'openai', result.firstByteMs / 1000);
      ctx.metrics.tokens(name, result.promptTokens, result.completionTokens);
    } finally {
      lease.release(ok);
    }
  } catch (error) {
    const failure = toGatewayError(error);
    status = failure.status;
    if (!res.headersSent && !gone.aborted) sendOpenAiError(res, failure);
  } finally {
    ctx.metrics.request(name, 'openai', status, (performance.now() - started) / 1000);
  }
}

export function sendOpenAiError(res: ServerResponse, error: GatewayError): void {
  const type = error.status === 401 ? 'authentication_error' : error.status === 429 ? 'rate_limit_error'
    : error.status < 500 ? 'invalid_request_error' : 'server_error';
  sendJson(res, error.status, { error: { message: error.message, type, code: error.reason, param: error.param ?? null } }, errorHeaders(error));
}
