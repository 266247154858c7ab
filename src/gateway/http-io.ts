/** Reading bounded JSON bodies and writing JSON answers on node:http. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayError } from './gateway-error.js';
import { drained } from '../http/drained.js';

/** Reads the whole body, refusing more than `limit` bytes (413) as soon as it is exceeded. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) return Promise.reject(tooLarge(limit));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.resume();
        reject(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks, size)));
    req.on('error', reject);
  });
}

function tooLarge(limit: number): GatewayError {
  return new GatewayError(413, 'body_too_large', `The request body is larger than the gateway's limit of ${limit} bytes.`);
}

/** Parses a JSON object body (400 when it is not one). */
export function parseJsonObject(body: Buffer): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw new GatewayError(400, 'invalid_json', `The request body is not valid JSON: ${(error as Error).message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new GatewayError(400, 'invalid_json', 'The request body must be a JSON object.');
  }
  return value as Record<string, unknown>;
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** Headers for an error: Retry-After where the error says when to come back. */
export function errorHeaders(error: GatewayError): Record<string, string> {
  return error.retryAfterS === undefined ? {} : { 'retry-after': String(error.retryAfterS) };
}

/** Writes to `res` honouring backpressure: resolves once the data is taken (or the client is gone). */
export function write(res: ServerResponse, data: string | Buffer): Promise<void> {
  if (res.destroyed) return Promise.resolve();
  if (res.write(data)) return Promise.resolve();
  return drained(res);
}

/** An AbortSignal that fires when the client goes away before the answer is complete. */
export function clientGone(req: IncomingMessage, res: ServerResponse): AbortSignal {
  const controller = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) controller.abort(new Error('the client disconnected'));
  });
  req.on('aborted', () => controller.abort(new Error('the client disconnected')));
  return controller.signal;
}
