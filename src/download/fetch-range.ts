import type { FileHandle } from 'node:fs/promises';
import type { Dispatcher } from 'undici';
import { AbortError, FormatError, IntegrityError } from '../errors.js';
import { authorizationFor, header, hubErrorFor, send, type Headers } from '../hub/http.js';
import { LeanRangeError, type LeanPool } from './lean-range.js';
import { RETRYABLE_STATUS, RetryableError, isNetworkFailure, retryAfterMs } from './retry.js';

/** The server answered a `Range` request with the whole file (200): switch that shard to one stream. */
export class RangeIgnoredError extends Error {
  override name = 'RangeIgnoredError';
}

/** The CDN refused a URL that worked before (a signed URL expired): resolve it again. */
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
  file: FileHandle;
  dispatcher: Dispatcher;
  /** Reads a plain 206 answer lean (see lean-range.ts); anything else goes through `dispatcher`. */
  lean?: LeanPool | undefined;
  token: { origin: string; value: string } | undefined;
  signal: AbortSignal | undefined;
  stallTimeoutMs: number;
  /** Called after each write with the bytes just written. */
  onBytes: (bytes: number) => void;
  what: { repo: string; revision: string; file: string };
}

/** Bytes gathered before one positioned write: few syscalls, bounded memory per connection. */
const WRITE_BATCH = 1024 * 1024;

/**
 * Fetches one range and writes it at its offset in the `.part` file, streaming with backpressure (the body is read
 * only as fast as the disk takes it). A watchdog aborts the request when no byte arrives for `stallTimeoutMs`.
 */
export async function fetchRange(options: FetchRangeOptions): Promise<void> {
  const { url, start, end, shardSize, offset, file, signal, stallTimeoutMs, onBytes, what } = options;
  const local = new AbortController();
  const combined = signal ? AbortSignal.any([signal, local.signal]) : local.signal;
  let lastData = Date.now();
  let stalled = false;
  const watchdog = setInterval(() => {
    if (Date.now() - lastData > stallTimeoutMs) {
      stalled = true;
      local.abort(new Error('stalled'));
    }
  }, Math.max(50, Math.min(1000, stallTimeoutMs / 4)));
  const headers: Record<string, string> = options.whole ? {} : { range: `bytes=${start}-${end - 1}` };
  let received = 0;
  try {
    if (options.lean && !options.whole) {
      const target = new URL(url);
      const answer = await options.lean.fetch({
        url: target, start, end, total: shardSize, file, offset, headers: authorizationFor(target, options.token), signal: combined, onBytes,
        onData: () => (lastData = Date.now()),
      });
      if (answer === 'done') return;
      // Not a plain 206: judged like any answer; one that is fine after all (a redirect, a 200 for a whole shard,
      // a chunked body) is asked for again through undici below.
      if (answer.status < 300 || answer.status >= 400) checkAnswer(answer.status, answer.headers, target.href, options);
    }
    const response = await send(url, { dispatcher: options.dispatcher, signal: combined, token: options.token, headers });
    try {
      checkAnswer(response.status, response.headers, response.url, options);
    } catch (error) {
      await response.body.dump().catch(() => {});
      throw error;
    }
    const want = options.whole ? shardSize : end - start;
    let batch: Buffer[] = [];
    let batched = 0;
    const flush = async () => {
      if (batched === 0) return;
      const pieces = batch;
      const length = batched;
      batch = [];
      batched = 0;
      // writev: no copy into one big buffer; loop in case the kernel takes less than all.
      let written = 0;
      while (written < length) {
        const rest = written === 0 ? pieces : remainder(pieces, written);
        const { bytesWritten } = await file.writev(rest, offset + received + written);
        if (bytesWritten <= 0) throw new Error('write returned 0 bytes');
        written += bytesWritten;
      }
      received += length;
      onBytes(length);
    };
    for await (const piece of response.body as AsyncIterable<Buffer>) {
      lastData = Date.now();
      if (received + batched + piece.length > want) {
        throw new IntegrityError(`The download server sent more than the ${shardSize} bytes the hub lists for ${what.file}.`);
      }
      batch.push(piece);
      batched += piece.length;
      if (batched >= WRITE_BATCH) await flush();
    }
    await flush();
    if (received < want) throw new RetryableError(`The body of ${what.file} ended early (${received} of ${want} bytes).`);
  } catch (error) {
    if (signal?.aborted) throw new AbortError('Download interrupted.', { cause: signal.reason });
    if (stalled) throw new RetryableError(`No data for ${Math.round(stallTimeoutMs / 1000)} s from the download server.`, { cause: error });
    if (error instanceof LeanRangeError) {
      // A socket error that is not a network failure (a TLS certificate refused, a host that does not exist) fails
      // the same way every time, as it does through undici.
      if (error.cause !== undefined && !isNetworkFailure(error.cause)) throw error.cause;
      throw new RetryableError(`${error.message.replace(/\.$/, '')} (${what.file}).`, { cause: error });
    }
    if (isNetworkFailure(error)) {
      throw new RetryableError(`Connection failed: ${(error as Error).message}`, { cause: error });
    }
    throw error;
  } finally {
    clearInterval(watchdog);
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
      throw new IntegrityError(`The download server says ${what.file} is smaller than the ${shardSize} bytes the hub lists.`);
    }
    if (RETRYABLE_STATUS.has(status)) {
      throw new RetryableError(`HTTP ${status} from the download server`, { status, retryAfterMs: retryAfterMs(headers) });
    }
    throw hubErrorFor(status, headers, what);
  }
  if (/text\/html/i.test(header(headers, 'content-type') ?? '')) {
    throw new FormatError(`The download server sent a web page instead of the bytes of ${what.file}.`, {
      hint: 'A proxy or captive portal may be in the way, or the token lacks access; open the URL in a browser to see.',
    });
  }
  if (status === 206) {
    const range = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(header(headers, 'content-range') ?? '');
    if (!range || Number(range[1]) !== start || Number(range[2]) !== end - 1) {
      throw new RetryableError(`The download server sent the wrong range for ${what.file}.`);
    }
    if (range[3] !== '*' && Number(range[3]) !== shardSize) {
      throw new IntegrityError(`The size of ${what.file} disagrees: the hub lists ${shardSize} bytes, the download server has ${range[3]}.`);
    }
    return;
  }
  const length = Number(header(headers, 'content-length') ?? Number.NaN);
  if (!Number.isNaN(length) && length !== shardSize) {
    throw new IntegrityError(`The size of ${what.file} disagrees: the hub lists ${shardSize} bytes, the download server sent ${length}.`);
  }
  if (!options.whole && !(start === 0 && end === shardSize)) throw new RangeIgnoredError('the server ignored Range');
}

/** The pieces after the first `skip` bytes. */
function remainder(pieces: Buffer[], skip: number): Buffer[] {
  const rest: Buffer[] = [];
  for (const piece of pieces) {
    if (skip >= piece.length) skip -= piece.length;
    else {
      rest.push(skip > 0 ? piece.subarray(skip) : piece);
      skip = 0;
    }
  }
  return rest;
}
