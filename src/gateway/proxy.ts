/**
 * Relays one request to an engine and its answer back, byte for byte and chunk by chunk as it arrives (node:http
 * toward the client, the lean engine client toward the engine, with backpressure: a slow reader slows the engine's
 * socket instead of filling our memory).
 * The client going away destroys the upstream request at once, so the engine frees the slot.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { requestEngine, type EngineAnswer } from './engine-client.js';
import type { Lease } from './scheduler.js';
import { GatewayError } from './gateway-error.js';
import { anthropicError, streamErrorEvent, type Api } from './api-errors.js';

export interface RelayTarget {
  /** The engine's path (the same as the gateway's). */
  path: string;
  /** Whose error shape the answer must have. */
  api: Api;
}

/** Rewrites a streamed answer event by event (see responses-events.ts). */
export interface StreamTransform {
  push(chunk: Buffer): string;
  end(): string;
}

export interface RelayResult {
  status: number;
  /** ms from sending to the first byte of the answer's body. */
  firstByteMs: number | undefined;
  /** From the `usage` the engine put in its answer, when it did. */
  promptTokens: number | undefined;
  completionTokens: number | undefined;
}

// content-length too: a plain answer then goes out without chunked framing, in fewer writes.
const PASSED_HEADERS = ['content-type', 'content-length', 'cache-control'] as const;
/** How much of an answer's start and end is kept to read `usage` from (Anthropic streams put input tokens first). */
const KEPT_BYTES = 4096;
/** The largest engine error body that is read to be reshaped (Anthropic routes). */
const MAX_ERROR_BYTES = 65_536;

/** Sends `body` to the target on the lease's engine and pipes the answer into `res`. Throws GatewayError before headers. */
export async function relay(
  lease: Lease,
  target: RelayTarget,
  body: Buffer,
  req: IncomingMessage,
  res: ServerResponse,
  signal: AbortSignal,
  /** Made only when the answer is a stream. */
  streamTransform?: () => StreamTransform,
): Promise<RelayResult> {
  const started = performance.now();
  const upstream = await send(lease, target.path, body, req.headers.accept, signal);
  const result: RelayResult = { status: upstream.status, firstByteMs: undefined, promptTokens: undefined, completionTokens: undefined };
  if (result.status >= 400 && target.api === 'anthropic') {
    await reshapeAnthropicError(upstream, res, result.status);
    return result;
  }
  const headers: Record<string, string> = {};
  for (const name of PASSED_HEADERS) {
    const value = upstream.headers.get(name);
    if (value !== undefined) headers[name] = value;
  }
  const streaming = headers['content-type']?.startsWith('text/event-stream') === true;
  if (streaming) headers['x-accel-buffering'] = 'no';
  // Not flushed on their own: the headers leave with the first chunk of the body, one write fewer per request.
  res.writeHead(result.status, headers);
  const kept = new KeptEnds();
  const transform = streaming ? streamTransform?.() : undefined;
  if (transform) delete headers['content-length'];
  try {
    const outcome = await pump(upstream, res, (chunk) => {
      result.firstByteMs ??= performance.now() - started;
      kept.add(chunk);
    }, transform);
    // The client left: nothing to tell anyone; the upstream socket is destroyed, so the engine frees the slot.
    if (outcome === 'gone') return result;
  } catch (error) {
    const crash = await lease.crashError();
    const message = crash?.message ?? `The engine's answer broke off: ${(error as Error).message}`;
    // The status is gone already: a stream ends with its API's error event (its client throws it), a plain answer
    // is cut off (its client sees a broken body, not a short one that looks whole).
    if (streaming && !res.destroyed) res.end(streamErrorEvent(target.api, target.path, message, crash?.reason ?? 'upstream_error'));
    else res.destroy();
    throw crash ?? new GatewayError(502, 'upstream_error', message);
  }
  const text = kept.text();
  result.promptTokens = lastNumber(/"(?:prompt_tokens|input_tokens)":\s*(\d+)/g, text);
  result.completionTokens = lastNumber(/"(?:completion_tokens|output_tokens)":\s*(\d+)/g, text);
  return result;
}

/** The first and the last KEPT_BYTES of a body, without copying every chunk as it passes. */
class KeptEnds {
  #head = '';
  #last: Buffer | undefined;
  #beforeLast: Buffer | undefined;

  add(chunk: Buffer): void {
    if (this.#head.length < KEPT_BYTES) this.#head += chunk.toString('latin1', 0, KEPT_BYTES - this.#head.length);
    this.#beforeLast = this.#last;
    this.#last = chunk;
  }

  text(): string {
    const tail = Buffer.concat([this.#beforeLast ?? Buffer.alloc(0), this.#last ?? Buffer.alloc(0)]);
    return `${this.#head}\n${tail.toString('latin1', Math.max(0, tail.length - KEPT_BYTES))}`;
  }
}

/** The engine's error (OpenAI-shaped) in Anthropic's shape, with the same status, so its SDK raises the right class. */
async function reshapeAnthropicError(upstream: EngineAnswer, res: ServerResponse, status: number): Promise<void> {
  const chunks: Buffer[] = [];
  let size = 0;
  await new Promise<void>((resolve) => {
    upstream.read({
      data(chunk) {
        size += chunk.length;
        if (size <= MAX_ERROR_BYTES) chunks.push(chunk);
        else {
          upstream.destroy();
          resolve();
        }
        return true;
      },
      end: resolve,
      error: () => resolve(), // what arrived is enough for a message
    });
  });
  const text = Buffer.concat(chunks).toString('utf8');
  let message = text.slice(0, 2000);
  try {
    const parsed = JSON.parse(text) as { error?: { message?: unknown } };
    if (typeof parsed.error?.message === 'string') message = parsed.error.message;
  } catch {
    // not JSON: the text itself
  }
  const payload = JSON.stringify(anthropicError(status, message || `The engine answered ${status}.`));
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) });
  res.end(payload);
}

/**
 * Copies the engine's answer into `res` chunk by chunk, pausing the engine's socket while `res` is full. Resolves
 * `done`, or `gone` when the client left first (the engine's socket is closed then); rejects when the engine's side
 * breaks off.
 */
function pump(upstream: EngineAnswer, res: ServerResponse, onChunk: (chunk: Buffer) => void, transform?: StreamTransform): Promise<'done' | 'gone'> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const onDrain = () => upstream.resume();
    const onClose = () => {
      if (settled || res.writableFinished) return;
      settled = true;
      upstream.destroy();
      resolve('gone');
    };
    res.on('drain', onDrain);
    res.on('close', onClose);
    const settle = () => {
      settled = true;
      res.off('drain', onDrain);
      res.off('close', onClose);
    };
    upstream.read({
      data(chunk) {
        onChunk(chunk);
        const out = transform ? transform.push(chunk) : chunk;
        return out.length === 0 || res.write(out);
      },
      end() {
        if (settled) return;
        settle();
        res.end(transform?.end());
        resolve('done');
      },
      error(error) {
        if (settled) return;
        settle();
        reject(error);
      },
    });
  });
}

function lastNumber(pattern: RegExp, text: string): number | undefined {
  let last: number | undefined;
  for (const match of text.matchAll(pattern)) last = Number(match[1]);
  return last;
}

/** The engine's answer (a stale kept-alive socket is retried by the client); a crash or a refusal is a GatewayError. */
async function send(lease: Lease, path: string, body: Buffer, accept: string | undefined, signal: AbortSignal): Promise<EngineAnswer> {
  const { server } = lease;
  const headers: Record<string, string> = { accept: accept !== undefined && /^[\x20-\x7e]{1,512}$/.test(accept) ? accept : 'application/json, text/event-stream' };
  if (server.client.apiKey) headers.authorization = `Bearer ${server.client.apiKey}`;
  try {
    return await requestEngine({ port: server.port, socketPath: server.socketPath, path, body, headers, signal });
  } catch (error) {
    if (signal.aborted) throw new GatewayError(499, 'cancelled', 'The client disconnected.');
    throw (await lease.crashError()) ?? new GatewayError(502, 'upstream_error', `The engine could not be reached: ${(error as Error).message}`, { cause: error });
  }
}
