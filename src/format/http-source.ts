/**
 * A remote file (or a remote `.catN` shard set) read with HTTP `Range` requests, for `inspect` before a download.
 * Each part is addressed by its hub `/resolve` URL; the first read follows the redirect to the CDN (the token goes
 * only to the hub's origin, see http/send.ts) and later reads go straight to the CDN URL. Counts body bytes so
 * callers can report what a remote inspection cost.
 */
import type { Dispatcher } from 'undici';
import { HubError, IntegrityError } from '../errors.js';
import { checkContentRange, sizeInContentRange } from '../http/content-range.js';
import { RetryableError, withRetries } from '../http/retry.js';
import type { RetryOptions } from '../http/retry.js';
import { header, send, type Headers, type OriginToken } from '../http/send.js';
import { StallWatchdog, type WatchdogOptions } from '../http/watchdog.js';
import { clipText, quoteName } from '../text/quote.js';
import { readAcrossParts } from './shard-source.js';
import { checkRange } from './source.js';
import type { RandomAccessSource } from './source.js';

export interface RemotePart {
  /** Where to ask first (the hub's resolve URL). */
  url: string;
  size: number;
  /** Name shown in errors (the repo path). */
  name: string;
}

export interface HttpSourceOptions {
  dispatcher: Dispatcher;
  token?: OriginToken | undefined;
  signal?: AbortSignal | undefined;
  retry?: RetryOptions | undefined;
  /** Limits on each read's answer (no answer, silence, a trickle). @default 30 s stall, see watchdog.ts */
  watchdog?: WatchdogOptions | undefined;
  /** Called before each retry, with the part's name. */
  onRetry?: ((info: { what: string; error: Error; attempt: number; delayMs: number }) => void) | undefined;
  /** The typed error for an answer ≥ 400 about part `file` (the hub's own mapping; RetryableError to retry). */
  errorFor: (status: number, headers: Headers, file: string) => Error;
  /** For error messages. */
  repo: string;
}

export class HttpShardSource implements RandomAccessSource {
  readonly size: number;
  readonly description: string;
  /** Body bytes received. */
  bytes = 0;
  private readonly locations: string[];
  private readonly sizes: number[];

  constructor(
    private readonly parts: readonly RemotePart[],
    private readonly options: HttpSourceOptions,
  ) {
    this.sizes = parts.map((p) => p.size);
    this.size = this.sizes.reduce((a, b) => a + b, 0);
    this.locations = parts.map((p) => p.url);
    const first = parts[0]?.name ?? '?';
    this.description = `${options.repo}/${first}${parts.length > 1 ? ` (+${parts.length - 1} shards)` : ''}`;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(this, offset, length);
    return readAcrossParts(this.sizes, offset, length, (index, inPart, n, into, at) =>
      withRetries(
        `Reading ${quoteName(this.parts[index]!.name)} from the hub`,
        () => this.fetchPart(index, inPart, n, into, at),
        {
          ...this.options.retry,
          signal: this.options.signal,
          onRetry: (info) => this.options.onRetry?.({ what: this.parts[index]!.name, ...info }),
        },
      ),
    );
  }

  /** One Range request under the watchdog: an answer that never begins, goes quiet or trickles is retried. */
  private async fetchPart(index: number, start: number, length: number, into: Uint8Array, at: number): Promise<void> {
    const local = new AbortController();
    const outer = this.options.signal;
    const signal = outer ? AbortSignal.any([outer, local.signal]) : local.signal;
    const watchdog = new StallWatchdog({ stallMs: 30_000, ...this.options.watchdog, expected: length }, () => local.abort(new Error('stalled')));
    try {
      await this.fetchWatched(index, start, length, into, at, signal, watchdog);
    } catch (error) {
      if (watchdog.stalled && !outer?.aborted) throw watchdog.error('the download server', error);
      throw error;
    } finally {
      watchdog.stop();
    }
  }

  private async fetchWatched(index: number, start: number, length: number, into: Uint8Array, at: number, signal: AbortSignal, watchdog: StallWatchdog): Promise<void> {
    const part = this.parts[index]!;
    const url = this.locations[index]!;
    const response = await send(url, {
      dispatcher: this.options.dispatcher,
      signal,
      token: this.options.token,
      headers: { range: `bytes=${start}-${start + length - 1}` },
    });
    watchdog.answered();
    if (response.status >= 400) {
      await response.body.dump().catch(() => {});
      throw this.options.errorFor(response.status, response.headers, part.name);
    }
    const range = header(response.headers, 'content-range');
    const verdict = response.status === 206 ? checkContentRange(range, { start, end: start + length, size: part.size }) : undefined;
    const usable = response.status === 206 ? verdict === 'ok' : response.status === 200 && start === 0;
    if (!usable) {
      await response.body.dump().catch(() => {});
      if (verdict === 'wrong-size') {
        const has = sizeInContentRange(range)!;
        throw new IntegrityError(`The size of ${quoteName(part.name)} disagrees: the hub lists ${part.size} bytes, the download server has ${has.exact ? '' : 'only '}${has.size}.`);
      }
      const got = `HTTP ${response.status}${range ? ` (${clipText(range, 80)})` : ''}`;
      throw new HubError(`The server answered a Range request for bytes ${start}- of ${quoteName(part.name)} with ${got}`, {
        hint: 'Remote inspection needs a server that honours Range requests; download the model and inspect it locally.',
      });
    }
    this.locations[index] = response.url;
    let got = 0;
    for await (const chunk of response.body as AsyncIterable<Buffer>) {
      watchdog.touch(chunk.length);
      const take = Math.min(chunk.length, length - got);
      into.set(chunk.subarray(0, take), at + got);
      got += take;
      this.bytes += chunk.length;
      if (got >= length) break;
    }
    if (got < length) throw new RetryableError(`The body for ${quoteName(part.name)} ended after ${got} of ${length} bytes.`);
  }

  async close(): Promise<void> {}
}
