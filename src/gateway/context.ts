/** What every route handler of the gateway works with. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Activity } from './activity.js';
import type { Catalog } from './catalog.js';
import type { GatewayModelConfig } from './config.js';
import { GatewayError } from './gateway-error.js';
import type { GatewayMetrics } from './metrics.js';
import type { PredictionStore } from './prediction-store.js';
import type { Scheduler } from './scheduler.js';
import type { WebhookSender } from './webhook-sender.js';

export interface GatewayContext {
  catalog: Catalog;
  scheduler: Scheduler;
  metrics: GatewayMetrics;
  predictions: PredictionStore;
  /** The status page's feed: models, budget, last requests. */
  activity: Activity;
  /** Replicate webhooks: the allow-list, the secret, the deliveries. */
  webhooks: WebhookSender;
  maxBodyBytes: number;
  /** The gateway's own URL as this client reached it (the Host it sent, else the listening address), for `urls`. */
  baseUrl: (req?: IncomingMessage) => string;
}

export type Handler = (req: IncomingMessage, res: ServerResponse, ctx: GatewayContext) => Promise<void>;

/** The model a client named, or a 404 that names it and the closest known names. */
export function lookupModel(ctx: GatewayContext, name: unknown, param = 'model'): GatewayModelConfig {
  if (typeof name !== 'string' || name.length === 0) {
    throw new GatewayError(400, 'missing_model', `The request must name a model in \`${param}\`.`, { param });
  }
  const found = ctx.catalog.find(name);
  if (found) return found;
  const closest = ctx.catalog.closest(name);
  const hint = closest.length > 0 ? ` Closest: ${closest.join(', ')}.` : ' This gateway serves no models.';
  throw new GatewayError(404, 'model_not_found', `The model ${JSON.stringify(name.slice(0, 200))} does not exist on this gateway.${hint}`, { param });
}
