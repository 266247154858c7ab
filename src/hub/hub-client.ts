import type { Dispatcher } from 'undici';
import { HubError } from '../errors.js';
import { HttpShardSource } from '../format/http-source.js';
import { MAX_JSON_BYTES, checkCount, checkNetworkUrl, parseByteCount } from '../http/bounds.js';
import { withRetries, type RetryOptions } from '../http/retry.js';
import { header, send, type HttpResponse, type OriginToken } from '../http/send.js';
import { StallWatchdog, type WatchdogOptions } from '../http/watchdog.js';
import { clipText, quoteName } from '../text/quote.js';
import { hubErrorFor } from './hub-errors.js';
import type { RepoFile } from './shards.js';
import { repoFileOf } from './tree-entry.js';

export interface HubClientOptions {
  /** Hub origin. @default $HF_ENDPOINT or https://huggingface.co */
  endpoint: string;
  token?: string | undefined;
  dispatcher: Dispatcher;
  signal?: AbortSignal | undefined;
  retry?: RetryOptions | undefined;
  /** Give up on (and retry) an answer whose body sends nothing for this long. @default 30000 */
  stallTimeoutMs?: number | undefined;
  /** Give up on (and retry) a request whose answer does not begin within this long. @default min(stallTimeoutMs, 10000) */
  answerTimeoutMs?: number | undefined;
  /** Give up on (and retry) an answer that brings less than 64 KiB (or its rest) in a window this long. @default 2 × stallTimeoutMs */
  progressTimeoutMs?: number | undefined;
  /** Called before each retry; `what` is the file, or the repo for API calls. */
  onRetry?: ((info: { what: string; error: Error; attempt: number; delayMs: number }) => void) | undefined;
}

/** What a `HEAD /resolve` says about one file. */
export interface ResolvedFile {
  commit: string | undefined;
  size: number;
  /** sha256 when the etag is an LFS oid (64 hex). */
  sha256: string | undefined;
  /** Where the bytes are: the CDN URL the hub redirects to, or the resolve URL itself. */
  location: string;
}

const SHA256 = /^[0-9a-f]{64}$/;
/** Bounds on what a tree listing may cost: pages followed, files kept (the largest real repos hold a few thousand). */
const MAX_PAGES = 10_000;
const MAX_FILES = 1_000_000;

/**
 * Talks to the Hugging Face hub's JSON API (`/api/models/{repo}/revision/{rev}`, `/tree/{rev}?recursive=true` with
 * `Link: rel="next"` pages) and its resolve endpoint, as huggingface_hub's `hf_api.py` and `file_download.py` do.
 */
export class HubClient {
  readonly endpoint: string;
  readonly origin: string;
  readonly #options: HubClientOptions;

  constructor(options: HubClientOptions) {
    this.endpoint = options.endpoint.replace(/\/+$/, '');
    this.origin = new URL(this.endpoint).origin;
    this.#options = options;
  }

  /** Authorization for a URL: only when it is on the hub's own origin. */
  tokenFor(): OriginToken | undefined {
    return this.#options.token ? { origin: this.origin, value: this.#options.token } : undefined;
  }

  /**
   * Shards of `repo` at `commit` as one random-access source read with Range requests, through this client's
   * connections and token (which goes only to the hub's origin, never to the CDN it redirects to).
   */
  openShards(repo: string, commit: string, shards: readonly RepoFile[], options: { signal?: AbortSignal | undefined } = {}): HttpShardSource {
    const parts = shards.map((shard) => ({ url: resolveUrl(this.endpoint, repo, commit, shard.path), size: shard.size, name: shard.path }));
    return new HttpShardSource(parts, {
      dispatcher: this.#options.dispatcher,
      token: this.tokenFor(),
      signal: options.signal ?? this.#options.signal,
      retry: this.#options.retry,
      watchdog: this.watchdogOptions(),
      onRetry: (info) => this.#options.onRetry?.(info),
      errorFor: (status, headers, file) => hubErrorFor(status, headers, { repo, revision: commit, file }),
      repo,
    });
  }

  /** The stall, answer and progress limits of every request this client (and its shard sources) makes. */
  watchdogOptions(): WatchdogOptions {
    const { stallTimeoutMs = 30_000, answerTimeoutMs, progressTimeoutMs } = this.#options;
    return { stallMs: stallTimeoutMs, answerMs: answerTimeoutMs, progressMs: progressTimeoutMs };
  }

  /**
   * Sends a request and reads its answer with `read`, both retried together (a body can fail as a request can),
   * under one watchdog: an answer that does not begin, goes quiet or trickles is given up and asked for again.
   */
  async #get<T>(
    url: string,
    target: { repo: string; revision?: string; file?: string },
    method: 'GET' | 'HEAD',
    read: (response: HttpResponse, watchdog: StallWatchdog) => Promise<T>,
  ): Promise<T> {
    return withRetries(
      `Asking the hub for ${target.repo}`,
      async () => {
        const local = new AbortController();
        const signal = this.#options.signal ? AbortSignal.any([this.#options.signal, local.signal]) : local.signal;
        const watchdog = new StallWatchdog(this.watchdogOptions(), () => local.abort(new Error('stalled')));
        try {
          const response = await send(url, { method, dispatcher: this.#options.dispatcher, signal, token: this.tokenFor(), followCrossOrigin: method === 'GET' });
          watchdog.answered();
          if (response.status >= 400) {
            await response.body.dump().catch(() => {});
            throw hubErrorFor(response.status, response.headers, target);
          }
          return await read(response, watchdog);
        } catch (error) {
          if (watchdog.stalled && !this.#options.signal?.aborted) throw watchdog.error('the hub', error);
          throw error;
        } finally {
          watchdog.stop();
        }
      },
      {
        ...this.#options.retry,
        signal: this.#options.signal,
        onRetry: (info) => this.#options.onRetry?.({ what: target.file ?? target.repo, ...info }),
      },
    );
  }

  async #json(response: HttpResponse, watchdog: StallWatchdog, what: string): Promise<unknown> {
    const type = header(response.headers, 'content-type') ?? '';
    const text = await readText(response.body, watchdog, what);
    if (!type.includes('json')) throw new HubError(`The hub sent ${type ? clipText(type, 80) : 'no content type'} instead of JSON for ${what}.`);
    try {
      return JSON.parse(text);
    } catch (cause) {
      throw new HubError(`The hub sent malformed JSON for ${what}.`, { cause });
    }
  }

  /** Resolves a branch/tag/commit to the commit sha (`GET /api/models/{repo}/revision/{rev}`). */
  async commitOf(repo: string, revision: string): Promise<string> {
    const url = `${this.endpoint}/api/models/${repo}/revision/${encodeURIComponent(revision)}`;
    const info = (await this.#get(url, { repo, revision }, 'GET', (r, w) => this.#json(r, w, `${repo}@${revision}`))) as { sha?: unknown };
    if (typeof info?.sha !== 'string' || !/^[0-9a-f]{7,64}$/.test(info.sha)) {
      throw new HubError(`The hub did not say which commit ${revision} of ${repo} is.`);
    }
    return info.sha;
  }

  /** Every file of the repo at `revision` (tree API, following `Link: rel="next"` pages). */
  async listFiles(repo: string, revision: string): Promise<RepoFile[]> {
    const files: RepoFile[] = [];
    let url: string | undefined = `${this.endpoint}/api/models/${repo}/tree/${encodeURIComponent(revision)}?recursive=true`;
    for (let page = 0; url !== undefined; page++) {
      checkCount(page, MAX_PAGES, `pages of files for ${repo}`);
      const [entries, link] = await this.#get(url, { repo, revision }, 'GET', async (r, w) => [await this.#json(r, w, `the file list of ${repo}`), header(r.headers, 'link')] as const);
      if (!Array.isArray(entries)) throw new HubError(`The hub's file list for ${repo} is not a list.`);
      for (const entry of entries) {
        // A bad size is the hub's fault, named (tree-entry.ts), never dropped.
        const file = repoFileOf(entry, repo);
        if (file) files.push(file);
      }
      checkCount(files.length, MAX_FILES, `files for ${repo}`);
      url = nextLink(link, url);
    }
    return files;
  }

  /** `HEAD {endpoint}/{repo}/resolve/{rev}/{file}` without following the redirect to the CDN. */
  async resolve(repo: string, revision: string, file: string): Promise<ResolvedFile> {
    const url = resolveUrl(this.endpoint, repo, revision, file);
    const response = await this.#get(url, { repo, revision, file }, 'HEAD', async (r) => {
      await r.body.dump().catch(() => {});
      return r;
    });
    const h = response.headers;
    const redirected = response.status >= 300 && response.status < 400;
    const size = parseByteCount(header(h, 'x-linked-size') ?? (redirected ? undefined : header(h, 'content-length')));
    if (size === undefined) throw new HubError(`The hub did not give the size of ${quoteName(file)}.`);
    const etag = (header(h, 'x-linked-etag') ?? header(h, 'etag') ?? '').replace(/^W\//, '').replace(/"/g, '').toLowerCase();
    // send() checked the redirect's Location (http(s), a host); a 3xx without one is not a place to download from.
    if (redirected && response.location === undefined) throw new HubError(`The hub redirected ${quoteName(file)} to nowhere (HTTP ${response.status} without a Location).`);
    const location = response.location ?? response.url;
    return { commit: header(h, 'x-repo-commit'), size, sha256: SHA256.test(etag) ? etag : undefined, location };
  }
}

/** Reads a whole (small) body, at most MAX_JSON_BYTES; the request's watchdog sees every byte. */
async function readText(body: HttpResponse['body'], watchdog: StallWatchdog, what: string): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    watchdog.touch(chunk.length);
    size += chunk.length;
    if (size > MAX_JSON_BYTES) {
      body.destroy();
      throw new HubError(`The hub sent more than ${MAX_JSON_BYTES / 2 ** 20} MiB for ${what}; giving up.`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export function resolveUrl(endpoint: string, repo: string, revision: string, file: string): string {
  const path = file.split('/').map(encodeURIComponent).join('/');
  return `${endpoint}/${repo}/resolve/${encodeURIComponent(revision)}/${path}`;
}

/** The `rel="next"` target of a Link header, resolved against the current URL and checked (http(s), a host). */
export function nextLink(link: string | undefined, base: string): string | undefined {
  if (!link) return undefined;
  for (const part of link.split(',')) {
    const match = /<([^>]+)>\s*;(.*)/.exec(part.trim());
    if (match && /rel="?next"?/.test(match[2]!)) return checkNetworkUrl(match[1]!, { base, what: 'next page link', from: 'The hub' }).href;
  }
  return undefined;
}
