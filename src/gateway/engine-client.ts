/**
 * The gateway's HTTP/1.1 client for its own engines: kept-alive sockets (one pool per engine), over the engine's
 * Unix socket where it has one (`socketPath`), else to 127.0.0.1 with Nagle off; each request written in one go, the
 * answer's head parsed without a general HTTP parser (bounded), its body handed on as it arrives (Content-Length,
 * chunked, or until the engine closes). It exists because node:http's client cost the gateway a third of its CPU per
 * request (objects, streams and listeners per exchange, measured with `--cpu-prof`); this one is a socket, a small
 * state machine and two listeners. It talks to llama-server and llamafile only, which answer POSTs with a plain head.
 *
 * A socket the engine had closed while it sat idle shows as a reset (or a close) before any byte of the answer:
 * then the request is sent once more on a fresh socket, as nothing was processed. A socket the engine closes right
 * after its answer, though it said it would keep it (llama-server does after every streamed answer), is replaced at
 * once by one connected ahead of the next request, which then does not wait for a connection.
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
/** How often the pools are swept for sockets idle that long (one timer for all, not one per socket and request). */
const SWEEP_MS = 1000;
/** An engine closing a socket this soon after it was given back closed it because of that answer: it is replaced. */
const REPLACE_WITHIN_MS = 100;

export interface EngineRequest {
  port: number;
  /** The engine's Unix socket (RunningServer.socketPath): cheaper per request than loopback TCP. */
  socketPath?: string | undefined;
  path: string;
  body: Buffer;
  /** Extra header lines, already checked (no CR or LF): `accept`, `authorization`. */
  headers: Record<string, string>;
  signal: AbortSignal;
}

/** Where an engine listens: what a pool is keyed by and a fresh socket connects to. */
type EngineAddress = Pick<EngineRequest, 'port' | 'socketPath'>;

/** Idle sockets per engine, keyed by its socket path, else its port. */
const pools = new Map<string | number, Socket[]>();
/**
 * Each idle socket's entry: when it was given back (performance.now()), and the listeners that take it out of its pool
 * (on close, and on error or data), so that taking it back removes exactly those.
 */
const idleSockets = new WeakMap<Socket, { since: number; closed: () => void; drop: () => void }>();
let sweeper: NodeJS.Timeout | undefined;

/** Sends the request; resolves with the answer's head once it is in, retrying once on a stale kept-alive socket. */
export async function requestEngine(request: EngineRequest): Promise<EngineAnswer> {
  const reused = takeIdle(poolKey(request));
  if (!reused) return exchange(request, freshSocket(request), false);
  try {
    return await exchange(request, reused, true);
  } catch (error) {
    if (!(error instanceof StaleSocketError) || request.signal.aborted) throw error;
    return exchange(request, freshSocket(request), false);
  }
}

class StaleSocketError extends EngineRequestError {}

/** Which pool an engine's sockets go back to: its Unix socket's path, else its port. */
function poolKey({ port, socketPath }: EngineAddress): string | number {
  return socketPath ?? port;
}

function freshSocket({ port, socketPath }: EngineAddress): Socket {
  return socketPath === undefined ? connect({ host: '127.0.0.1', port, noDelay: true }) : connect({ path: socketPath });
}

function takeIdle(key: string | number): Socket | undefined {
  const idle = pools.get(key);
  const now = performance.now();
  for (let socket = idle?.pop(); socket; socket = idle?.pop()) {
    const entry = idleSockets.get(socket);
    if (entry) {
      socket.off('close', entry.closed);
      socket.off('error', entry.drop);
      socket.off('data', entry.drop);
    }
    if (now - (entry?.since ?? now) >= IDLE_MS) socket.destroy(); // the sweep has not come round yet
    if (!socket.destroyed) return socket;
  }
  return undefined;
}

/** Closes the sockets idle for IDLE_MS (the oldest are first in each pool); stops when no pool is left. */
function sweep(): void {
  const now = performance.now();
  for (const idle of [...pools.values()]) {
    for (let oldest = idle[0]; oldest && now - (idleSockets.get(oldest)?.since ?? now) >= IDLE_MS; oldest = idle[0]) {
      const drop = idleSockets.get(oldest)?.drop;
      if (drop) drop(); // destroys it and takes it out of its pool
      else idle.shift()?.destroy();
    }
  }
  if (pools.size === 0) {
    clearInterval(sweeper);
    sweeper = undefined;
  }
}

/**
 * Keeps an answered socket (or a spare) for the next request. One the engine closes within REPLACE_WITHIN_MS is
 * replaced by a spare; a spare is never replaced, so an engine that refuses them costs one connection, not a loop.
 */
function giveBack(address: EngineAddress, socket: Socket, spare = false): void {
  const key = poolKey(address);
  let idle = pools.get(key);
  if (!idle) pools.set(key, (idle = []));
  if (idle.length >= MAX_IDLE) return void socket.destroy();
  const drop = () => {
    socket.destroy();
    const at = idle.indexOf(socket);
    if (at !== -1) idle.splice(at, 1);
    if (idle.length === 0 && pools.get(key) === idle) pools.delete(key);
  };
  const since = performance.now();
  const closed = () => {
    drop();
    if (!spare && performance.now() - since < REPLACE_WITHIN_MS) connectSpare(address);
  };
  idleSockets.set(socket, { since, closed, drop });
  socket.once('close', closed);
  socket.once('error', drop);
  socket.once('data', drop); // nothing may arrive on an idle socket
  socket.unref();
  idle.push(socket);
  if (!sweeper) {
    sweeper = setInterval(sweep, SWEEP_MS);
    sweeper.unref();
  }
}

/** A socket to the engine, given to its pool once connected (dropped if the engine cannot be reached). */
function connectSpare(address: EngineAddress): void {
  const socket = freshSocket(address);
  socket.unref();
  const failed = () => socket.destroy();
  socket.once('error', failed);
  socket.once('connect', () => {
    socket.off('error', failed);
    giveBack(address, socket, true);
  });
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
      // The address only, not the request: an idle socket must not keep the last request's body alive.
      const address = { port: request.port, socketPath: request.socketPath };
      resolve(new Answer(socket, parsed, signal, (reusable) => giveBack(address, reusable)));
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
