/**
 * The one gate for what the network hands us before it is used: URLs (a `Location`, a `Link: rel=next`, a CDN
 * location), header values, sizes and counts. Each is checked against a bound (scheme and host, length, numeric
 * range) and refused as the server's fault (HubError, exit 7) before any connection is made from it. send.ts,
 * hub-client.ts, fetch-range.ts, lean-range.ts, content-range.ts and http-source.ts read through here.
 */
import { HubError } from '../errors.js';
import { quote } from '../text/quote.js';

/** Longest URL taken from the network; real CDN URLs (signed S3/CloudFront) are ~1–2 KB. */
export const MAX_URL_LENGTH = 8 * 1024;
/** Longest header value read (undici caps a whole head at 16 KiB; the lean path at 64 KiB). */
export const MAX_HEADER_LENGTH = 16 * 1024;
/** Largest size believed (1 PiB); the hub's own limit is 50 GB a file, so anything past this is a lie. */
export const MAX_SIZE = 2 ** 50;
/** Largest JSON answer read from the hub's API (a tree page of 1000 entries is ~300 KB). */
export const MAX_JSON_BYTES = 64 * 1024 * 1024;

export type Headers = Record<string, string | string[] | undefined>;

const SERVER_FAULT = 'The hub or its download server sent something no client should follow; nothing was fetched from it.';

/**
 * `value` (relative to `base`) as a URL safe to connect to: http or https, with a host, no credentials, at most
 * MAX_URL_LENGTH long. Anything else (`ftp:`, `file:`, `javascript:`, `http:///x`) is a HubError: the server that
 * sent it (`from`, e.g. "The server at 127.0.0.1:8080") is at fault, never the user's setup.
 */
export function checkNetworkUrl(value: string, options: { base?: string | URL | undefined; what: string; from: string }): URL {
  const { base, what, from } = options;
  const refuse = (why: string) => new HubError(`${from} sent a ${what} to ${quote(value, 120)}: ${why}.`, { hint: SERVER_FAULT });
  if (value.length > MAX_URL_LENGTH) throw refuse(`longer than ${MAX_URL_LENGTH} characters`);
  let url: URL;
  try {
    url = new URL(value, base);
  } catch {
    throw refuse('not a URL');
  }
  return assertNetworkUrl(url, refuse);
}

/** Checks an already parsed URL (the lean read path's): http(s), a host, no credentials. */
export function assertNetworkUrl(url: URL, refuse: (why: string) => Error = (why) => new HubError(`Refusing to connect to ${quote(url.href, 120)}: ${why}.`, { hint: SERVER_FAULT })): URL {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw refuse('only http:// and https:// URLs are followed');
  if (url.hostname === '') throw refuse('it names no host');
  if (url.username !== '' || url.password !== '') throw refuse('it carries credentials');
  if (url.href.length > MAX_URL_LENGTH) throw refuse(`longer than ${MAX_URL_LENGTH} characters`);
  return url;
}

/** "The server at host:port", for messages about what a server sent. */
export function serverAt(url: string | URL): string {
  return `The server at ${new URL(url).host}`;
}

/** A header's value (the first, if repeated); a value over `max` characters is a HubError, never read further. */
export function boundedHeader(headers: Headers, name: string, max = MAX_HEADER_LENGTH): string | undefined {
  const raw = headers[name.toLowerCase()];
  const value = Array.isArray(raw) ? raw[0] : raw;
  if (value !== undefined && value.length > max) {
    throw new HubError(`A server sent a ${name} header of ${value.length} characters (the most read is ${max}).`, { hint: SERVER_FAULT });
  }
  return value;
}

/** A size or count sent as text (Content-Length, X-Linked-Size, a Content-Range number): plain digits up to MAX_SIZE, else undefined. */
export function parseByteCount(text: string | undefined): number | undefined {
  if (text === undefined || !/^\d{1,16}$/.test(text.trim())) return undefined;
  const n = Number(text.trim());
  return n <= MAX_SIZE ? n : undefined;
}

/** A count the network drives (pages, entries, redirects) past its bound is a HubError, never a loop without end. */
export function checkCount(count: number, max: number, what: string): void {
  if (count > max) throw new HubError(`The hub sent more than ${max} ${what}; giving up.`, { hint: SERVER_FAULT });
}
