/**
 * Which handler answers a request, which API's error shape it gets, and the checks every request passes first: the
 * guard (Host, Origin, Content-Type, CORS: see guard.ts), then the key (every route but `/health` and Replicate's
 * stream URLs needs one when keys are configured; the status page's files need none, its API does).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendApiError, type Api } from './api-errors.js';
import { adminRoute, isAdminRoute } from './admin-routes.js';
import type { KeyCheck } from './auth.js';
import type { GatewayContext } from './context.js';
import { ENGINE_ROUTES, relayEngineRoute } from './engine-routes.js';
import { GatewayError, toGatewayError } from './gateway-error.js';
import type { RequestGuard } from './guard.js';
import { sendJson } from './http-io.js';
import { getModel, listModels } from './model-list.js';
import { cancelPrediction, createPrediction, getPrediction, getWebhookSecret, streamPrediction } from './replicate-routes.js';
import { isStatusPage, sendStatusPage } from './status-page.js';
import { runWorkersAi } from './workers-ai-routes.js';

export interface RouterOptions {
  keys: KeyCheck;
  /** Also accepted on /gateway/*, for `llamactl ps` (from the 0600 key file next to the gateway's record). */
  adminKey?: KeyCheck | undefined;
  guard: RequestGuard;
}

export async function route(req: IncomingMessage, res: ServerResponse, ctx: GatewayContext, options: RouterOptions): Promise<void> {
  const path = (req.url ?? '/').split('?', 1)[0]!;
  const method = req.method ?? 'GET';
  const api = apiOf(path);
  try {
    const verdict = options.guard.check(req, res);
    if (verdict === 'answered') return;
    if (verdict !== true) throw verdict;
    if (path === '/health' && (method === 'GET' || method === 'HEAD')) return sendJson(res, 200, { status: 'ok' });
    const stream = /^\/v1\/streams\/([a-z2-7]{16,128})$/.exec(path);
    if (stream && method === 'GET') return await streamPrediction(req, res, ctx, stream[1]!);
    if ((method === 'GET' || method === 'HEAD') && isStatusPage(path)) return await sendStatusPage(res, path, method === 'HEAD');
    if (isAdminRoute(path)) {
      if (!options.keys.allows(req) && !options.adminKey?.allows(req)) throw unauthorized();
      return await adminRoute(req, res, ctx, path);
    }
    if (!options.keys.allows(req)) throw unauthorized();
    if (method === 'GET' && path === '/metrics') {
      const text = await ctx.metrics.text();
      res.writeHead(200, { 'content-type': ctx.metrics.registry.contentType });
      res.end(text);
      return;
    }
    const engineRoute = method === 'POST' ? ENGINE_ROUTES.get(path) : undefined;
    if (engineRoute) return await relayEngineRoute(req, res, ctx, engineRoute);
    if (method === 'GET' && path === '/v1/models') return await listModels(req, res, ctx);
    const modelPath = /^\/v1\/models\/(.{1,400})$/.exec(path);
    if (method === 'GET' && modelPath) return await getModel(req, res, ctx, decode(modelPath[1]!));
    const replicateModel = /^\/v1\/models\/([^/]+)\/([^/]+)\/predictions$/.exec(path);
    if (replicateModel && method === 'POST') {
      const [owner, name] = [decode(replicateModel[1]!), decode(replicateModel[2]!)];
      // `owner/name` as configured, else the bare name (so `llamactl/tiny` reaches a model named `tiny`).
      const full = `${owner}/${name}`;
      return await createPrediction(req, res, ctx, ctx.catalog.find(full) || !ctx.catalog.find(name) ? full : name);
    }
    if (path === '/v1/predictions' && method === 'POST') return await createPrediction(req, res, ctx);
    if (path === '/v1/webhooks/default/secret' && method === 'GET') return await getWebhookSecret(req, res, ctx);
    const prediction = /^\/v1\/predictions\/([a-z0-9]{1,64})(\/cancel)?$/.exec(path);
    if (prediction && method === 'GET' && !prediction[2]) return await getPrediction(req, res, ctx, prediction[1]!);
    if (prediction && method === 'POST' && prediction[2]) return await cancelPrediction(req, res, ctx, prediction[1]!);
    const workers = /^(?:\/client\/v4)?(?:\/accounts\/[^/]{1,64})?\/ai\/run\/(.{1,300})$/.exec(path);
    if (workers && method === 'POST') return await runWorkersAi(req, res, ctx, decode(workers[1]!));
    throw new GatewayError(404, 'not_found', `No route ${method} ${path.slice(0, 200)} on this gateway.`);
  } catch (error) {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const failure = toGatewayError(error);
    if (failure.status === 499) res.destroy();
    else sendApiError(api, res, failure);
  }
}

function apiOf(path: string): Api {
  if (path.startsWith('/v1/messages')) return 'anthropic';
  if (path.startsWith('/client/v4/') || path.startsWith('/ai/') || path.startsWith('/accounts/')) return 'workers-ai';
  if (path.startsWith('/v1/predictions') || path.startsWith('/v1/streams/') || path.startsWith('/v1/webhooks/') || /^\/v1\/models\/[^/]+\/[^/]+\/predictions$/.test(path)) return 'replicate';
  return 'openai';
}

function unauthorized(): GatewayError {
  return new GatewayError(401, 'invalid_api_key', 'A valid API key is required: send Authorization: Bearer <key> (or x-api-key: <key>).');
}

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new GatewayError(400, 'bad_path', `The path segment ${JSON.stringify(segment.slice(0, 100))} is not valid percent-encoding.`);
  }
}
