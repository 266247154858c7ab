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
import { APIError } from '../errors.js';
import { chatAccumulator, completionAccumulator, textCompletionAccumulator } from './accumulate.js';
import { parseBody } from './api-errors.js';
import { toNativeRequest, toTextCompletion } from './legacy-completions.js';
import { messageAccumulator, type CountTokensResponse, type Message, type MessagesRequest, type MessageStreamEvent } from './messages.js';
import { parsePrometheus } from './metrics.js';
import { Stream, type Accumulator } from './stream.js';
import { Transport } from './transport.js';
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

export class LlamafileClient {
  readonly baseUrl: string;
  readonly apiKey: string | undefined;
  readonly timeoutMs: number;
  readonly #http: Transport;
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
    this.#http = new Transport({ baseUrl: this.baseUrl, apiKey, timeoutMs, connections });
  }

  /** GET /health. Resolves with ok=false on 503 (loading); throws ConnectionError when nothing answers. */
  async health(options: RequestOptions = {}): Promise<HealthStatus> {
    const response = await this.#http.send('GET', '/health', undefined, options.signal, { allowErrors: true });
    const body = parseBody(await response.body.text());
    return { ok: response.statusCode === 200, status: response.statusCode, body };
  }

  /** GET /props: the server's settings (context size, slots, chat template, default sampling). */
  props(options: RequestOptions = {}): Promise<Props> {
    return this.#http.json('GET', '/props', undefined, options.signal);
  }

  /** GET /v1/models: the model this server serves (one entry). */
  models(options: RequestOptions = {}): Promise<ModelList> {
    return this.#http.json('GET', '/v1/models', undefined, options.signal);
  }

  /** GET /slots: what each slot is doing (needs a server started with slots enabled, the upstream default). */
  slots(options: RequestOptions = {}): Promise<Slot[]> {
    return this.#http.json('GET', '/slots', undefined, options.signal);
  }

  /** GET /metrics parsed into numbers (needs a server started with `--metrics`). */
  async metrics(options: RequestOptions = {}): Promise<Metrics> {
    const response = await this.#http.send('GET', '/metrics', undefined, options.signal);
    return parsePrometheus(await response.body.text());
  }

  /** POST /tokenize. Through a gateway, name the model (`{ content, model }`, or `options.model`). */
  tokenize(request: string | TokenizeRequest, options: RequestOptions & { model?: string } = {}): Promise<TokenizeResponse> {
    const body = { ...(typeof request === 'string' ? { content: request } : request), ...(options.model ? { model: options.model } : {}) };
    return this.#http.json('POST', '/tokenize', body, options.signal);
  }

  /** POST /detokenize. Through a gateway, name the model in `options.model`. */
  detokenize(tokens: readonly number[], options: RequestOptions & { model?: string } = {}): Promise<DetokenizeResponse> {
    return this.#http.json('POST', '/detokenize', { tokens, ...(options.model ? { model: options.model } : {}) }, options.signal);
  }

  /**
   * POST /v1/messages, Anthropic's Messages API. `stream: true` returns a Stream of its named events
   * (`message_start`, `content_block_delta`, …, `message_stop`); `finalResponse()` folds them into the message.
   */
  messages(request: MessagesRequest & { stream: true }, options?: RequestOptions): Stream<MessageStreamEvent, Message>;
  messages(request: MessagesRequest & { stream?: false }, options?: RequestOptions): Promise<Message>;
  messages(request: MessagesRequest, options: RequestOptions = {}): Promise<Message> | Stream<MessageStreamEvent, Message> {
    if (request.stream) return this.#stream('/v1/messages', request, options, messageAccumulator());
    return this.#http.json('POST', '/v1/messages', request, options.signal);
  }

  /** POST /v1/messages/count_tokens: the prompt's size in tokens, as the model's template renders it. */
  countMessageTokens(request: Omit<MessagesRequest, 'max_tokens' | 'stream'>, options: RequestOptions = {}): Promise<CountTokensResponse> {
    return this.#http.json('POST', '/v1/messages/count_tokens', request, options.signal);
  }

  /** POST /v1/embeddings (needs a server started with `--embeddings`). */
  embeddings(request: EmbeddingsRequest, options: RequestOptions = {}): Promise<EmbeddingsResponse> {
    return this.#http.json('POST', '/v1/embeddings', request, options.signal);
  }

  /** POST /completion, the native API. `stream: true` returns a Stream of frames (the last has `stop: true`). */
  completion(request: CompletionRequest & { stream: true }, options?: RequestOptions): Stream<CompletionChunk, CompletionResponse>;
  completion(request: CompletionRequest & { stream?: false }, options?: RequestOptions): Promise<CompletionResponse>;
  completion(request: CompletionRequest, options?: RequestOptions): Promise<CompletionResponse> | Stream<CompletionChunk, CompletionResponse>;
  completion(
    request: CompletionRequest,
    options: RequestOptions = {},
  ): Promise<CompletionResponse> | Stream<CompletionChunk, CompletionResponse> {
    if (request.stream) return this.#stream('/completion', request, options, completionAccumulator());
    return this.#http.json('POST', '/completion', request, options.signal);
  }

  /** POST /v1/chat/completions. With `response_format` JSON, `message.parsed` holds the parsed answer. */
  chat(request: ChatRequest & { stream: true }, options?: RequestOptions): Stream<ChatCompletionChunk, ChatCompletion>;
  chat(request: ChatRequest & { stream?: false }, options?: RequestOptions): Promise<ChatCompletion>;
  chat(request: ChatRequest, options?: RequestOptions): Promise<ChatCompletion> | Stream<ChatCompletionChunk, ChatCompletion>;
  chat(request: ChatRequest, options: RequestOptions = {}): Promise<ChatCompletion> | Stream<ChatCompletionChunk, ChatCompletion> {
    const wantsJson = request.response_format?.type === 'json_object' || request.response_format?.type === 'json_schema';
    if (request.stream) {
      const accumulator = chatAccumulator();
      return this.#stream('/v1/chat/completions', request, options, {
        add: (chunk) => accumulator.add(chunk),
        result: () => (wantsJson ? withParsedJson(accumulator.result()) : accumulator.result()),
      });
    }
    const pending = this.#http.json<ChatCompletion>('POST', '/v1/chat/completions', request, options.signal);
    return wantsJson ? pending.then(withParsedJson) : pending;
  }

  /** POST /v1/completions, or the native /completion reshaped where the server lacks it (llamafile 0.8.x). */
  completions(request: CompletionsRequest & { stream: true }, options?: RequestOptions): Stream<TextCompletionChunk, TextCompletion>;
  completions(request: CompletionsRequest & { stream?: false }, options?: RequestOptions): Promise<TextCompletion>;
  completions(request: CompletionsRequest, options?: RequestOptions): Promise<TextCompletion> | Stream<TextCompletionChunk, TextCompletion>;
  completions(
    request: CompletionsRequest,
    options: RequestOptions = {},
  ): Promise<TextCompletion> | Stream<TextCompletionChunk, TextCompletion> {
    if (request.stream) {
      return new Stream((signal) => this.#completionsStream(request, signal), textCompletionAccumulator(), { signal: options.signal });
    }
    return this.#completionsOnce(request, options);
  }

  /** Closes the keep-alive connections. */
  async close(): Promise<void> {
    await this.#http.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #completionsOnce(request: CompletionsRequest, options: RequestOptions): Promise<TextCompletion> {
    if (!this.#legacyCompletions) {
      try {
        return await this.#http.json<TextCompletion>('POST', '/v1/completions', request, options.signal);
      } catch (error) {
        if (!isMissingEndpoint(error)) throw error;
        this.#legacyCompletions = true;
      }
    }
    const native = await this.#http.json<CompletionResponse>('POST', '/completion', toNativeRequest(request), options.signal);
    return toTextCompletion(native, `cmpl-${randomUUID()}`, request.model);
  }

  async *#completionsStream(request: CompletionsRequest, signal: AbortSignal): AsyncGenerator<TextCompletionChunk> {
    if (!this.#legacyCompletions) {
      let started = false;
      try {
        for await (const chunk of this.#http.events<TextCompletionChunk>('/v1/completions', request, signal)) {
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
    for await (const frame of this.#http.events<CompletionChunk>('/completion', toNativeRequest(request), signal)) {
      yield toTextCompletion(frame, id, request.model);
    }
  }

  #stream<TChunk, TFinal>(
    path: string,
    body: unknown,
    options: RequestOptions,
    accumulator: Accumulator<TChunk, TFinal>,
  ): Stream<TChunk, TFinal> {
    return new Stream<TChunk, TFinal>((signal) => this.#http.events<TChunk>(path, body, signal), accumulator, { signal: options.signal });
  }
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
