/**
 * `startGateway()`: one local endpoint for every model, speaking the OpenAI, Replicate and Workers AI APIs, starting
 * engines on demand within a memory budget. The CLI's `llamactl gateway` is a thin layer over it.
 *
 * @example
 * await using gateway = await startGateway({ config: 'gateway.yaml' });
 * const openai = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'unused' });
 */
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import { systemMemory } from '../format/fit.js';
import { connectHost, formatUrl } from '../server/parse-log-line.js';
import { holdWatchdog } from '../server/watchdog.js';
import { llamactlHome } from '../store/paths.js';
import { Activity } from './activity.js';
import { KeyCheck } from './auth.js';
import { Catalog, storeCatalogModels } from './catalog.js';
import { loadGatewayConfig, type GatewayConfig, type GatewayModelConfig } from './config.js';
import type { GatewayContext } from './context.js';
import { RequestGuard } from './guard.js';
import { GatewayMetrics } from './metrics.js';
import type { ModelStatus } from './model-handle.js';
import { PredictionStore } from './prediction-store.js';
import { route } from './router.js';
import { Scheduler, type SchedulerEvent } from './scheduler.js';
import { WebhookSender } from './webhook-sender.js';
import { webhookSecret } from './webhook-secret.js';
import { WebhookAllowList } from './webhook-target.js';
import { isLoopback } from '../system/loopback.js';

/** The gateway's port when neither the config nor the options name one. */
export const DEFAULT_GATEWAY_PORT = 8181;

export interface StartGatewayOptions extends Omit<GatewayConfig, 'models'> {
  /** A config file (YAML or JSON), or the config itself. @default `$LLAMACTL_HOME/gateway.yaml` if it exists */
  config?: string | GatewayConfig | undefined;
  /** Models to serve (instead of the config's, or the store's). */
  models?: GatewayModelConfig[] | undefined;
  /** Allow a non-loopback address without an API key. */
  insecure?: boolean | undefined;
  /** A key accepted only on the `/gateway/*` routes (how `llamactl ps` asks a detached gateway). */
  adminKey?: string | undefined;
  env?: NodeJS.ProcessEnv | undefined;
  /** Engines loaded, unloaded, crashed; warnings. The library never prints. */
  onEvent?: ((event: GatewayEvent) => void) | undefined;
}

export type GatewayEvent = SchedulerEvent | { type: 'warning'; message: string };

export interface Gateway {
  url: string;
  host: string;
  port: number;
  /** Every model with its state, memory estimate, idle time and requests in flight. */
  models(): ModelStatus[];
  /** Stops accepting, lets in-flight requests finish within the grace period, then stops every engine. Idempotent. */
  close(options?: { graceMs?: number }): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export async function startGateway(options: StartGatewayOptions = {}): Promise<Gateway> {
  const env = options.env ?? process.env;
  const fileConfig = await readConfig(options.config, env);
  const pick = <K extends keyof GatewayConfig>(key: K): GatewayConfig[K] => (options[key as keyof StartGatewayOptions] as GatewayConfig[K]) ?? fileConfig[key];
  const host = pick('host') ?? '127.0.0.1';
  const keys = [...(pick('apiKeys') ?? []), ...(env.LLAMACTL_GATEWAY_KEY ? [env.LLAMACTL_GATEWAY_KEY] : [])];
  if (!isLoopback(host) && keys.length === 0) {
    if (!options.insecure) {
      throw new UsageError(`Refusing to listen on ${host} without an API key: anyone who can reach it could use your models.`, {
        hint: 'Pass --api-key (or set LLAMACTL_GATEWAY_KEY, or apiKeys in the config), or --insecure if you really mean it.',
      });
    }
    options.onEvent?.({ type: 'warning', message: `Listening on ${host} without an API key (--insecure): anyone who can reach it can use your models.` });
  }
  const corsOrigins = pick('corsOrigins') ?? [];
  if (corsOrigins.includes('*') && keys.length === 0) {
    throw new UsageError('cors.origins "*" lets every web page use the gateway, so it needs API keys: a page could otherwise drive your models.', {
      hint: 'Set apiKeys (or --api-key) too, or list the exact origins that may call the gateway.',
    });
  }
  // Names from the command line add to the config's.
  const allowedHosts = [...(options.allowedHosts ?? []), ...(fileConfig.allowedHosts ?? [])];
  const guard = new RequestGuard({ allowedHosts, corsOrigins, boundHost: host });
  const models = options.models ?? fileConfig.models ?? (await storeCatalogModels(env));
  const catalog = new Catalog(models);
  const preload = pick('preload') ?? [];
  for (const name of preload) {
    if (!catalog.find(name)) throw new UsageError(`preload names ${JSON.stringify(name)}, which is not a configured model (${catalog.names().slice(0, 10).join(', ')}).`);
  }
  const scheduler = new Scheduler({
    models,
    memoryBudget: pick('memoryBudget') ?? systemMemory().totalBytes,
    gpuMemoryBudget: pick('gpuMemoryBudget'),
    ttlMs: pick('ttlMs') ?? 600_000,
    queueSize: pick('queueSize') ?? 32,
    queueTimeoutMs: pick('queueTimeoutMs') ?? 60_000,
    loadTimeoutMs: pick('loadTimeoutMs') ?? 120_000,
    env,
    onEvent: (event) => {
      metrics.event(event);
      activity.transition();
      options.onEvent?.(event);
    },
    onChange: () => activity.changed(),
  });
  const metrics = new GatewayMetrics(() => scheduler.status());
  const activity = new Activity(() => ({ models: scheduler.status(), budget: scheduler.budget() }));
  metrics.onRequest = (request) => activity.record(request);
  const predictions = new PredictionStore();
  const webhooks = new WebhookSender({
    allow: new WebhookAllowList(pick('webhookAllow')),
    secret: await webhookSecret(pick('webhookSecret'), env),
    timeoutMs: pick('webhookTimeoutMs'),
  });
  let url = '';
  const ctx: GatewayContext = { catalog, scheduler, metrics, predictions, activity, webhooks, maxBodyBytes: pick('maxBodyBytes') ?? 8 * 2 ** 20, baseUrl: (req) => urlFor(req, url) };
  const routerOptions = { keys: new KeyCheck(keys), adminKey: options.adminKey ? new KeyCheck([options.adminKey]) : undefined, guard };

  let active = 0;
  let drained: (() => void) | undefined;
  const server = createServer({ headersTimeout: 10_000, requestTimeout: 120_000, keepAliveTimeout: 5000 }, (req, res) => {
    active++;
    res.on('close', () => {
      active--;
      if (active === 0) drained?.();
    });
    void route(req, res, ctx, routerOptions);
  });
  // Engines come and go; the watchdog that takes them along if we are killed stays, so a cold start does not wait
  // for a node process to boot beside the engine.
  const releaseWatchdog = holdWatchdog();
  await listen(server, host, pick('port') ?? DEFAULT_GATEWAY_PORT).catch((error: unknown) => {
    releaseWatchdog();
    throw error;
  });
  const port = (server.address() as AddressInfo).port;
  url = formatUrl(connectHost(host), port);
  const preloading = scheduler.preload(preload);

  let closing: Promise<void> | undefined;
  const gateway: Gateway = {
    url,
    host,
    port,
    models: () => scheduler.status(),
    close({ graceMs = pick('shutdownGraceMs') ?? 10_000 } = {}) {
      closing ??= (async () => {
        server.close();
        server.closeIdleConnections();
        activity.close();
        if (active > 0) {
          let timer: NodeJS.Timeout | undefined;
          await Promise.race([
            new Promise<void>((resolve) => (drained = resolve)),
            new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs))),
          ]);
          clearTimeout(timer);
        }
        predictions.cancelAll();
        server.closeAllConnections();
        await webhooks.close();
        await scheduler.close();
        await preloading;
        releaseWatchdog();
      })();
      return closing;
    },
    [Symbol.asyncDispose]: () => gateway.close(),
  };
  return gateway;
}

async function readConfig(config: StartGatewayOptions['config'], env: NodeJS.ProcessEnv): Promise<GatewayConfig> {
  if (typeof config === 'object') return config;
  if (typeof config === 'string') return loadGatewayConfig(config, env);
  const fallback = join(llamactlHome(env), 'gateway.yaml');
  return existsSync(fallback) ? loadGatewayConfig(fallback, env) : {};
}

/** Replicate's clients follow `urls.stream`: it must name the address the client used (a remote one, behind 0.0.0.0). */
function urlFor(req: { headers: { host?: string | undefined } } | undefined, fallback: string): string {
  const host = req?.headers.host;
  return host && /^[A-Za-z0-9.-]{1,253}(:\d{1,5})?$|^\[[0-9A-Fa-f:.]{2,45}\](:\d{1,5})?$/.test(host) ? `http://${host}` : fallback;
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      reject(
        error.code === 'EADDRINUSE'
          ? new UsageError(`Port ${port} on ${host} is already in use.`, { hint: 'Pick another --port (or stop what holds it: `llamactl ps`).' })
          : error,
      );
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}
