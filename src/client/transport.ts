/**
 * The HTTP layer under LlamafileClient: one keep-alive undici pool, JSON requests, SSE streams, and every failure
 * turned into a typed error (status → APIError family, no response → ConnectionError / RequestTimeoutError, abort
 * → AbortError).
 */
import { Agent, request, type Dispatcher } from 'undici';
import { AbortError, APIError } from '../errors.js';
import { networkErrorKind } from '../http/network-errors.js';
import { apiError, parseBody, transportError } from './api-errors.js';
import { decodeSse } from './sse.js';

export type Method = 'GET' | 'POST';

export class Transport {
  readonly baseUrl: string;
  readonly timeoutMs: number;
  readonly #agent: Agent;
  readonly #headers: Record<string, string>;

  constructor(options: { baseUrl: string; apiKey: string | undefined; timeoutMs: number; connections: number }) {
    this.baseUrl = options.baseUrl;
    this.timeoutMs = options.timeoutMs;
    this.#agent = new Agent({ connections: options.connections, keepAliveTimeout: 30_000, pipelining: 1 });
    this.#headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
    if (options.apiKey) this.#headers.authorization = `Bearer ${options.apiKey}`;
  }

  async close(): Promise<void> {
    await this.#agent.close();
  }

  /** Sends a streamed request and yields each SSE `data:` frame parsed; `[DONE]` or the end of the body ends it. */
  async *events<T>(path: string, body: unknown, signal: AbortSignal): AsyncGenerator<T> {
    const url = `${this.baseUrl}${path}`;
    const response = await this.send('POST', path, body, signal);
    try {
      for await (const event of decodeSse(response.body)) {
        // One read can hold many frames: stop at the next one once aborted, not at the end of the buffer.
        if (signal.aborted) throw new AbortError(`The request to ${url} was aborted.`, { cause: signal.reason });
        if (event.kind === 'error') throw apiError(undefined, parseBody(event.data), url);
        if (event.data === '[DONE]') return;
        const frame = parseBody(event.data);
        if (frame === null || typeof frame !== 'object') {
          throw new APIError(undefined, `The server sent a stream frame that is not JSON: ${event.data.slice(0, 200)}`, frame);
        }
        if ('error' in frame) throw apiError(undefined, frame, url);
        yield frame as T;
      }
    } catch (error) {
      throw transportError(error, { url, signal, timeoutMs: this.timeoutMs });
    } finally {
      // Closing the body early closes the connection: the server notices and frees the slot.
      if (!response.body.destroyed) response.body.destroy();
    }
  }

  async json<T>(method: Method, path: string, body: unknown, signal: AbortSignal | undefined): Promise<T> {
    const response = await this.send(method, path, body, signal);
    const url = `${this.baseUrl}${path}`;
    let text: string;
    try {
      text = await response.body.text();
    } catch (error) {
      throw transportError(error, { url, signal, timeoutMs: this.timeoutMs });
    }
    const parsed = parseBody(text);
    if (typeof parsed === 'string') {
      throw new APIError(response.statusCode, `The server answered ${path} with something that is not JSON: ${text.slice(0, 200)}`, text);
    }
    return parsed as T;
  }

  /** One HTTP exchange; a status ≥ 400 becomes a typed APIError carrying the server's message. */
  async send(
    method: Method,
    path: string,
    body: unknown,
    signal: AbortSignal | undefined,
    { allowErrors = false }: { allowErrors?: boolean } = {},
  ): Promise<Dispatcher.ResponseData> {
    const url = `${this.baseUrl}${path}`;
    let response: Dispatcher.ResponseData | undefined;
    // One retry when a kept-alive socket turns out to be closed by the server (llama.cpp's HTTP server drops idle
    // connections after a few seconds, and every connection after 100 requests): nothing was processed then.
    for (let attempt = 0; response === undefined; attempt++) {
      try {
        response = await request(url, {
          dispatcher: this.#agent,
          method,
          headers: this.#headers,
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          ...(signal ? { signal } : {}),
          headersTimeout: this.timeoutMs,
          bodyTimeout: this.timeoutMs,
        });
      } catch (error) {
        if (attempt === 0 && !signal?.aborted && isStaleSocket(error)) continue;
        throw transportError(error, { url, signal, timeoutMs: this.timeoutMs });
      }
    }
    if (response.statusCode >= 400 && !allowErrors) {
      let text = '';
      try {
        text = await response.body.text();
      } catch {
        // the status alone still says what happened
      }
      throw apiError(response.statusCode, parseBody(text), url);
    }
    return response;
  }
}

function isStaleSocket(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && networkErrorKind(code) === 'reset';
}
