import type { Dispatcher } from 'undici';
import { HubError } from '../errors.js';
import { HttpShardSource } from '../format/http-source.js';
import { withRetries, type RetryOptions } from '../http/retry.js';
import { header, send, type HttpResponse, type OriginToken } from '../http/send.js';
import { StallWatchdog } from '../http/watchdog.js';
import { hubErrorFor } from './hub-errors.js';
import type { RepoFile } from './shards.js';

export interface HubClientOptions {
  /** Hub origin. @default $HF_ENDPOINT or https://huggingface.co */
  endpoint: string;
  token?: string | undefined;
  dispatcher: Dispatcher;
  signal?: AbortSignal | undefined;
  retry?: RetryOptions | undefined;
  /** Give up on (and retry) an answer whose body sends nothing for this long. @default 30000 */
  stallTimeoutMs?: number | undefined;
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
      errorFor: (status, headers, file) => hubErrorFor(status, headers, { repo, revision: commit, file }),
      repo,
    });
  }

  /** Sends a request and reads its answer with `read`, both retried together (a body can fail as a request can). */
  async #get<T>(
    url: string,
    target: { repo: string; revision?: string; file?: string },
    method: 'GET' | 'HEAD',
    read: (response: HttpResponse) => Promise<T>,
  ): Promise<T> {
    return withRetries(
      `Asking the hub for ${target.repo}`,
      async () => {
        const response = await send(url, {
          method,
          dispatcher: this.#options.dispatcher,
          signal: this.#options.signal,
          token: this.tokenFor(),
          followCrossOrigin: method === 'GET',
        });
        if (response.status >= 400) {
          await response.body.dump().catch(() => {});
          throw hubErrorFor(response.status, response.headers, target);
        }
        return read(response);
      },
      {
        ...this.#options.retry,
        signal: this.#options.signal,
        onRetry: (info) => this.#options.onRetry?.({ what: target.file ?? target.repo, ...info }),
      },
    );
  }

  async #json(response: HttpResponse, what: string): Promise<unknown> {
    const type = header(response.headers, 'content-type') ?? '';
    const text = await readText(response.body, this.#options.stallTimeoutMs ?? 30_000);
    if (!type.includes('json')) throw new HubError(`The hub sent ${type || 'no content type'} instead of JSON for ${what}.`);
    try {
      return JSON.parse(text);
    } catch (cause) {
      throw new HubError(`The hub sent malformed JSON for ${what}.`, { cause });
    }
  }

  /** Resolves a branch/tag/commit to the commit sha (`GET /api/models/{repo}/revision/{rev}`). */
  async commitOf(repo: string, revision: string): Promise<string> {
    const url = `${this.endpoint}/api/models/${repo}/revision/${encodeURIComponent(revision)}`;
    const info = (await this.#get(url, { repo, revision }, 'GET', (r) => this.#json(r, `${repo}@${revision}`))) as { sha?: unknown };
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
      if (page > 10_000) throw new HubError('The hub kept sending pages of files; giving up.');
      const [entries, link] = await this.#get(url, { repo, revision }, 'GET', async (r) => [await this.#json(r, `the file list of ${repo}`), header(r.headers, 'link')] as const);
      if (!Array.isArray(entries)) throw new HubError(`The hub's file list for ${repo} is not a list.`);
      for (const entry of entries as { type?: unknown; path?: unknown; size?: unknown; lfs?: { oid?: unknown; size?: unknown } }[]) {
        if (entry?.type !== 'file' || typeof entry.path !== 'string') continue;
        const size = typeof entry.lfs?.size === 'number' ? entry.lfs.size : entry.size;
        const oid = typeof entry.lfs?.oid === 'string' ? entry.lfs.oid.toLowerCase() : undefined;
        if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) continue;
        files.push({ path: entry.path, size, sha256: oid && SHA256.test(oid) ? oid : undefined });
      }
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
    const sizeText = header(h, 'x-linked-size') ?? (redirected ? undefined : header(h, 'content-length'));
    const size = sizeText === undefined ? Number.NaN : Number(sizeText);
    if (!Number.isSafeInteger(size) || size < 0) throw new HubError(`The hub did not give the size of ${file}.`);
    const etag = (header(h, 'x-linked-etag') ?? header(h, 'etag') ?? '').replace(/^W\//, '').replace(/"/g, '').toLowerCase();
    const location = redirected ? new URL(header(h, 'location')!, response.url).href : response.url;
    return { commit: header(h, 'x-repo-commit'), size, sha256: SHA256.test(etag) ? etag : undefined, location };
  }
}

/** Reads a whole (small) body; no byte for `stallMs` is a RetryableError, not a wait without end. */
async function readText(body: HttpResponse['body'], stallMs: number): Promise<string> {
  const chunks: Buffer[] = [];
  const watchdog = new StallWatchdog(stallMs, () => body.destroy());
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      watchdog.touch();
      chunks.push(chunk);
    }
  } catch (error) {
    if (watchdog.stalled) throw watchdog.error('the hub', error);
    throw error;
  } finally {
    watchdog.stop();
  }
  return Buffer.concat(chunks).toString('utf8');
}

export function resolveUrl(endpoint: string, repo: string, revision: string, file: string): string {
  const path = file.split('/').map(encodeURIComponent).join('/');
  return `${endpoint}/${repo}/resolve/${encodeURIComponent(revision)}/${path}`;
}

/** The `rel="next"` target of a Link header, resolved against the current URL. */
export function nextLink(link: string | undefined, base: string): string | undefined {
  if (!link) return undefined;
  for (const part of link.split(',')) {
    const match = /<([^>]+)>\s*;(.*)/.exec(part.trim());
    if (match && /rel="?next"?/.test(match[2]!)) return new URL(match[1]!, base).href;
  }
  return undefined;
}
