/**
 * What a web page must not do to a local gateway, checked before any route runs (so before any model is loaded):
 *
 * - DNS rebinding: a page on `evil.example` whose name is made to resolve to 127.0.0.1 reaches the gateway as the
 *   same origin, with `Host: evil.example:PORT`. Only a Host that names this machine (localhost, a loopback address,
 *   the address the gateway is bound to, the machine's own addresses behind 0.0.0.0) or a configured name is served.
 * - Cross-origin requests: a browser sends `Origin` with every cross-origin POST and every fetch. One from an origin
 *   that is neither the gateway's own nor in `cors.origins` is refused; an allowed one gets CORS headers and its
 *   preflight answered. Without `cors.origins` no CORS header is ever sent, so no other page can read an answer.
 * - "Simple" POSTs: a form or a no-cors fetch can send `text/plain` with no preflight. A body is read only when it is
 *   declared `application/json` (or `…+json`); anything else is refused with 415.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { networkInterfaces } from 'node:os';
import { GatewayError } from './gateway-error.js';

export interface GuardOptions {
  /** Extra names (or `*.domain`) that may appear in Host, e.g. a reverse proxy's. */
  allowedHosts?: readonly string[] | undefined;
  /** Origins (`https://app.example`) allowed to call the API from a browser; `*` for any (only with keys). */
  corsOrigins?: readonly string[] | undefined;
  /** The address the gateway listens on. */
  boundHost: string;
}

/** Request headers a browser may send cross-origin, answered in every allowed preflight. */
const ALLOWED_HEADERS = ['authorization', 'x-api-key', 'content-type', 'anthropic-version', 'anthropic-beta', 'prefer', 'openai-beta'];
const PREFLIGHT_MAX_AGE_S = 600;

export class RequestGuard {
  readonly #hosts: Set<string>;
  readonly #wildcards: string[];
  readonly #origins: Set<string>;
  readonly #anyOrigin: boolean;
  readonly #anyAddress: boolean;

  constructor(options: GuardOptions) {
    const names = (options.allowedHosts ?? []).map((name) => normalizeHostName(name));
    this.#hosts = new Set(['localhost', normalizeHostName(options.boundHost), ...names.filter((name) => !name.startsWith('*.'))]);
    this.#wildcards = names.filter((name) => name.startsWith('*.')).map((name) => name.slice(1));
    this.#origins = new Set((options.corsOrigins ?? []).filter((origin) => origin !== '*').map(normalizeOrigin));
    this.#anyOrigin = (options.corsOrigins ?? []).includes('*');
    this.#anyAddress = options.boundHost === '0.0.0.0' || options.boundHost === '::';
  }

  /**
   * Checks Host, Origin and Content-Type, and answers a preflight itself: `true` when the route may run (CORS
   * headers already set where they apply), `'answered'` after a preflight, or the error to refuse the request with.
   */
  check(req: IncomingMessage, res: ServerResponse): true | GatewayError | 'answered' {
    const host = req.headers.host ?? '';
    if (!this.allowsHost(host)) {
      const name = hostName(host) ?? host;
      return new GatewayError(403, 'host_not_allowed', `The Host ${JSON.stringify(host.slice(0, 200))} is not one this gateway answers to (DNS rebinding protection). If you reach it through that name on purpose, add ${JSON.stringify(name.slice(0, 200))} to allowedHosts in the gateway config, or pass --allowed-host.`);
    }
    const origin = req.headers.origin;
    const crossOrigin = origin !== undefined && !sameOrigin(origin, host);
    if (crossOrigin && !this.allowsOrigin(origin)) {
      return new GatewayError(403, 'origin_not_allowed', `Requests from the web page at ${JSON.stringify(origin.slice(0, 200))} are refused. To let that page use the gateway, add it to cors.origins in the gateway config.`);
    }
    if (crossOrigin) {
      res.setHeader('access-control-allow-origin', origin);
      res.setHeader('access-control-expose-headers', 'retry-after, location');
      res.setHeader('vary', 'Origin');
    }
    if (req.method === 'OPTIONS') {
      if (crossOrigin && req.headers['access-control-request-method']) {
        res.writeHead(204, {
          'access-control-allow-methods': 'GET, POST, OPTIONS',
          'access-control-allow-headers': allowedHeaders(req.headers['access-control-request-headers']),
          'access-control-max-age': String(PREFLIGHT_MAX_AGE_S),
        });
      } else res.writeHead(204, { allow: 'GET, POST, OPTIONS' });
      res.end();
      return 'answered';
    }
    if (req.method !== 'GET' && req.method !== 'HEAD' && !isJsonBody(req)) {
      return new GatewayError(415, 'unsupported_media_type', `The request body must be JSON sent with Content-Type: application/json (got ${JSON.stringify(String(req.headers['content-type'] ?? 'none').slice(0, 100))}); with curl, add -H 'Content-Type: application/json'.`);
    }
    return true;
  }

  allowsHost(header: string): boolean {
    const name = hostName(header);
    if (name === undefined) return false;
    if (this.#hosts.has(name) || name.endsWith('.localhost') || isLoopbackAddress(name)) return true;
    if (this.#wildcards.some((suffix) => name.endsWith(suffix))) return true;
    return this.#anyAddress && machineAddresses().has(name);
  }

  allowsOrigin(origin: string): boolean {
    return this.#anyOrigin ? origin !== 'null' : this.#origins.has(normalizeOrigin(origin));
  }
}

/** The host name of a Host header, lower-case, without port, brackets or a final dot; undefined when malformed. */
export function hostName(header: string): string | undefined {
  const match = /^(?:\[([0-9a-f:.]{2,45})\]|([a-z0-9_.-]{1,253}))(?::\d{1,5})?$/i.exec(header);
  if (!match) return undefined;
  return (match[1] ?? match[2]!).toLowerCase().replace(/\.$/, '');
}

function normalizeHostName(name: string): string {
  return name.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
}

function normalizeOrigin(origin: string): string {
  return origin.trim().toLowerCase().replace(/\/+$/, '');
}

/** The page was loaded from the gateway itself (directly or through a proxy that keeps Host). */
function sameOrigin(origin: string, host: string): boolean {
  const lower = origin.toLowerCase();
  const wanted = host.toLowerCase();
  return lower === `http://${wanted}` || lower === `https://${wanted}`;
}

function isLoopbackAddress(name: string): boolean {
  return /^127(?:\.\d{1,3}){3}$/.test(name) || name === '::1' || /^::ffff:127(?:\.\d{1,3}){3}$/.test(name);
}

let addresses: { at: number; set: Set<string> } | undefined;

/** This machine's own addresses (read again at most every 10 s: interfaces come and go). */
function machineAddresses(): Set<string> {
  if (addresses && Date.now() - addresses.at < 10_000) return addresses.set;
  const set = new Set<string>();
  for (const list of Object.values(networkInterfaces())) for (const entry of list ?? []) set.add(entry.address.toLowerCase().replace(/%.*$/, ''));
  addresses = { at: Date.now(), set };
  return set;
}

function isJsonBody(req: IncomingMessage): boolean {
  const type = req.headers['content-type'];
  if (type === undefined) return !hasBody(req);
  const media = type.split(';', 1)[0]!.trim().toLowerCase();
  return media === 'application/json' || /^application\/[a-z0-9.+-]{1,100}\+json$/.test(media);
}

function hasBody(req: IncomingMessage): boolean {
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
}

/** The headers a preflight asked for, when they are plain header names (bounded), plus the ones every API needs. */
function allowedHeaders(requested: string | undefined): string {
  const asked = (requested ?? '').slice(0, 2048).split(',').map((name) => name.trim().toLowerCase()).filter((name) => /^[a-z0-9-]{1,100}$/.test(name));
  return [...new Set([...ALLOWED_HEADERS, ...asked])].join(', ');
}
