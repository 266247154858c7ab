import type { Dispatcher } from 'undici';
import { FormatError, IntegrityError } from '../errors.js';
import { assertNetworkUrl, parseByteCount } from '../http/bounds.js';
import { checkContentRange, sizeInContentRange } from '../http/content-range.js';
import { isNetworkFailure } from '../http/network-errors.js';
import { RETRYABLE_STATUS, RetryableError, abortedError, retryAfterMs } from '../http/retry.js';
import { authorizationFor, header, send, type Headers, type OriginToken } from '../http/send.js';
import { StallWatchdog } from '../http/watchdog.js';
import { quoteName } from '../text/quote.js';
import { hubErrorFor } from '../hub/hub-errors.js';
import { BatchWriter, type BatchTarget } from './batch-writer.js';
import { LeanRangeError, type LeanPool } from './lean-range.js';

/**
 * The server answered a `Range` request with the whole file (200): switch that shard to one stream.
 * @internal Control flow between fetchRange and the job queue; never reaches a caller.
 */
export class RangeIgnoredError extends Error {
  override name = 'RangeIgnoredError';
}

/**
 * The CDN refused a URL that worked before (a signed URL expired): resolve it again.
 * @internal Control flow between fetchRange and the job queue; never reaches a caller.
 */
export class LocationExpiredError extends RetryableError {
  override name = 'LocationExpiredError';
}

export interface FetchRangeOptions {
  url: string;
  /** Shard bytes [start, end); `whole: true` asks without Range and accepts the whole shard. */
  start: number;
  end: number;
  whole?: boolean;
  /** Size the hub gave for the shard. */
  shardSize: number;
  /** Where byte `start` goes in the `.part` file. */
  offset: number;
  file: BatchTarget;
  dispatcher: Dispatcher;
  /** Reads a plain 206 answer lean (see lean-range.ts); anything else goes through `dispatcher`. */
  lean?: LeanPool | undefined;
  token: OriginToken | undefined;
  signal: AbortSignal | undefined;
  stallTimeoutMs: number;
  /** No answer (not a byte of its head) for this long is a stall too. @default min(stallTimeoutMs, 10 s) */
  answerTimeoutMs?: number | undefined;
  /** Each window this long must bring 64 KiB (or the rest of the range), else it is too slow. @default 2 × stallTimeoutMs */
  progressTimeoutMs?: number | undefined;
  /** Called after each write with the bytes just written. */
  onBytes: (bytes: number) => void;
  what: { repo: string; revision: string; file: string };
}

/**
 * Fetches one range and writes it at its offset in the `.part` file, streaming with backpressure (the body is read
 * only as fast as the disk takes it). A watchdog aborts the request when its answer does not begin, when no byte
 * arrives for `stallTimeoutMs`, or when it makes too little progress (a trickle): each is retried like a stall.
 */
export async function fetchRange(options: FetchRangeOptions): Promise<void> {
  const { url, start, end, shardSize, offset, file, signal, stallTimeoutMs, onBytes, what } = options;
  const local = new AbortController();
  const combined = signal ? AbortSignal.any([signal, local.signal]) : local.signal;
  const want = options.whole ? shardSize : end - start;
  const watchdog = new StallWatchdog(
    { stallMs: stallTimeoutMs, answerMs: options.answerTimeoutMs, progressMs: options.progressTimeoutMs, expected: want },
    () => local.abort(new Error('stalled')),
  );
  const headers: Record<string, string> = options.whole ? {} : { range: `bytes=${start}-${end - 1}` };
  let batches: BatchWriter | undefined;
  try {
    // Where the hub sent us: http(s) with a host, checked before any connection (bounds.ts).
    const target = assertNetworkUrl(new URL(url));
    if (options.lean && !options.whole) {
      const answer = await options.lean.fetch({
        url: target, start, end, total: shardSize, file, offset, headers: authorizationFor(target, options.token), signal: combined, onBytes,
        onData: (bytes) => watchdog.touch(bytes),
      });
      if (answer === 'done') return;
      // Not a plain 206: judged like any answer; one that is fine after all (a redirect, a 200 for a whole shard,
      // a chunked body) is asked for again through undici below.
      if (answer.status < 300 || answer.status >= 400) checkAnswer(answer.status, answer.headers, target.href, options);
    }
    const response = await send(url, { dispatcher: options.dispatcher, signal: combined, token: options.token, headers });
    watchdog.answered();
    try {
      checkAnswer(response.status, response.headers, response.url, options);
    } catch (error) {
      await response.body.dump().catch(() => {});
      throw error;
    }
    const writer = (batches = new BatchWriter(file, offset, want, onBytes));
    let taken = 0;
    for await (const piece of response.body as AsyncIterable<Buffer>) {
      watchdog.touch(piece.length);
      if (taken + piece.length > want) {
        throw new IntegrityError(`The download server sent more than the ${shardSize} bytes the hub lists for ${quoteName(what.file)}.`);
      }
      // The body is read only as fast as the disk takes it: a piece waits for room in the batches.
      for (let at = 0; at < piece.length; ) {
        const bytes = piece.subarray(at, at + writer.batchSize);
        await writer.room(bytes.length);
        writer.push(bytes);
        at += bytes.length;
      }
      taken += piece.length;
    }
    await writer.drained();
    if (taken < want) throw new RetryableError(`The body of ${quoteName(what.file)} ended early (${taken} of ${want} bytes).`);
  } catch (error) {
    // Writes still under way finish (and are counted) before the range is tried again.
    await batches?.drained().catch(() => {});
    if (signal?.aborted) throw abortedError(`Downloading ${quoteName(what.file)}`, signal);
    if (watchdog.stalled) throw watchdog.error('the download server', error);
    if (error instanceof LeanRangeError) {
      // A socket error that is not a network failure (a TLS certificate refused, a host that does not exist) fails
      // the same way every time, as it does through undici.
      if (error.cause !== undefined && !isNetworkFailure(error.cause)) throw error.cause;
      throw new RetryableError(`${error.message.replace(/\.$/, '')} (${quoteName(what.file)}).`, { cause: error });
    }
    if (isNetworkFailure(error)) {
      throw new RetryableError(`Connection failed: ${(error as Error).message}`, { cause: error });
    }
    throw error;
  } finally {
    watchdog.stop();
    // Settled on every path by now (awaited above): the batches go back for the next range.
    batches?.release();
  }
}

/**
 * Throws for an answer that cannot be this range's bytes: an error status, a web page, the wrong range or size, or
 * a `200` with the whole shard when only part was asked for (RangeIgnoredError: the caller streams it instead).
 */
function checkAnswer(status: number, headers: Headers, answeredUrl: string, options: FetchRangeOptions): void {
  const { start, end, shardSize, what } = options;
  if (status !== 200 && status !== 206) {
    const offOrigin = options.token === undefined || new URL(answeredUrl).origin !== options.token.origin;
    if ((status === 401 || status === 403 || status === 410) && offOrigin && !RETRYABLE_STATUS.has(status)) {
      throw new LocationExpiredError(`HTTP ${status} from the download server`, { status });
    }
    if (status === 416) {
      throw new IntegrityError(`The download server says ${quoteName(what.file)} is smaller than the ${shardSize} bytes the hub lists.`);
    }
    if (RETRYABLE_STATUS.has(status)) {
      throw new RetryableError(`HTTP ${status} from the download server`, { status, retryAfterMs: retryAfterMs(headers) });
    }
    throw hubErrorFor(status, headers, what);
  }
  if (/text\/html/i.test(header(headers, 'content-type') ?? '')) {
    throw new FormatError(`The download server sent a web page instead of the bytes of ${quoteName(what.file)}.`, {
      hint: 'A proxy or captive portal may be in the way, or the token lacks access; open the URL in a browser to see.',
    });
  }
  if (status === 206) {
    const range = header(headers, 'content-range');
    const verdict = checkContentRange(range, { start, end, size: shardSize });
    if (verdict === 'wrong-range') throw new RetryableError(`The download server sent the wrong range for ${quoteName(what.file)}.`);
    if (verdict === 'wrong-size') {
      // A range cut short with the total unsaid (`bytes 0-999/*`) is a file smaller than listed: no retry can help.
      const has = sizeInContentRange(range)!;
      throw new IntegrityError(`The size of ${quoteName(what.file)} disagrees: the hub lists ${shardSize} bytes, the download server has ${has.exact ? '' : 'only '}${has.size}.`);
    }
    return;
  }
  const length = parseByteCount(header(headers, 'content-length'));
  if (length !== undefined && length !== shardSize) {
    throw new IntegrityError(`The size of ${quoteName(what.file)} disagrees: the hub lists ${shardSize} bytes, the download server sent ${length}.`);
  }
  if (!options.whole && !(start === 0 && end === shardSize)) throw new RangeIgnoredError('the server ignored Range');
}
