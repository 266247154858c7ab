/**
 * Relays one request to an engine and its answer back, byte for byte and chunk by chunk as it arrives (node:http on
 * both sides, with backpressure: a slow reader slows the engine's socket instead of filling our memory).
 * The client going away destroys the upstream request at once, so the engine frees the slot.
 */
import { Agent, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Lease } from './scheduler.js';
import { GatewayError } from './gateway-error.js';

/** Kept-alive sockets to the engines (all on 127.0.0.1). */
const agent = new Agent({ keepAlive: true, maxSockets: 512, keepAliveMsecs: 1000 });

export interface RelayResult {
  status: number;
  /** ms from sending to the first byte of the answer's body. */
  firstByteMs: number | undefined;
  /** From the `usage` the engine put at the end of its answer, when it did. */
  promptTokens: number | undefined;
  completionTokens: number | undefined;
}

// content-length too: a plain answer then goes out without chunked framing, in fewer writes.
const PASSED_HEADERS = ['content-type', 'content-length', 'cache-control'];

/** Sends `body` to `path` on the lease's engine and pipes the answer into `res`. Throws GatewayError before headers. */
export async function relay(
  lease: Lease,
  path: string,
  body: Buffer,
  req: IncomingMessage,
  res: ServerResponse,
  signal: AbortSignal,
): Promise<RelayResult> {
  const started = performance.now();
  const upstream = await send(lease, path, body, req.headers.accept, signal);
  const result: RelayResult = { status: upstream.statusCode ?? 502, firstByteMs: undefined, promptTokens: undefined, completionTokens: undefined };
  const headers: Record<string, string> = {};
  for (const name of PASSED_HEADERS) {
    const value = upstream.headers[name];
    if (typeof value === 'string') headers[name] = value;
  }
  if (headers['content-type']?.startsWith('text/event-stream')) headers['x-accel-buffering'] = 'no';
  // Not flushed on their own: the headers leave with the first chunk of the body, one write fewer per request.
  res.writeHead(result.status, headers);
  // Keep only the end of the answer: that is where the engine puts `usage`.
  let tail = '';
  try {
    const outcome = await pump(upstream, res, (chunk) => {
      result.firstByteMs ??= performance.now() - started;
      tail = (tail + chunk.toString('latin1')).slice(-4096);
    });
    // The client left: nothing to tell anyone; the upstream socket is destroyed, so the engine frees the slot.
    if (outcome === 'gone') return result;
  } catch (error) {
    const crash = await lease.crashError();
    const message = crash?.message ?? `The engine's answer broke off: ${(error as Error).message}`;
    // The status is gone already: a stream ends with an error event (the OpenAI clients throw it), a plain answer is
    // cut off (its client sees a broken body, not a short one that looks whole).
    if (headers['content-type']?.startsWith('text/event-stream') && !res.destroyed) {
      res.end(`data: ${JSON.stringify({ error: { message, type: 'server_error', code: crash?.reason ?? 'upstream_error' } })}\n\n`);
    } else res.destroy();
    throw crash ?? new GatewayError(502, 'upstream_error', message);
  }
  const prompt = /"prompt_tokens":\s*(\d+)/g;
  const completion = /"completion_tokens":\s*(\d+)/g;
  result.promptTokens = lastNumber(prompt, tail);
  result.completionTokens = lastNumber(completion, tail);
  return result;
}

/**
 * Copies the engine's answer into `res` chunk by chunk, pausing the engine's socket while `res` is full. Resolves
 * `done`, or `gone` when the client left first (the upstream request is destroyed then); rejects when the engine's
 * side breaks off (unlike `pipeline`, which would destroy `res` too and leave no way to say why).
 */
function pump(upstream: IncomingMessage, res: ServerResponse, onChunk: (chunk: Buffer) => void): Promise<'done' | 'gone'> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (then: () => void) => {
      if (settled) return;
      settled = true;
      then();
    };
    upstream.on('data', (chunk: Buffer) => {
      onChunk(chunk);
      if (!res.write(chunk)) upstream.pause();
    });
    res.on('drain', () => upstream.resume());
    upstream.on('end', () => settle(() => {
      res.end();
      resolve('done');
    }));
    upstream.on('error', (error) => settle(() => reject(error)));
    upstream.on('close', () => {
      if (!upstream.complete) settle(() => reject(new Error('the engine closed the connection')));
    });
    res.on('close', () => {
      if (!res.writableFinished) settle(() => {
        upstream.destroy();
        resolve('gone');
      });
    });
  });
}

function lastNumber(pattern: RegExp, text: string): number | undefined {
  let last: number | undefined;
  for (const match of text.matchAll(pattern)) last = Number(match[1]);
  return last;
}

/** The upstream response, retrying once when a kept-alive socket turns out to have been closed by the engine. */
async function send(lease: Lease, path: string, body: Buffer, accept: string | undefined, signal: AbortSignal): Promise<IncomingMessage> {
  const { server } = lease;
  for (let attempt = 0; ; attempt++) {
    try {
      return await new Promise<IncomingMessage>((resolve, reject) => {
        const upstream = request(
          {
            host: '127.0.0.1', port: server.port, path, method: 'POST', agent, signal,
            headers: {
              'content-type': 'application/json',
              'content-length': body.length,
              accept: accept ?? 'application/json, text/event-stream',
              ...(server.client.apiKey ? { authorization: `Bearer ${server.client.apiKey}` } : {}),
            },
          },
          resolve,
        );
        upstream.on('error', (error: NodeJS.ErrnoException) => reject(Object.assign(error, { reused: upstream.reusedSocket })));
        upstream.end(body);
      });
    } catch (error) {
      if (signal.aborted) throw new GatewayError(499, 'cancelled', 'The client disconnected.');
      const { code, reused } = error as NodeJS.ErrnoException & { reused?: boolean };
      if (attempt === 0 && reused && (code === 'ECONNRESET' || code === 'EPIPE')) continue;
      throw (await lease.crashError()) ?? new GatewayError(502, 'upstream_error', `The engine could not be reached: ${(error as Error).message}`, { cause: error });
    }
  }
}
