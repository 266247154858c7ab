/**
 * Every engine route that names a model in its body, relayed to that model's engine as it is (streams event by
 * event): OpenAI's chat/completions, completions, embeddings and Responses API, Anthropic's Messages API, llama.cpp's
 * rerank, tokenize, detokenize and infill, and the token counters. One table; one relay for all of them. Each request
 * is routed by its body's `model` (name or alias), loads the model on demand within the budget, waits for a slot in
 * its queue, is counted in /metrics, and is aborted upstream when its client goes away.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendApiError, type Api } from './api-errors.js';
import { requireCapability, type Capability } from './capabilities.js';
import { lookupModel, type GatewayContext } from './context.js';
import { toGatewayError } from './gateway-error.js';
import { clientGone, readBody } from './http-io.js';
import type { FinishedRequest } from './metrics.js';
import { modelField } from './model-field.js';
import { relay } from './proxy.js';
import { ResponsesEventFixer } from './responses-events.js';

export interface EngineRoute {
  /** The path on the gateway and on the engine. */
  path: string;
  /** Whose error shape (and client) the route has. */
  api: Api;
  /** An engine flag the model must have been started with. */
  needs?: Capability | undefined;
}

const table: EngineRoute[] = [
  { path: '/v1/chat/completions', api: 'openai' },
  { path: '/v1/chat/completions/input_tokens', api: 'openai' },
  { path: '/v1/completions', api: 'openai' },
  { path: '/v1/embeddings', api: 'openai', needs: 'embeddings' },
  { path: '/v1/responses', api: 'openai' },
  { path: '/v1/responses/input_tokens', api: 'openai' },
  { path: '/v1/messages', api: 'anthropic' },
  { path: '/v1/messages/count_tokens', api: 'anthropic' },
  { path: '/v1/rerank', api: 'openai', needs: 'reranking' },
  { path: '/v1/reranking', api: 'openai', needs: 'reranking' },
  { path: '/rerank', api: 'openai', needs: 'reranking' },
  { path: '/tokenize', api: 'openai' },
  { path: '/detokenize', api: 'openai' },
  { path: '/infill', api: 'openai' },
];

/** POST routes by path. */
export const ENGINE_ROUTES: ReadonlyMap<string, EngineRoute> = new Map(table.map((route) => [route.path, route]));

export async function relayEngineRoute(req: IncomingMessage, res: ServerResponse, ctx: GatewayContext, route: EngineRoute): Promise<void> {
  const started = performance.now();
  const done: FinishedRequest = { model: '-', api: route.api, route: route.path, status: 500, ms: 0 };
  const gone = clientGone(req, res);
  try {
    const body = await readBody(req, ctx.maxBodyBytes);
    const model = lookupModel(ctx, modelField(body));
    done.model = model.name;
    requireCapability(model, route.needs, route.path);
    const lease = await ctx.scheduler.acquire(model, gone);
    let ok = false;
    try {
      const fixer = route.path === '/v1/responses' ? () => new ResponsesEventFixer(model.name) : undefined;
      const result = await relay(lease, route, body, req, res, gone, fixer);
      done.status = gone.aborted ? 499 : result.status;
      ok = result.status < 400 && !gone.aborted;
      done.firstByteMs = result.firstByteMs;
      done.promptTokens = result.promptTokens;
      done.completionTokens = result.completionTokens;
    } finally {
      lease.release(ok);
    }
  } catch (error) {
    const failure = toGatewayError(error);
    done.status = failure.status;
    if (!res.headersSent && !gone.aborted) sendApiError(route.api, res, failure);
  } finally {
    done.ms = performance.now() - started;
    ctx.metrics.finished(done);
  }
}
