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
import { Answer, EngineRequestError, type EngineAnswer } from './engine-answer.js';

export type { BodySink, EngineAnswer } from './engine-answer.js';
export { EngineRequestError } from './engine-answer.js';

/** At most this many idle sockets are kept per engine (more than any engine has slots). */
const MAX_IDLE = 64;
/** Idle sockets are closed before llama-server's own keep-alive timeout (5 s) could close them under a request. */
const IDLE_MS = 4000;

export interface EngineRequest {
  port: number;
  path: string;
  body: Buffer;
  /** Extra header lines, already checked (no CR or LF): `accept`, `authorization`. */
  headers: Record<string, string>;
  signal: AbortSignal;
}

const pools = new Map<number, Socket[]>();
/** The listener that takes an idle socket out of its pool, so that taking it back removes exactly that one. */
const dropping = new WeakMap<Socket, () => void>();

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
      resolve(new Answer(socket, parsed, signal, (reusable) => giveBack(port, reusable)));
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
