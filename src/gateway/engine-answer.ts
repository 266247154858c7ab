/**
 * An engine's answer as the gateway's lean client reads it: the head already parsed, the body handed on as it arrives
 * by its framing (Content-Length, chunked, or until the engine closes), the socket paused while the reader is full,
 * and given back for reuse only when the answer ended exactly at its end.
 */
import type { Socket } from 'node:net';

/** The longest chunk-size line accepted (hex digits and extensions). */
const MAX_CHUNK_LINE = 1024;

/** A failed exchange with an engine: `code` is the socket's error code, or ours (`ABORT_ERR`, `HPE_INVALID`). */
export class EngineRequestError extends Error {
  override name = 'EngineRequestError';
  readonly code: string | undefined;
  constructor(message: string, code?: string) {
    super(message);
    this.code = code;
  }
}

/** What the body reader is told. `data` returns false to pause the socket until `resume()`. */
export interface BodySink {
  data(chunk: Buffer): boolean;
  end(): void;
  error(error: Error): void;
}

export interface EngineAnswer {
  status: number;
  /** Lower-case names. */
  headers: Map<string, string>;
  /** Starts handing the body to `sink` (the bytes that came with the head first). */
  read(sink: BodySink): void;
  resume(): void;
  /** Gives up on the answer: the socket is closed, so the engine stops generating. */
  destroy(): void;
}

type Framing = { kind: 'length'; left: number } | { kind: 'chunked'; left: number; state: 'size' | 'data' | 'crlf' | 'trailer'; line: string } | { kind: 'close' };

export class Answer implements EngineAnswer {
  readonly status: number;
  readonly headers: Map<string, string>;
  readonly #socket: Socket;
  readonly #reuse: (socket: Socket) => void;
  readonly #keepAlive: boolean;
  readonly #signal: AbortSignal;
  #rest: Buffer;
  #framing: Framing;
  #sink: BodySink | undefined;
  #done = false;

  /** `head` is the parsed head; `reuse` takes the socket back once the whole answer was read from it. */
  constructor(socket: Socket, head: { code: number; headers: Map<string, string>; keepAlive: boolean; rest: Buffer }, signal: AbortSignal, reuse: (socket: Socket) => void) {
    this.#socket = socket;
    this.#reuse = reuse;
    const { code: status, headers } = head;
    this.status = status;
    this.headers = headers;
    this.#keepAlive = head.keepAlive;
    this.#rest = head.rest;
    this.#signal = signal;
    const length = headers.get('content-length');
    if (/chunked/i.test(headers.get('transfer-encoding') ?? '')) this.#framing = { kind: 'chunked', left: 0, state: 'size', line: '' };
    else if (length !== undefined && /^\d{1,15}$/.test(length)) this.#framing = { kind: 'length', left: Number(length) };
    else this.#framing = status === 204 || status === 304 ? { kind: 'length', left: 0 } : { kind: 'close' };
  }

  read(sink: BodySink): void {
    this.#sink = sink;
    const socket = this.#socket;
    socket.on('data', this.#onData);
    socket.on('error', this.#onError);
    socket.on('close', this.#onClose);
    this.#signal.addEventListener('abort', this.#onAbort, { once: true });
    const rest = this.#rest;
    this.#rest = Buffer.alloc(0);
    if (rest.length > 0 || (this.#framing.kind === 'length' && this.#framing.left === 0)) this.#onData(rest);
  }

  resume(): void {
    if (!this.#done) this.#socket.resume();
  }

  destroy(): void {
    this.#finish();
    this.#socket.destroy();
  }

  #onAbort = () => {
    if (this.#done) return;
    this.destroy();
    this.#sink?.error(new EngineRequestError('The request was aborted.', 'ABORT_ERR'));
  };

  #onError = (error: Error) => {
    if (this.#done) return;
    this.#finish();
    this.#socket.destroy();
    this.#sink?.error(error);
  };

  #onClose = () => {
    if (this.#done) return;
    if (this.#framing.kind === 'close') return this.#end(false);
    this.#finish();
    this.#sink?.error(new EngineRequestError('The engine closed the connection before the end of its answer.', 'ECONNRESET'));
  };

  #onData = (chunk: Buffer) => {
    if (this.#done) return;
    const framing = this.#framing;
    if (framing.kind === 'close') return this.#pass(chunk);
    if (framing.kind === 'length') {
      const take = Math.min(framing.left, chunk.length);
      framing.left -= take;
      if (take > 0) this.#pass(take === chunk.length ? chunk : chunk.subarray(0, take));
      if (framing.left === 0) this.#end(take === chunk.length && this.#keepAlive);
      return;
    }
    this.#chunked(framing, chunk);
  };

  #chunked(framing: Extract<Framing, { kind: 'chunked' }>, chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length && !this.#done) {
      if (framing.state === 'data') {
        const take = Math.min(framing.left, chunk.length - at);
        this.#pass(chunk.subarray(at, at + take));
        at += take;
        framing.left -= take;
        if (framing.left === 0) framing.state = 'crlf';
        continue;
      }
      const newline = chunk.indexOf(0x0a, at);
      const piece = chunk.toString('latin1', at, newline === -1 ? chunk.length : newline);
      at = newline === -1 ? chunk.length : newline + 1;
      framing.line += piece;
      if (framing.line.length > MAX_CHUNK_LINE) return this.#broken('an oversized chunk line');
      if (newline === -1) return;
      const line = framing.line.replace(/\r$/, '');
      framing.line = '';
      if (framing.state === 'crlf') {
        if (line !== '') return this.#broken('no CRLF after a chunk');
        framing.state = 'size';
      } else if (framing.state === 'size') {
        const size = /^([0-9a-f]{1,12})(?:;.*)?$/i.exec(line);
        if (!size) return this.#broken('a bad chunk size');
        framing.left = Number.parseInt(size[1]!, 16);
        framing.state = framing.left === 0 ? 'trailer' : 'data';
      } else if (line === '') {
        return this.#end(at === chunk.length && this.#keepAlive);
      }
    }
  }

  #pass(chunk: Buffer): void {
    if (chunk.length > 0 && this.#sink?.data(chunk) === false) this.#socket.pause();
  }

  #broken(reason: string): void {
    this.#finish();
    this.#socket.destroy();
    this.#sink?.error(new EngineRequestError(`The engine's answer is malformed: ${reason}.`, 'HPE_INVALID'));
  }

  #end(reusable: boolean): void {
    this.#finish();
    if (reusable && this.#socket.readable && !this.#socket.destroyed) {
      this.#socket.resume();
      this.#reuse(this.#socket);
    } else this.#socket.destroy();
    this.#sink?.end();
  }

  #finish(): void {
    this.#done = true;
    this.#socket.off('data', this.#onData);
    this.#socket.off('error', this.#onError);
    this.#socket.off('close', this.#onClose);
    this.#signal.removeEventListener('abort', this.#onAbort);
  }
}
