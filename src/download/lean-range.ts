import { connect as connectTcp, isIP, type Socket } from 'node:net';
import { connect as connectTls, rootCertificates, type ConnectionOptions } from 'node:tls';
import { UsageError } from '../errors.js';
import { assertNetworkUrl } from '../http/bounds.js';
import { isPlainRange, parseHead } from './response-head.js';
import { isNetworkFailure } from '../http/network-errors.js';
import { BatchWriter, type BatchTarget } from './batch-writer.js';

/**
 * The bulk bytes of a pull, read lean: a ranged GET on a kept-alive socket whose body reads land straight in one of
 * two alternating write batches (`onread` with a buffer chosen before each read), so the bytes are copied once, from
 * the socket into the batch, and written from there. undici's general-purpose path (a Buffer per read,
 * its parser's copies, a stream per body) costs about 1.4 CPU-seconds per GB on our machines; this costs a tenth of
 * that, which is what lets a 2-core box keep up with a fast link while it also hashes.
 *
 * Only the expected answer is read here: `206` with the asked range and a Content-Length. For anything else (an
 * error status, a redirect, `200` from a server that ignores Range, a chunked or compressed body) the status and
 * headers are handed back before a byte is written: the caller judges them, and asks again through undici when the
 * answer is usable after all.
 */

/** Each socket's own buffer, for heads and the rare read that cannot go straight into a write batch. */
const SCRATCH = 64 * 1024;

export interface LeanFetch {
  url: URL;
  /** Shard bytes [start, end) go to the file at `offset`. */
  start: number;
  end: number;
  /** The shard's size as the hub lists it: an answer for another size is not read. */
  total: number;
  file: BatchTarget;
  offset: number;
  /** Extra request headers (Authorization, when it belongs to this origin). */
  headers: Record<string, string>;
  signal: AbortSignal;
  /** Each time bytes arrive, with how many (the stall and progress watchdog's heartbeat). */
  onData: (bytes: number) => void;
  /** After each write, with the bytes just written. */
  onBytes: (bytes: number) => void;
}

/** The status and headers (lower-case names) of an answer the lean path does not read. */
export interface LeanHead {
  status: number;
  headers: Record<string, string>;
}

/**
 * Why the lean path could not finish. `ENOANSWER`: the socket failed or closed before any answer (on a kept-alive
 * socket: the server had closed it); `EBODY`: it failed mid-answer; `ELEAN_PROTO`: the answer broke HTTP/1.1. The
 * socket's own error, if any, is the `cause` (a TLS certificate failure must not be retried as a network blip).
 */
export class LeanRangeError extends Error {
  override name = 'LeanRangeError';
  readonly code: 'ENOANSWER' | 'EBODY' | 'ELEAN_PROTO';
  constructor(message: string, code: LeanRangeError['code'], cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.code = code;
  }
}

/** Kept-alive sockets per origin, reused across ranges. */
export class LeanPool {
  readonly #idle = new Map<string, (Socket & LeanSocket)[]>();
  readonly #ca: string | Buffer | undefined;
  #closed = false;

  /** @param options.ca extra trusted certificates for https origins (tests; the system's are trusted anyway) */
  constructor(options: { ca?: string | Buffer | undefined } = {}) {
    this.#ca = options.ca;
  }

  /** Fetches one range into the file: `'done'`, or the answer's head when it is not a plain 206 (nothing written). */
  async fetch(request: LeanFetch): Promise<'done' | LeanHead> {
    // Never a socket to anything but http(s) with a host, whatever the URL came from (bounds.ts).
    assertNetworkUrl(request.url);
    for (const [name, value] of Object.entries(request.headers)) {
      if (!/^[\t\x20-\x7e]*$/.test(value)) throw new UsageError(`The ${name} header holds characters a request cannot carry.`, { option: 'token', hint: 'Check HF_TOKEN / the `token` option for a stray line break.' });
    }
    const reused = this.#take(request.url.origin);
    try {
      return await this.#exchange(reused ?? this.#connect(request.url), request);
    } catch (error) {
      // A kept-alive socket the server had already closed fails before any answer: once more on a fresh one.
      if (reused && error instanceof LeanRangeError && error.code === 'ENOANSWER' && (error.cause === undefined || isNetworkFailure(error.cause))) {
        return this.#exchange(this.#connect(request.url), request);
      }
      throw error;
    }
  }

  close(): void {
    this.#closed = true;
    for (const sockets of this.#idle.values()) for (const socket of sockets) socket.destroy();
    this.#idle.clear();
  }

  #take(origin: string): (Socket & LeanSocket) | undefined {
    const sockets = this.#idle.get(origin) ?? [];
    for (let socket = sockets.pop(); socket; socket = sockets.pop()) {
      if (socket.forget) {
        socket.off('error', socket.forget);
        socket.off('close', socket.forget);
      }
      if (!socket.destroyed && socket.writable) return socket;
      socket.destroy();
    }
    return undefined;
  }

  /** Keeps a socket whose answer was read to its end for the next range to the same origin. */
  #release(origin: string, socket: Socket & LeanSocket): void {
    if (this.#closed || socket.destroyed) return void socket.destroy();
    const sockets = this.#idle.get(origin) ?? [];
    this.#idle.set(origin, sockets);
    const forget = () => {
      socket.destroy();
      const at = sockets.indexOf(socket);
      if (at >= 0) sockets.splice(at, 1);
    };
    // Idle, a socket that errors or closes (the server's keep-alive timeout) is dropped.
    socket.once('error', forget);
    socket.once('close', forget);
    socket.leanRead = () => (forget(), false);
    socket.unref();
    socket.resume(); // reading, to notice the server closing it
    socket.forget = forget;
    sockets.push(socket);
  }

  #connect(url: URL): Socket & LeanSocket {
    const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    let socket: (Socket & LeanSocket) | undefined;
    const scratch = Buffer.allocUnsafe(SCRATCH);
    const onread = {
      // Asked after each read for where the next one goes: into a write batch while a body is read, else scratch.
      buffer: (): Uint8Array => socket?.leanBuffer?.() ?? scratch,
      callback: (n: number, buffer: Uint8Array): boolean => socket?.leanRead?.(n, buffer) ?? false,
    };
    socket =
      url.protocol === 'https:'
        ? connectTls({
            host, port, onread, ALPNProtocols: ['http/1.1'],
            ...(isIP(host) ? {} : { servername: host }),
            ...(this.#ca ? { ca: [...rootCertificates, this.#ca.toString()] } : {}),
          } as ConnectionOptions)
        : connectTcp({ host, port, onread });
    socket.setNoDelay(true);
    return socket;
  }

  #exchange(socket: Socket & LeanSocket, request: LeanFetch): Promise<'done' | LeanHead> {
    const { url, start, end, file, signal } = request;
    const want = end - start;
    const lines = [
      `GET ${url.pathname}${url.search} HTTP/1.1`,
      `Host: ${url.host}`,
      `Range: bytes=${start}-${end - 1}`,
      'User-Agent: llamactl',
      'Accept-Encoding: identity',
      'Connection: keep-alive',
      ...Object.entries(request.headers).map(([name, value]) => `${name}: ${value}`),
    ];
    return new Promise<'done' | LeanHead>((resolve, reject) => {
      let head: Buffer | undefined = Buffer.alloc(0);
      let keepAlive = true;
      let received = 0;
      let settled = false;
      // Body reads go straight into the write batches (`region`); the socket stops reading whenever there is no room.
      let paused = false;
      let region: Buffer | undefined;
      const batches = new BatchWriter(file, request.offset, want, (bytes) => {
        request.onBytes(bytes);
        if (!settled && paused && batches.roomFor(Math.min(SCRATCH, want - received))) {
          paused = false;
          socket.resume();
        }
      });
      batches.failed.catch((error: unknown) => finish(error as Error));
      const finish = (error: Error | undefined, outcome: 'done' | LeanHead = 'done') => {
        if (settled) return;
        settled = true;
        socket.leanRead = undefined;
        socket.leanBuffer = undefined;
        region = undefined;
        socket.off('error', onError);
        socket.off('close', onClose);
        signal.removeEventListener('abort', onAbort);
        const reuse = error === undefined && outcome === 'done' && keepAlive;
        // Done with the socket now, unless it goes back to the pool once the writes are done (until then an error
        // on it must still have a listener).
        if (reuse) socket.on('error', ignore);
        else socket.destroy();
        // Written, the batches serve the next range: the socket reads into its scratch buffer again, or is gone.
        void batches.drained().then(() => {
          batches.release();
          if (error) throw error;
          socket.off('error', ignore);
          if (reuse) this.#release(url.origin, socket);
          resolve(outcome);
        }).catch((reason: unknown) => {
          socket.destroy();
          batches.release();
          reject(reason);
        });
      };
      const onAbort = () => finish(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
      const answered = () => head === undefined || head.length > 0;
      const onError = (error: NodeJS.ErrnoException) =>
        finish(new LeanRangeError(`Connection failed: ${error.message}`, answered() ? 'EBODY' : 'ENOANSWER', error));
      const onClose = () =>
        finish(answered()
          ? new LeanRangeError(`The body ended early (${received} of ${want} bytes).`, 'EBODY')
          : new LeanRangeError('The connection closed before an answer.', 'ENOANSWER'));

      /**
       * Takes body bytes, read into `region` (`direct`) or copied (held by the batches while they are full, as reads
       * TLS had already decrypted still come after a pause); false pauses the socket until a batch is free.
       */
      const body = (bytes: Uint8Array, direct: boolean): boolean => {
        if (received + bytes.length > want) {
          finish(new LeanRangeError(`The download server sent more than the ${want} bytes asked for.`, 'ELEAN_PROTO'));
          return false;
        }
        try {
          if (direct) batches.commit(bytes.length);
          else batches.push(bytes);
        } catch {
          finish(new LeanRangeError('Reads kept arriving while the write batches were full.', 'ELEAN_PROTO'));
          return false;
        }
        received += bytes.length;
        if (received === want) {
          finish(undefined);
          return false;
        }
        // Returning false stops reads until socket.resume() (which `isPaused()` does not report).
        paused = !batches.roomFor(Math.min(SCRATCH, want - received));
        return !paused;
      };

      const onHead = (): boolean => {
        const parsed = parseHead(head!);
        if (parsed.kind === 'incomplete') return true;
        if (parsed.kind === 'invalid') {
          finish(new LeanRangeError(`The download server answered with ${parsed.reason}.`, 'ELEAN_PROTO'));
          return false;
        }
        if (!isPlainRange(parsed.code, parsed.headers, { start, end, size: request.total })) {
          finish(undefined, { status: parsed.code, headers: Object.fromEntries(parsed.headers) });
          return false;
        }
        keepAlive = parsed.keepAlive;
        head = undefined;
        return parsed.rest.length > 0 ? body(parsed.rest, false) : true;
      };

      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      socket.on('error', onError);
      socket.on('close', onClose);
      socket.leanRead = (n, buffer) => {
        if (settled) return false;
        request.onData(n);
        const bytes = buffer.subarray(0, n);
        if (head === undefined) return body(bytes, region !== undefined && buffer === region);
        head = Buffer.concat([head, bytes]);
        return onHead();
      };
      // Where the next read goes, asked after each read: the free end of the batch being filled once the head is in.
      socket.leanBuffer = () => (region = settled || head !== undefined ? undefined : batches.region(want - received));
      socket.ref();
      socket.resume(); // a reused socket stopped reading when its last answer ended
      socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    });
  }
}

const ignore = () => {};

/** Where a socket's `onread` hands its bytes: the exchange using the socket installs its reader here. */
interface LeanSocket {
  leanRead?: ((n: number, buffer: Uint8Array) => boolean) | undefined;
  /** The buffer for the socket's next read; undefined: its own scratch buffer. */
  leanBuffer?: (() => Buffer | undefined) | undefined;
  /** Drops the socket from the idle list (set while it is idle). */
  forget?: (() => void) | undefined;
}
