/**
 * The gateway's own API, which its status page uses: `GET /gateway/models` (models, budget, last requests),
 * `GET /gateway/events` (the same, live, as Server-Sent Events), and `POST /gateway/models/{name}/load` and
 * `/unload`. The POSTs must be sent as `application/json`, so that no form or `no-cors` fetch of another page can
 * send them (those cannot set that type without a preflight, which the guard refuses).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { lookupModel, type GatewayContext } from './context.js';
import { GatewayError } from './gateway-error.js';
import { clientGone, readBody, sendJson } from './http-io.js';

const ACTION = /^\/gateway\/models\/([^/]{1,400})\/(load|unload)$/;

/** True when `path` is one of these routes (the caller checked the key already). */
export function isAdminRoute(path: string): boolean {
  return path === '/gateway/models' || path === '/gateway/events' || ACTION.test(path);
}

export async function adminRoute(req: IncomingMessage, res: ServerResponse, ctx: GatewayContext, path: string): Promise<void> {
  const method = req.method ?? 'GET';
  if (method === 'GET' && path === '/gateway/models') return sendJson(res, 200, ctx.activity.snapshot());
  if (method === 'GET' && path === '/gateway/events') return ctx.activity.stream(res);
  const action = ACTION.exec(path);
  if (!action || method !== 'POST') throw new GatewayError(405, 'method_not_allowed', `${method} is not allowed on ${path.slice(0, 200)}.`);
  if (!/^application\/json\s*(;|$)/i.test(req.headers['content-type'] ?? '')) {
    throw new GatewayError(415, 'unsupported_media_type', `${path.slice(0, 200)} must be sent with Content-Type: application/json (a JSON body such as {} is enough).`);
  }
  await readBody(req, 4096);
  const model = lookupModel(ctx, safeDecode(action[1]!));
  if (action[2] === 'load') await ctx.scheduler.load(model.name, clientGone(req, res));
  else await ctx.scheduler.unload(model.name);
  sendJson(res, 200, { model: ctx.scheduler.status().find((status) => status.name === model.name) });
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new GatewayError(400, 'bad_path', `The path segment ${JSON.stringify(segment.slice(0, 100))} is not valid percent-encoding.`);
  }
}
