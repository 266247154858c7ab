import { Agent, EnvHttpProxyAgent, request, type Dispatcher } from 'undici';
import { HubAuthError, HubError, HubNotFoundError } from '../errors.js';
import { RETRYABLE_STATUS, RetryableError, retryAfterMs } from '../download/retry.js';

export type Headers = Record<string, string | string[] | undefined>;

export interface HttpResponse {
  status: number;
  headers: Headers;
  body: Dispatcher.ResponseData['body'];
  /** The URL that answered (after same-origin redirects). */
  url: string;
}

/** Whether the environment names an HTTP(S) proxy (`HTTPS_PROXY`, `HTTP_PROXY`, either case), as curl and pip read it. */
export function proxyConfigured(env: NodeJS.ProcessEnv = process.env): boolean {
  return ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy'].some((name) => Boolean(env[name]));
}

/** An agent for the hub and its CDN: through the proxy the environment names (honouring `NO_PROXY`), if any. */
export function createAgent(options: Agent.Options): Dispatcher {
  return proxyConfigured() ? new EnvHttpProxyAgent(options) : new Agent(options);
}

/** One shared keep-alive agent per pull; redirects are handled by hand so Authorization never leaves its origin. */
export function createDispatcher(connections: number): Dispatcher {
  return createAgent({
    connections: Math.max(connections, 1) + 2,
    keepAliveTimeout: 10_000,
    headersTimeout: 60_000,
    // The stall watchdog, not undici, decides when a body has gone quiet.
    bodyTimeout: 0,
  });
}

/** The Authorization header for `url`: the token's, only on the token's own origin; nothing anywhere else. */
export function authorizationFor(url: URL, token: { origin: string; value: string } | undefined): { authorization?: string } {
  return token && url.origin === token.origin ? { authorization: `Bearer ${token.value}` } : {};
}

export function header(headers: Headers, name: string): string | undefined {
  const value = headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

export interface SendOptions {
  method?: 'GET' | 'HEAD';
  headers?: Record<string, string>;
  dispatcher: Dispatcher;
  signal?: AbortSignal | undefined;
  /** Sent only to this origin (the hub's own), never to a CDN a redirect points to. */
  token?: { origin: string; value: string } | undefined;
  /** Follow redirects to other origins too (with Authorization stripped). @default true */
  followCrossOrigin?: boolean;
}

/**
 * Sends a request, following up to 5 redirects itself: Authorization goes only to `token.origin`, whatever the
 * redirect chain does. With `followCrossOrigin: false`, a redirect to another origin is returned as is (HEAD
 * metadata, as huggingface_hub does).
 */
export async function send(url: string, options: SendOptions): Promise<HttpResponse> {
  const { method = 'GET', dispatcher, signal, token, followCrossOrigin = true } = options;
  let current = new URL(url);
  for (let hop = 0; ; hop++) {
    const headers: Record<string, string> = { 'user-agent': 'llamactl', 'accept-encoding': 'identity', ...options.headers };
    Object.assign(headers, authorizationFor(current, token));
    const response = await request(current, { method, headers, dispatcher, signal: signal ?? null });
    const location = header(response.headers, 'location');
    if (response.statusCode >= 300 && response.statusCode < 400 && location !== undefined) {
      const next = new URL(location, current);
      if ((!followCrossOrigin && next.origin !== current.origin) || hop >= 5) {
        return { status: response.statusCode, headers: response.headers, body: response.body, url: current.href };
      }
      await response.body.dump().catch(() => {});
      current = next;
      continue;
    }
    return { status: response.statusCode, headers: response.headers, body: response.body, url: current.href };
  }
}

export interface HubTarget {
  repo: string;
  revision?: string | undefined;
  file?: string | undefined;
}

/**
 * Maps a failed hub answer to a typed error, using `X-Error-Code` the way huggingface_hub does. Retryable statuses
 * become `RetryableError` (with Retry-After).
 */
export function hubErrorFor(status: number, headers: Headers, target: HubTarget): Error {
  const code = header(headers, 'x-error-code');
  const serverMessage = header(headers, 'x-error-message');
  const detail = serverMessage ? ` (hub: ${serverMessage})` : '';
  if (RETRYABLE_STATUS.has(status)) {
    return new RetryableError(`HTTP ${status} from the hub${detail}`, { status, retryAfterMs: retryAfterMs(headers) });
  }
  if (code === 'RepoNotFound' || (status === 404 && !code && !target.file)) {
    return new HubNotFoundError(`Repository ${target.repo} not found on the hub.`, {
      status,
      hint:
        status === 401
          ? 'Check the name; if the repo is private or gated, set HF_TOKEN (or --token) to a token that can read it.'
          : 'Check the owner/repo name.',
    });
  }
  if (code === 'RevisionNotFound') {
    return new HubNotFoundError(`Revision ${target.revision ?? '?'} not found in ${target.repo}.`, {
      status,
      hint: 'Check --revision (a branch, tag or commit).',
    });
  }
  if (code === 'EntryNotFound' || status === 404) {
    return new HubNotFoundError(`File ${target.file ?? '?'} not found in ${target.repo} at ${target.revision ?? 'main'}.`, {
      status,
      hint: 'Run without --file to list the files the repo holds.',
    });
  }
  if (status === 401 || status === 403) {
    const gated = code === 'GatedRepo';
    const why = gated ? 'the model is gated' : status === 401 ? 'the token is missing or invalid' : 'the token may not read it';
    return new HubAuthError(`The hub refused access to ${target.repo}: ${why} (HTTP ${status})${detail}.`, {
      status,
      hint: gated
        ? `Accept the model's licence on its hub page, then set HF_TOKEN (or --token) to a token of that account.`
        : 'Set HF_TOKEN (or --token) to a valid Hugging Face token that can read this repo.',
    });
  }
  return new HubError(`The hub answered HTTP ${status} for ${target.repo}${detail}.`, { status });
}
