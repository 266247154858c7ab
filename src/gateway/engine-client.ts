/**
 * The gateway's HTTP/1.1 client for its own engines: kept-alive sockets to 127.0.0.1 (one pool per engine port, Nagle
 * off), each request written in one go, the answer's head parsed without a general HTTP parser (bounded), its body
 * handed on as it arrives (Content-Length, chunked, or until the engine closes). It exists because node:http's client
 * cost the gateway a third of its CPU per request (objects, streams and listeners per exchange, measured with
 * `--cpu-prof`); this one is a socket, a small state machine and two listeners. It talks to llama-server and
 * llamafile only, which answer POSTs with a plain head.
 *
 * A socket the engine had closed while it sat idle shows as a reset (or a close) before any byte of the answer:
 * then the request is sent once more on a fresh socket, as nothing was processed.
 */
import { connect, type Socket } from 'node:net';
import { MAX_HEAD, parseHead } from '../download/response-head.js';

/** At most this many idle sockets are kept per engine (more than any engine has slots). */
const MAX_IDLE = 64;
/** Idle sockets are closed before llama-server's own keep-alive timeout (5 s) could close them under a request. */
const IDLE_MS = 4000;
/** The longest chunk-size line accepted (hex digits and extensions). */
const MAX_CHUNK_LINE = 1024;

export interface EngineRequest {
  port: number;
  path: string;
  body: Buffer;
  /** Extra header lines, already checked (no CR or LF): `accept`, `authorization`. */
  headers: Record<string, string>;
  signal: AbortSignal;
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

const pools = new Map<number, Socket[]>();
/** The listener that takes an idle socket out of its pool, so that taking it back removes exactly that one. */
const dropping = new WeakMap<Socket, () => void>();

export class EngineRequestError extends Error {
  override name = 'EngineRequestError';
  readonly code: string | undefined;
  constructor(message: string, code?: string) {
    super(message);
    this.code = code;
  }
}

/** Sends the request; resolves with the answer's head once it is in, retrying once on a stale kept-alive socket. */
export async function requestEngine(request: EngineRequest): Promise<EngineAnswer> {
  const reused = takeIdle(request.port);
  if (!reused) return exchange(request, freshSocket(request.port), false);
  try {
    return await exchange(request, reused, true);
  } catch (error) {
    if (!(error instanceof StaleSocketError) || request.signal.aborted) throw error;
    return exchange(request, freshSocket(request.port), false);
  }
}

class StaleSocketError extends EngineRequestError {}

function freshSocket(port: number): Socket {
  return connect({ host: '127.0.0.1', port, noDelay: true });
}

function takeIdle(port: number): Socket | undefined {
  const idle = pools.get(port);
  for (let socket = idle?.pop(); socket; socket = idle?.pop()) {
    const drop = dropping.get(socket);
    if (drop) {
      socket.off('close', drop);
      socket.off('error', drop);
      socket.off('data', drop);
      socket.setTimeout(0);
      socket.off('timeout', drop);
    }
    if (!socket.destroyed) return socket;
  }
  return undefined;
}

function giveBack(port: number, socket: Socket): void {
  let idle = pools.get(port);
  if (!idle) pools.set(port, (idle = []));
  if (idle.length >= MAX_IDLE) return void socket.destroy();
  const drop = () => {
    socket.destroy();
    const at = idle.indexOf(socket);
    if (at !== -1) idle.splice(at, 1);
    if (idle.length === 0 && pools.get(port) === idle) pools.delete(port);
  };
  dropping.set(socket, drop);
  socket.once('close', drop);
  socket.once('error', drop);
  socket.once('data', drop); // nothing may arrive on an idle socket
  socket.setTimeout(IDLE_MS, drop);
  socket.unref();
  idle.push(socket);
}

function exchange(request: EngineRequest, socket: Socket, reused: boolean): Promise<EngineAnswer> {
  const { port, path, body, headers, signal } = request;
  socket.ref();
  return new Promise<EngineAnswer>((resolve, reject) => {
    let head: Buffer | undefined;
    let answered = false;
    const fail = (error: Error) => {
      cleanup();
      socket.destroy();
      reject(error);
    };
    const onAbort = () => fail(new EngineRequestError('The request was aborted.', 'ABORT_ERR'));
    const onError = (error: NodeJS.ErrnoException) => {
      const stale = reused && !head && (error.code === 'ECONNRESET' || error.code === 'EPIPE');
      fail(stale ? new StaleSocketError(error.message, error.code) : new EngineRequestError(error.message, error.code));
    };
    const onClose = () => {
      if (!answered) fail(reused && !head ? new StaleSocketError('closed before answering') : new EngineRequestError('The engine closed the connection before it answered.', 'ECONNRESET'));
    };
    const onData = (chunk: Buffer) => {
      head = head ? Buffer.concat([head, chunk]) : chunk;
      const parsed = parseHead(head);
      if (parsed.kind === 'incomplete') return;
      if (parsed.kind === 'invalid') return fail(new EngineRequestError(`The engine sent ${parsed.reason}.`, 'HPE_INVALID'));
      if (head.length - parsed.rest.length > MAX_HEAD) return fail(new EngineRequestError('The engine sent an oversized header.', 'HPE_INVALID'));
      answered = true;
      cleanup();
      resolve(new Answer(port, socket, parsed.code, parsed.headers, parsed.keepAlive, parsed.rest, signal));
    };
    const cleanup = () => {
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('close', onClose);
      signal.removeEventListener('abort', onAbort);
    };
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('close', onClose);
    let lines = `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n`;
    for (const [name, value] of Object.entries(headers)) lines += `${name}: ${value}\r\n`;
    socket.cork();
    socket.write(`${lines}\r\n`, 'latin1');
    socket.write(body);
    socket.uncork();
  });
}

type Framing = { kind: 'length'; left: number } | { kind: 'chunked'; left: number; state: 'size' | 'data' | 'crlf' | 'trailer'; line: string } | { kind: 'close' };

class Answer implements EngineAnswer {
  readonly status: number;
  readonly headers: Map<string, string>;
  readonly #port: number;
  readonly #socket: Socket;
  readonly #keepAlive: boolean;
  readonly #signal: AbortSignal;
  #rest: Buffer;
  #framing: Framing;
  #sink: BodySink | undefined;
  #done = false;

  constructor(port: number, socket: Socket, status: number, headers: Map<string, string>, keepAlive: boolean, rest: Buffer, signal: AbortSignal) {
    this.#port = port;
    this.#socket = socket;
    this.status = status;
    this.headers = headers;
    this.#keepAlive = keepAlive;
    this.#rest = rest;
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
      giveBack(this.#port, this.#socket);
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
