/**
 * Where a prediction's webhook may go. A prediction's creator names a URL; without a limit that would let anyone who
 * can create predictions make the gateway POST into any network it reaches (SSRF). So the destination must be in
 * `webhooks.allow` — host names (`hooks.example`, `*.example`), addresses, or CIDRs (`10.0.0.0/8`, `fd00::/8`);
 * by default loopback only — and every address its name resolves to must be allowed too (a name of anyone's can
 * resolve to anything). The check runs at creation (422) and again before each delivery, which then connects to the
 * address that was checked, not to a second lookup (DNS rebinding).
 */
import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { UsageError } from '../errors.js';
import { GatewayError } from './gateway-error.js';

export const DEFAULT_WEBHOOK_ALLOW = ['localhost', '127.0.0.0/8', '::1/128'];
const MAX_URL_LENGTH = 2048;
const MAX_ADDRESSES = 32;
/** A name that does not resolve within this is refused (creation does not wait on a slow resolver for long). */
const LOOKUP_TIMEOUT_MS = 5000;

export interface WebhookTarget {
  url: URL;
  /** The checked address to connect to, and its family. */
  address: string;
  family: 4 | 6;
}

export class WebhookAllowList {
  readonly #names = new Set<string>();
  readonly #suffixes: string[] = [];
  readonly #addresses = new BlockList();
  readonly #entries: readonly string[];

  constructor(entries: readonly string[] = DEFAULT_WEBHOOK_ALLOW) {
    this.#entries = entries;
    for (const raw of entries) {
      const entry = raw.trim().toLowerCase().replace(/^\[|\]$/g, '');
      const cidr = /^(.+)\/(\d{1,3})$/.exec(entry);
      const family = isIP(cidr ? cidr[1]! : entry);
      if (family !== 0) {
        const type = family === 6 ? 'ipv6' : 'ipv4';
        const prefix = cidr ? Number(cidr[2]) : family === 6 ? 128 : 32;
        if (prefix > (family === 6 ? 128 : 32)) throw badEntry(raw);
        this.#addresses.addSubnet(cidr ? cidr[1]! : entry, prefix, type);
      } else if (/^\*\.[a-z0-9.-]{1,253}$/.test(entry)) this.#suffixes.push(entry.slice(1));
      else if (/^[a-z0-9]([a-z0-9.-]{0,252})$/.test(entry) && !cidr) this.#names.add(entry.replace(/\.$/, ''));
      else throw badEntry(raw);
    }
  }

  allowsName(host: string): boolean {
    return this.#names.has(host) || this.#suffixes.some((suffix) => host.endsWith(suffix));
  }

  allowsAddress(address: string): boolean {
    const family = isIP(address);
    return family !== 0 && this.#addresses.check(address, family === 6 ? 'ipv6' : 'ipv4');
  }

  /** Parses `webhook`, checks it and resolves it: the address to deliver to, or a 422 that says why not. */
  async check(webhook: unknown, signal?: AbortSignal): Promise<WebhookTarget> {
    const url = parseWebhookUrl(webhook);
    const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase().replace(/\.$/, '');
    const literal = isIP(host);
    if (literal !== 0) {
      if (!this.allowsAddress(host)) throw this.#refused(url, `its address ${host} is not in webhooks.allow`);
      return { url, address: host, family: literal as 4 | 6 };
    }
    if (!this.allowsName(host)) throw this.#refused(url, `the host ${host} is not in webhooks.allow`);
    let found: { address: string; family: number }[];
    try {
      found = (await resolveAll(host, signal)).slice(0, MAX_ADDRESSES);
    } catch (error) {
      throw new GatewayError(422, 'webhook_unresolvable', `The webhook host ${host} does not resolve (${(error as NodeJS.ErrnoException).code ?? 'error'}).`, { param: 'webhook' });
    }
    const outside = found.find((entry) => !this.allowsAddress(entry.address));
    // localhost is allowed by name in the default list, but only where it means loopback.
    if (outside) throw this.#refused(url, `${host} resolves to ${outside.address}, which is not in webhooks.allow`);
    const first = found[0];
    if (!first) throw new GatewayError(422, 'webhook_unresolvable', `The webhook host ${host} has no address.`, { param: 'webhook' });
    return { url, address: first.address, family: first.family === 6 ? 6 : 4 };
  }

  #refused(url: URL, why: string): GatewayError {
    return new GatewayError(422, 'webhook_not_allowed', `The webhook ${url.origin} is refused: ${why} (now: ${this.#entries.join(', ')}). Add the host, address or CIDR to webhooks.allow in the gateway config to let predictions call it.`, { param: 'webhook' });
  }
}

/** An absolute http(s) URL without credentials, at most 2048 characters. */
export function parseWebhookUrl(webhook: unknown): URL {
  if (typeof webhook !== 'string' || webhook.length === 0 || webhook.length > MAX_URL_LENGTH) {
    throw new GatewayError(422, 'invalid_webhook', `webhook must be an http(s) URL of at most ${MAX_URL_LENGTH} characters.`, { param: 'webhook' });
  }
  let url: URL;
  try {
    url = new URL(webhook);
  } catch {
    throw new GatewayError(422, 'invalid_webhook', `webhook ${JSON.stringify(webhook.slice(0, 200))} is not a URL.`, { param: 'webhook' });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new GatewayError(422, 'invalid_webhook', `webhook must use http or https, not ${url.protocol.slice(0, 20)}`, { param: 'webhook' });
  }
  if (url.username || url.password) throw new GatewayError(422, 'invalid_webhook', 'webhook must not carry a user name or password.', { param: 'webhook' });
  return url;
}

function badEntry(entry: string): UsageError {
  return new UsageError(`webhooks.allow has ${JSON.stringify(entry.slice(0, 200))}, which is neither a host name (or *.domain), an address nor a CIDR.`);
}

/** Every address of `host`; an error with code ETIMEOUT after LOOKUP_TIMEOUT_MS, or ABORT_ERR when `signal` ends. */
async function resolveAll(host: string, signal?: AbortSignal): Promise<{ address: string; family: number }[]> {
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    const fail = (code: string, why: string) => reject(Object.assign(new Error(`lookup of ${host} ${why}`), { code }));
    timer = setTimeout(() => fail('ETIMEOUT', 'timed out'), LOOKUP_TIMEOUT_MS);
    onAbort = () => fail('ABORT_ERR', 'aborted');
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([lookup(host, { all: true, verbatim: true }), late]);
  } finally {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
  }
}
