/**
 * A typed client for the llamafile / llama.cpp server API over a keep-alive undici pool. It hides the differences
 * between server versions: streams with or without `data: [DONE]`, JSON or plain-text errors, `error:` lines
 * mid-stream, `/v1/completions` missing on llamafile 0.8.x.
 *
 * @example
 * const client = new LlamafileClient({ baseUrl: 'http://127.0.0.1:8080' });
 * for await (const chunk of client.chat({ messages: [{ role: 'user', content: 'Hi' }], stream: true })) {
 *   process.stdout.write(chunk.choices[0]?.delta.content ?? '');
 * }
 */
import { randomUUID } from 'node:crypto';
import { Agent, request, type Dispatcher } from 'undici';
import { AbortError, APIError } from '../errors.js';
import { chatAccumulator, completionAccumulator, textCompletionAccumulator } from './accumulate.js';
import { apiError, parseBody, transportError } from './api-errors.js';
import { toNativeRequest, toTextCompletion } from './legacy-completions.js';
import { parsePrometheus } from './metrics.js';
import { decodeSse } from './sse.js';
import { Stream, type Accumulator } from './stream.js';
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatRequest,
  CompletionChunk,
  CompletionRequest,
  CompletionResponse,
  CompletionsRequest,
  DetokenizeResponse,
  EmbeddingsRequest,
  EmbeddingsResponse,
  HealthStatus,
  Metrics,
  ModelList,
  Props,
  RequestOptions,
  Slot,
  TextCompletion,
  TextCompletionChunk,
  TokenizeRequest,
  TokenizeResponse,
} from './types.js';

export type { HealthStatus } from './types.js';

export interface LlamafileClientOptions {
  /** e.g. http://127.0.0.1:8080 */
  baseUrl: string;
  /** Sent as `Authorization: Bearer …` to this server only. */
  apiKey?: string | undefined;
  /** How long to wait for the response headers, and at most between two chunks of a body. @default 600_000 */
  timeoutMs?: number | undefined;
  /** Keep-alive connections to the server. @default 8 */
  connections?: number | undefined;
}

type Method = 'GET' | 'POST';

export class LlamafileClient {
  readonly baseUrl: string;
  readonly apiKey: string | undefined;
  readonly timeoutMs: number;
  readonly #agent: Agent;
  readonly #headers: Record<string, string>;
  /** Learnt on the first 404: this server (llamafile 0.8.x) has no /v1/completions. */
  #legacyCompletions = false;

  constructor(options: LlamafileClientOptions) {
    const { baseUrl, apiKey, timeoutMs = 600_000, connections = 8 } = options;
    let parsed: URL;
    try {
      parsed = new URL(baseUrl);
    } catch (error) {
      throw new TypeError(`baseUrl must be an http(s) URL, got ${JSON.stringify(baseUrl)}.`, { cause: error });
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw new TypeError(`baseUrl must be an http(s) URL, got ${JSON.stringify(baseUrl)}.`);
    }
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.apiKey = apiKey;
    this.timeoutMs = timeoutMs;
    this.#agent = new Agent({ connections, keepAliveTimeout: 30_000, pipelining: 1 });
    this.#headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
    if (apiKey) this.#headers.authorization = `Bearer ${apiKey}`;
  }

  /** GET /health. Resolves with ok=false on 503 (loading); throws ConnectionError when nothing answers. */
  async health(options: RequestOptions = {}): Promise<HealthStatus> {
    const response = await this.#send('GET', '/health', undefined, options.signal, { allowErrors: true });
    const body = parseBody(await response.body.text());
    return { ok: response.statusCode === 200, status: response.statusCode, body };
  }

  /** GET /props: the server's settings (context size, slots, chat template, default sampling). */
  props(options: RequestOptions = {}): Promise<Props> {
    return this.#json('GET', '/props', undefined, options);
  }

  /** GET /v1/models: the model this server serves (one entry). */
  models(options: RequestOptions = {}): Promise<ModelList> {
    return this.#json('GET', '/v1/models', undefined, options);
  }

  /** GET /slots: what each slot is doing (needs a server started with slots enabled, the upstream default). */
  slots(options: RequestOptions = {}): Promise<Slot[]> {
    return this.#json('GET', '/slots', undefined, options);
  }

  /** GET /metrics parsed into numbers (needs a server started with `--metrics`). */
  async metrics(options: RequestOptions = {}): Promise<Metrics> {
    const response = await this.#send('GET', '/metrics', undefined, options.signal);
    return parsePrometheus(await response.body.text());
  }

  /** POST /tokenize. */
  tokenize(request: string | TokenizeRequest, options: RequestOptions = {}): Promise<TokenizeResponse> {
    const body = typeof request === 'string' ? { content: request } : request;
    return this.#json('POST', '/tokenize', body, options);
  }

  /** POST /detokenize. */
  detokenize(tokens: readonly number[], options: RequestOptions = {}): Promise<DetokenizeResponse> {
    return this.#json('POST', '/detokenize', { tokens }, options);
  }

  /** POST /v1/embeddings (needs a server started with `--embeddings`). */
  embeddings(request: EmbeddingsRequest, options: RequestOptions = {}): Promise<EmbeddingsResponse> {
    return this.#json('POST', '/v1/embeddings', request, options);
  }

  /** POST /completion, the native API. `stream: true` returns a Stream of frames (the last has `stop: true`). */
  completion(request: CompletionRequest & { stream: true }, options?: RequestOptions): Stream<CompletionChunk, CompletionResponse>;
  completion(request: CompletionRequest & { stream?: false }, options?: RequestOptions): Promise<CompletionResponse>;
  completion(
    request: CompletionRequest,
    options: RequestOptions = {},
  ): Promise<CompletionResponse> | Stream<CompletionChunk, CompletionResponse> {
    if (request.stream) return this.#stream('/completion', request, options, completionAccumulator());
    return this.#json('POST', '/completion', request, options);
  }

  /** POST /v1/chat/completions. With `response_format` JSON, `message.parsed` holds the parsed answer. */
  chat(request: ChatRequest & { stream: true }, options?: RequestOptions): Stream<ChatCompletionChunk, ChatCompletion>;
  chat(request: ChatRequest & { stream?: false }, options?: RequestOptions): Promise<ChatCompletion>;
  chat(request: ChatRequest, options: RequestOptions = {}): Promise<ChatCompletion> | Stream<ChatCompletionChunk, ChatCompletion> {
    const wantsJson = request.response_format?.type === 'json_object' || request.response_format?.type === 'json_schema';
    if (request.stream) {
      const accumulator = chatAccumulator();
      return this.#stream('/v1/chat/completions', request, options, {
        add: (chunk) => accumulator.add(chunk),
        result: () => (wantsJson ? withParsedJson(accumulator.result()) : accumulator.result()),
      });
    }
    const pending = this.#json<ChatCompletion>('POST', '/v1/chat/completions', request, options);
    return wantsJson ? pending.then(withParsedJson) : pending;
  }

  /** POST /v1/completions, or the native /completion reshaped where the server lacks it (llamafile 0.8.x). */
  completions(request: CompletionsRequest & { stream: true }, options?: RequestOptions): Stream<TextCompletionChunk, TextCompletion>;
  completions(request: CompletionsRequest & { stream?: false }, options?: RequestOptions): Promise<TextCompletion>;
  completions(
    request: CompletionsRequest,
    options: RequestOptions = {},
  ): Promise<TextCompletion> | Stream<TextCompletionChunk, TextCompletion> {
    if (request.stream) {
      return new Stream((signal) => this.#completionsStream(request, signal), textCompletionAccumulator());
    }
    return this.#completionsOnce(request, options);
  }

  /** Closes the keep-alive connections. */
  async close(): Promise<void> {
    await this.#agent.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #completionsOnce(request: CompletionsRequest, options: RequestOptions): Promise<TextCompletion> {
    if (!this.#legacyCompletions) {
      try {
        return await this.#json<TextCompletion>('POST', '/v1/completions', request, options);
      } catch (error) {
        if (!isMissingEndpoint(error)) throw error;
        this.#legacyCompletions = true;
      }
    }
    const native = await this.#json<CompletionResponse>('POST', '/completion', toNativeRequest(request), options);
    return toTextCompletion(native, `cmpl-${randomUUID()}`, request.model);
  }

  async *#completionsStream(request: CompletionsRequest, signal: AbortSignal): AsyncGenerator<TextCompletionChunk> {
    if (!this.#legacyCompletions) {
      let started = false;
      try {
        for await (const chunk of this.#events<TextCompletionChunk>('/v1/completions', request, signal)) {
          started = true;
          yield chunk;
        }
        return;
      } catch (error) {
        if (started || !isMissingEndpoint(error)) throw error;
        this.#legacyCompletions = true;
      }
    }
    const id = `cmpl-${randomUUID()}`;
    for await (const frame of this.#events<CompletionChunk>('/completion', toNativeRequest(request), signal)) {
      yield toTextCompletion(frame, id, request.model);
    }
  }

  #stream<TChunk, TFinal>(
    path: string,
    body: unknown,
    options: RequestOptions,
    accumulator: Accumulator<TChunk, TFinal>,
  ): Stream<TChunk, TFinal> {
    const controller = new AbortController();
    const stream = new Stream<TChunk, TFinal>((signal) => this.#events<TChunk>(path, body, signal), accumulator, controller);
    // The caller's signal cancels the stream too.
    if (options.signal) {
      if (options.signal.aborted) controller.abort(options.signal.reason);
      else options.signal.addEventListener('abort', () => controller.abort(options.signal?.reason), { once: true });
    }
    return stream;
  }

  /** Sends a streamed request and yields each SSE `data:` frame parsed; `[DONE]` or the end of the body ends it. */
  async *#events<T>(path: string, body: unknown, signal: AbortSignal): AsyncGenerator<T> {
    const url = `${this.baseUrl}${path}`;
    const response = await this.#send('POST', path, body, signal);
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

  async #json<T>(method: Method, path: string, body: unknown, options: RequestOptions): Promise<T> {
    const response = await this.#send(method, path, body, options.signal);
    const url = `${this.baseUrl}${path}`;
    let text: string;
    try {
      text = await response.body.text();
    } catch (error) {
      throw transportError(error, { url, signal: options.signal, timeoutMs: this.timeoutMs });
    }
    const parsed = parseBody(text);
    if (typeof parsed === 'string') {
      throw new APIError(response.statusCode, `The server answered ${path} with something that is not JSON: ${text.slice(0, 200)}`, text);
    }
    return parsed as T;
  }

  /** One HTTP exchange; a status ≥ 400 becomes a typed APIError carrying the server's message. */
  async #send(
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
  return code === 'UND_ERR_SOCKET' || code === 'ECONNRESET' || code === 'EPIPE';
}

function isMissingEndpoint(error: unknown): boolean {
  return error instanceof APIError && (error.status === 404 || error.status === 405);
}

/** Adds `message.parsed` to each choice; an answer that is not JSON is an error that keeps the completion. */
function withParsedJson(completion: ChatCompletion): ChatCompletion {
  for (const choice of completion.choices) {
    const content = choice.message.content ?? '';
    try {
      choice.message.parsed = JSON.parse(content) as unknown;
    } catch (error) {
      const truncated = choice.finish_reason === 'length';
      throw new APIError(undefined, `The model's answer is not valid JSON${truncated ? ' (it was cut off at max_tokens)' : ''}: ${content.slice(0, 200)}`, completion, {
        cause: error,
        hint: truncated ? 'Raise max_tokens so the JSON can be completed.' : 'Check response_format and the prompt.',
      });
    }
  }
  return completion;
}
