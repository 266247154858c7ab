/**
 * `GET /v1/models` and `GET /v1/models/{id}` for every API at once: each entry has OpenAI's fields (`id`, `object`,
 * `created`, `owned_by`) and Anthropic's (`type`, `display_name`, `created_at`), the list has both envelopes
 * (`object: "list"`; `has_more`, `first_id`, `last_id`), so either official client reads it. Each model also says
 * its aliases, what it can serve, and a router-mode `status`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { capabilitiesOf } from './capabilities.js';
import { lookupModel, type GatewayContext } from './context.js';
import { sendJson } from './http-io.js';
import type { ModelStatus } from './model-handle.js';

const STARTED = Math.floor(Date.now() / 1000);
const STARTED_ISO = new Date(STARTED * 1000).toISOString();

export function listModels(_req: IncomingMessage, res: ServerResponse, ctx: GatewayContext): Promise<void> {
  const data = ctx.scheduler.status().map((model) => entry(ctx, model));
  sendJson(res, 200, { object: 'list', data, has_more: false, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null });
  return Promise.resolve();
}

export function getModel(_req: IncomingMessage, res: ServerResponse, ctx: GatewayContext, name: string): Promise<void> {
  const config = lookupModel(ctx, name);
  const model = ctx.scheduler.status().find((status) => status.name === config.name)!;
  sendJson(res, 200, entry(ctx, model));
  return Promise.resolve();
}

function entry(ctx: GatewayContext, model: ModelStatus) {
  const config = ctx.catalog.find(model.name);
  return {
    id: model.name,
    object: 'model',
    created: STARTED,
    owned_by: 'llamactl',
    type: 'model',
    display_name: model.name,
    created_at: STARTED_ISO,
    aliases: model.aliases,
    capabilities: config ? capabilitiesOf(config) : [],
    status: {
      value: model.state,
      ...(model.failure ? { failed: true, reason: model.failure } : {}),
      ...(model.memoryBytes === undefined ? {} : { memory_bytes: model.memoryBytes }),
      in_flight: model.inFlight,
      queued: model.queued,
    },
  };
}
