// src/http/: the ground floor under every hub and CDN request: sending (per-origin Authorization, redirects), retries, the stall watchdog, Content-Range checks, network error codes.
import { Agent, EnvHttpProxyAgent, request, type Dispatcher } from 'undici';
import { UsageError } from '../errors.js';
import { boundedHeader, checkNetworkUrl, serverAt, type Headers } from './bounds.js';

export type { Headers } from './bounds.js';

export interface HttpResponse {
  status: number;
  headers: Headers;
  body: Dispatcher.ResponseData['body'];
  /** The URL that answered (after same-origin redirects). */
  url: string;
  /** For a redirect returned as is: where it points, checked (bounds.ts checkNetworkUrl). */
  location?: string | undefined;
}

/** A bearer token and the one origin it may be sent to. */
export interface OriginToken {
  origin: string;
  value: string;
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

/**
 * The Authorization header for `url`: the token's, only on the token's own origin; nothing anywhere else. A token
 * no request can carry (a stray line break) is the user's to fix, said before any request.
 */
export function authorizationFor(url: URL, token: OriginToken | undefined): { authorization?: string } {
  if (!token || url.origin !== token.origin) return {};
  if (!/^[\x21-\x7e]*$/.test(token.value)) {
    throw new UsageError('The token holds characters a request cannot carry.', { option: 'token', hint: 'Check HF_TOKEN / the `token` option for a stray space or line break.' });
  }
  return { authorization: `Bearer ${token.value}` };
}

/** A response header's value, bounded (bounds.ts). */
export const header = (headers: Headers, name: string): string | undefined => boundedHeader(headers, name);

export interface SendOptions {
  method?: 'GET' | 'HEAD';
  headers?: Record<string, string>;
  dispatcher: Dispatcher;
  signal?: AbortSignal | undefined;
  /** Sent only to this origin (the hub's own), never to a CDN a redirect points to. */
  token?: OriginToken | undefined;
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
      let next: URL;
      try {
        // Only http(s) with a host is ever followed: a Location is the network's word, checked before use.
        next = checkNetworkUrl(location, { base: current, what: 'redirect', from: serverAt(current) });
      } catch (error) {
        await response.body.dump().catch(() => {});
        throw error;
      }
      if ((!followCrossOrigin && next.origin !== current.origin) || hop >= 5) {
        return { status: response.statusCode, headers: response.headers, body: response.body, url: current.href, location: next.href };
      }
      await response.body.dump().catch(() => {});
      current = next;
      continue;
    }
    return { status: response.statusCode, headers: response.headers, body: response.body, url: current.href };
  }
}
