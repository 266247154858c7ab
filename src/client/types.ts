/**
 * Request and response types for the llamafile / llama.cpp server API. Field names are the wire names. Servers
 * differ by version (old llamafile 0.8.x vs. upstream llama.cpp / llamafile 0.10): fields only one of them sends
 * are optional. Unknown fields are kept on the objects as they came.
 */

// ---------------------------------------------------------------------------------------------------------------
// Shared

/** Per-request options every endpoint takes. */
export interface RequestOptions {
  /** Cancels the request (and, for streams, frees the server's slot). */
  signal?: AbortSignal | undefined;
}

/** The server's own timings (upstream on the final completion / chat chunk; LF 0.8.x on /completion). */
export interface Timings {
  cache_n?: number;
  prompt_n: number;
  prompt_ms: number;
  prompt_per_token_ms?: number;
  prompt_per_second: number;
  predicted_n: number;
  predicted_ms: number;
  predicted_per_token_ms?: number;
  predicted_per_second: number;
  [key: string]: unknown;
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  [key: string]: unknown;
}

/** Sampling parameters shared by /completion and the OpenAI-style endpoints. */
export interface SamplingParams {
  temperature?: number;
  top_p?: number;
  top_k?: number;
  min_p?: number;
  /** Stop sequences; the text stops before the first one. */
  stop?: string | string[];
  /** Same seed + same prompt + same params → same text, also at temperature > 0. -1 = random. */
  seed?: number;
  presence_penalty?: number;
  frequency_penalty?: number;
  repeat_penalty?: number;
  /** GBNF grammar the output must match. */
  grammar?: string;
  /** Keep generating past end-of-sequence (used to honour `min_tokens`). */
  ignore_eos?: boolean;
  cache_prompt?: boolean;
}

// ---------------------------------------------------------------------------------------------------------------
// /health, /props, /v1/models, /slots, /tokenize, /detokenize

export interface HealthStatus {
  /** true when the server answered 200. */
  ok: boolean;
  status: number;
  body: unknown;
}

export interface Props {
  default_generation_settings?: Record<string, unknown>;
  total_slots?: number;
  model_path?: string;
  chat_template?: string;
  build_info?: string;
  [key: string]: unknown;
}

export interface Model {
  id: string;
  object: 'model';
  created?: number;
  owned_by?: string;
  meta?: Record<string, unknown>;
  [key: string]: unknown;
}

export interface ModelList {
  object: 'list';
  data: Model[];
  [key: string]: unknown;
}

export interface Slot {
  id: number;
  n_ctx?: number;
  is_processing?: boolean;
  [key: string]: unknown;
}

export interface TokenizeRequest {
  content: string;
  /** The model's name on a gateway (a single engine ignores it). */
  model?: string;
  /** Add BOS etc. @default false */
  add_special?: boolean;
  /** Return `{ id, piece }` objects instead of bare ids. @default false */
  with_pieces?: boolean;
}

export interface TokenPiece {
  id: number;
  /** The text, or its bytes when they are not valid UTF-8 on their own. */
  piece: string | number[];
}

export interface TokenizeResponse {
  tokens: number[] | TokenPiece[];
}

export interface DetokenizeResponse {
  content: string;
}

// ---------------------------------------------------------------------------------------------------------------
// Native /completion

export interface CompletionRequest extends SamplingParams {
  /** Text, token ids, or a mix of both. */
  prompt: string | Array<string | number>;
  /** Tokens to generate; -1 = until EOS or the context is full. */
  n_predict?: number;
  n_probs?: number;
  /** JSON schema the output must match (turned into a grammar by the server). */
  json_schema?: Record<string, unknown>;
  /** Return the generated token ids in `tokens`. */
  return_tokens?: boolean;
  stream?: boolean;
  [key: string]: unknown;
}

export type StopType = 'none' | 'eos' | 'limit' | 'word';

export interface CompletionResponse {
  content: string;
  /** Generated token ids (upstream, with `return_tokens`). */
  tokens?: number[];
  stop: boolean;
  model?: string;
  /** Upstream. */
  id_slot?: number;
  /** LF 0.8.x. */
  slot_id?: number;
  tokens_predicted?: number;
  tokens_evaluated?: number;
  tokens_cached?: number;
  truncated?: boolean;
  /** Upstream; LF 0.8.x sends the three booleans below instead. */
  stop_type?: StopType;
  stopped_eos?: boolean;
  stopped_word?: boolean;
  stopped_limit?: boolean;
  stopping_word?: string;
  timings?: Timings;
  [key: string]: unknown;
}

/** One streamed /completion frame; the last has `stop: true` and the timings. */
export type CompletionChunk = CompletionResponse;

// ---------------------------------------------------------------------------------------------------------------
// OpenAI-style /v1/chat/completions

export interface ToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

export type ContentPart = { type: 'text'; text: string } | { type: 'image_url'; image_url: { url: string } };

export type ChatMessage =
  | { role: 'system'; content: string }
  | { role: 'user'; content: string | ContentPart[] }
  | { role: 'assistant'; content: string | null; tool_calls?: ToolCall[] }
  | { role: 'tool'; content: string; tool_call_id: string };

export interface Tool {
  type: 'function';
  function: { name: string; description?: string; parameters?: Record<string, unknown> };
}

export type ToolChoice = 'none' | 'auto' | 'required' | { type: 'function'; function: { name: string } };

export type ResponseFormat =
  | { type: 'text' }
  | { type: 'json_object'; schema?: Record<string, unknown> }
  | { type: 'json_schema'; json_schema: { name?: string; schema: Record<string, unknown>; strict?: boolean } };

export interface ChatRequest extends SamplingParams {
  messages: ChatMessage[];
  /** Echoed back; the server serves the model it was started with. */
  model?: string;
  max_tokens?: number;
  response_format?: ResponseFormat;
  tools?: Tool[];
  tool_choice?: ToolChoice;
  stream?: boolean;
  stream_options?: { include_usage?: boolean };
  [key: string]: unknown;
}

export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter' | null;

export interface ChatResponseMessage {
  role: 'assistant';
  content: string | null;
  reasoning_content?: string;
  tool_calls?: ToolCall[];
  /** Set by the client when `response_format` asked for JSON: `content` parsed. */
  parsed?: unknown;
}

export interface ChatCompletion {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  choices: Array<{ index: number; message: ChatResponseMessage; finish_reason: FinishReason }>;
  usage?: Usage;
  timings?: Timings;
  [key: string]: unknown;
}

export interface ToolCallDelta {
  index: number;
  id?: string;
  type?: 'function';
  function?: { name?: string; arguments?: string };
}

export interface ChatCompletionChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  choices: Array<{
    index: number;
    delta: { role?: 'assistant'; content?: string | null; reasoning_content?: string; tool_calls?: ToolCallDelta[] };
    finish_reason: FinishReason;
  }>;
  usage?: Usage;
  timings?: Timings;
  [key: string]: unknown;
}

// ---------------------------------------------------------------------------------------------------------------
// OpenAI-style /v1/completions

export interface CompletionsRequest extends SamplingParams {
  prompt: string;
  model?: string;
  max_tokens?: number;
  stream?: boolean;
  [key: string]: unknown;
}

export interface TextCompletion {
  id: string;
  object: 'text_completion';
  created: number;
  model: string;
  choices: Array<{ index: number; text: string; finish_reason: FinishReason; logprobs?: unknown }>;
  usage?: Usage;
  timings?: Timings;
  [key: string]: unknown;
}

/** Streamed /v1/completions frames have the same shape as the whole response, one piece of text each. */
export type TextCompletionChunk = TextCompletion;

// ---------------------------------------------------------------------------------------------------------------
// /v1/embeddings

export interface EmbeddingsRequest {
  input: string | string[];
  model?: string;
  encoding_format?: 'float';
}

export interface EmbeddingsResponse {
  object: 'list';
  model: string;
  data: Array<{ object: 'embedding'; index: number; embedding: number[] }>;
  usage?: { prompt_tokens: number; total_tokens: number };
}

// ---------------------------------------------------------------------------------------------------------------
// /metrics

/** Prometheus text parsed into numbers: `{ 'llamacpp:prompt_tokens_total': 42, … }` (labels kept in the key). */
export type Metrics = Record<string, number>;
