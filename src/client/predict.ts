/**
 * Replicate-style predictions against a llamafile server: `prompt` (+ `system_prompt` and `prompt_template`) in,
 * the text, its token pieces and metrics out. Runs on the native `/completion` stream.
 */
import { randomUUID } from 'node:crypto';
import { UsageError } from '../errors.js';
import type { LlamafileClient } from './client.js';
import { finishReason } from './legacy-completions.js';
import { renderPrompt, resolveTemplate } from './prompt-templates.js';
import type { CompletionRequest, CompletionResponse, FinishReason, RequestOptions } from './types.js';

export interface PredictionInput {
  prompt: string;
  system_prompt?: string;
  /** `llama3` (3.1), `llama2`, `chatml`, or a custom template containing `{prompt}`. Without it the prompt is sent as is. */
  prompt_template?: string;
  /** @default 512 */
  max_tokens?: number;
  /** Generate at least this many tokens (end-of-sequence and stop sequences are ignored until then). @default 0 */
  min_tokens?: number;
  temperature?: number;
  top_p?: number;
  top_k?: number;
  stop?: string | string[];
  seed?: number;
  presence_penalty?: number;
  frequency_penalty?: number;
}

export interface PredictionMetrics {
  input_token_count: number | null;
  output_token_count: number;
  /** Seconds from the request to the first piece of text, as the client saw it (the server's prompt time if none came). */
  time_to_first_token: number | null;
  tokens_per_second: number | null;
  /** Seconds spent evaluating the prompt and generating. */
  predict_time: number;
  /** Seconds from the request to the last token, as seen by the client. */
  total_time: number;
  /** `server` when token counts and speed come from the server's own timings, `client` when measured here. */
  source: 'server' | 'client';
}

export interface Prediction {
  id: string;
  status: 'succeeded';
  input: PredictionInput;
  /** The generated text. */
  output: string;
  /**
   * The text as it was streamed, usually one piece per token. Text the server holds back while it checks for a stop
   * sequence arrives later in one piece (or is cut), so `output_token_count` (what the engine generated) can differ.
   */
  tokens: string[];
  stop_reason: FinishReason;
  metrics: PredictionMetrics;
  created_at: string;
  completed_at: string;
}

export interface PredictOptions extends RequestOptions {
  /** Called with each piece of text as it arrives. */
  onToken?: (text: string) => void;
}

const KNOWN_INPUTS = new Set<string>([
  'prompt', 'system_prompt', 'prompt_template', 'max_tokens', 'min_tokens', 'temperature', 'top_p', 'top_k', 'stop',
  'seed', 'presence_penalty', 'frequency_penalty',
]);

const NUMERIC_INPUTS = [
  'max_tokens', 'min_tokens', 'temperature', 'top_p', 'top_k', 'seed', 'presence_penalty', 'frequency_penalty',
] as const satisfies readonly (keyof PredictionInput)[];

/** Runs one prediction. Unknown or impossible parameters are rejected with a UsageError, never dropped. */
export async function predict(client: LlamafileClient, input: PredictionInput, options: PredictOptions = {}): Promise<Prediction> {
  validate(input);
  const createdAt = new Date();
  const started = performance.now();
  const template = input.prompt_template === undefined ? undefined : resolveTemplate(input.prompt_template);
  const prompt = template ? renderPrompt(template, input) : input.prompt;
  const { max_tokens = 512, min_tokens = 0 } = input;
  const stop = [...(typeof input.stop === 'string' ? [input.stop] : (input.stop ?? [])), ...(template?.stop ?? [])];
  const base: CompletionRequest = {
    prompt,
    cache_prompt: true,
    return_tokens: true,
    ...pick(input, ['temperature', 'top_p', 'top_k', 'seed', 'presence_penalty', 'frequency_penalty']),
  };

  const tokens: string[] = [];
  let firstTokenAt: number | undefined;
  const phases: CompletionResponse[] = [];
  const run = async (request: CompletionRequest) => {
    const stream = client.completion({ ...request, stream: true }, options);
    for await (const chunk of stream) {
      if (chunk.content) {
        firstTokenAt ??= performance.now();
        tokens.push(chunk.content);
        options.onToken?.(chunk.content);
      }
    }
    const final = await stream.finalResponse();
    phases.push(final);
    return final;
  };

  // min_tokens, honestly: first generate min_tokens with end-of-sequence ignored and no stop sequences, then carry on
  // from exactly those tokens (the prompt cache keeps it cheap) with the usual stop conditions.
  let last: CompletionResponse;
  if (min_tokens > 0) {
    const first = await run({ ...base, n_predict: min_tokens, ignore_eos: true });
    const rest = max_tokens - min_tokens;
    const continued = first.tokens && first.tokens.length > 0 ? [prompt, ...first.tokens] : prompt + first.content;
    last = rest > 0 ? await run({ ...base, prompt: continued, n_predict: rest, stop }) : first;
  } else {
    last = await run({ ...base, n_predict: max_tokens, ...(stop.length > 0 ? { stop } : {}) });
  }
  const ended = performance.now();

  return {
    id: randomUUID(),
    status: 'succeeded',
    input,
    output: tokens.join(''),
    tokens,
    stop_reason: finishReason(last),
    metrics: metricsOf(phases, tokens.length, { started, firstTokenAt, ended }),
    created_at: createdAt.toISOString(),
    completed_at: new Date().toISOString(),
  };
}

/** Server timings where every phase has them, else what the client saw. */
function metricsOf(
  phases: readonly CompletionResponse[],
  pieces: number,
  clock: { started: number; firstTokenAt: number | undefined; ended: number },
): PredictionMetrics {
  const totalTime = (clock.ended - clock.started) / 1000;
  const sum = (value: (phase: CompletionResponse) => number | undefined) =>
    phases.every((phase) => value(phase) !== undefined) ? phases.reduce((total, phase) => total + (value(phase) ?? 0), 0) : undefined;
  const first = phases[0];
  const inputTokens = first?.tokens_evaluated ?? (first?.timings ? first.timings.prompt_n + (first.timings.cache_n ?? 0) : undefined);
  const outputTokens = sum((phase) => phase.tokens_predicted ?? phase.timings?.predicted_n);
  const promptMs = first?.timings?.prompt_ms;
  const predictedMs = sum((phase) => phase.timings?.predicted_ms);
  const allPromptMs = sum((phase) => phase.timings?.prompt_ms) ?? 0;
  if (promptMs !== undefined && predictedMs !== undefined && outputTokens !== undefined) {
    return {
      input_token_count: inputTokens ?? null,
      output_token_count: outputTokens,
      time_to_first_token: clock.firstTokenAt === undefined ? promptMs / 1000 : (clock.firstTokenAt - clock.started) / 1000,
      tokens_per_second: predictedMs > 0 ? (outputTokens / predictedMs) * 1000 : null,
      predict_time: (allPromptMs + predictedMs) / 1000,
      total_time: totalTime,
      source: 'server',
    };
  }
  const generating = clock.firstTokenAt === undefined ? 0 : (clock.ended - clock.firstTokenAt) / 1000;
  const count = outputTokens ?? pieces;
  return {
    input_token_count: inputTokens ?? null,
    output_token_count: count,
    time_to_first_token: clock.firstTokenAt === undefined ? null : (clock.firstTokenAt - clock.started) / 1000,
    tokens_per_second: generating > 0 && count > 1 ? (count - 1) / generating : null,
    predict_time: totalTime,
    total_time: totalTime,
    source: 'client',
  };
}

function validate(input: PredictionInput): void {
  const unknown = Object.keys(input).filter((key) => !KNOWN_INPUTS.has(key));
  if (unknown.length > 0) {
    throw new UsageError(`Unknown prediction input ${unknown.map((key) => JSON.stringify(key)).join(', ')}.`, {
      hint: `Known inputs: ${[...KNOWN_INPUTS].join(', ')}.`,
    });
  }
  if (typeof input.prompt !== 'string') throw new UsageError('prompt must be a string.');
  if (input.system_prompt !== undefined && input.prompt_template === undefined) {
    throw new UsageError('system_prompt needs a prompt_template to go into.', {
      hint: 'Pass prompt_template: llama3, llama2, chatml, or your own with {system_prompt} and {prompt}.',
    });
  }
  if (input.system_prompt && input.prompt_template !== undefined && !resolveTemplate(input.prompt_template).template.includes('{system_prompt}')) {
    throw new UsageError('system_prompt was given, but the prompt template has no {system_prompt} placeholder for it.', {
      hint: 'Add {system_prompt} to the template, or leave system_prompt out.',
    });
  }
  for (const key of NUMERIC_INPUTS) {
    const value = input[key];
    if (value !== undefined && (typeof value !== 'number' || !Number.isFinite(value))) {
      throw new UsageError(`${key} must be a number, got ${JSON.stringify(value)}.`);
    }
  }
  const stops = typeof input.stop === 'string' ? [input.stop] : input.stop;
  if (stops !== undefined && !(Array.isArray(stops) && stops.every((stop) => typeof stop === 'string' && stop !== ''))) {
    throw new UsageError(`stop must be a string or an array of non-empty strings, got ${JSON.stringify(input.stop)}.`);
  }
  const { max_tokens = 512, min_tokens = 0 } = input;
  if (!Number.isInteger(max_tokens) || max_tokens < 1) throw new UsageError(`max_tokens must be a positive integer, got ${max_tokens}.`);
  if (!Number.isInteger(min_tokens) || min_tokens < 0 || min_tokens > max_tokens) {
    throw new UsageError(`min_tokens must be an integer from 0 to max_tokens (${max_tokens}), got ${min_tokens}.`);
  }
  if (input.temperature !== undefined && !(input.temperature >= 0)) throw new UsageError(`temperature must be ≥ 0, got ${input.temperature}.`);
  if (input.top_p !== undefined && !(input.top_p > 0 && input.top_p <= 1)) throw new UsageError(`top_p must be in (0, 1], got ${input.top_p}.`);
  if (input.top_k !== undefined && !(Number.isInteger(input.top_k) && input.top_k >= 0)) throw new UsageError(`top_k must be an integer ≥ 0, got ${input.top_k}.`);
  if (input.seed !== undefined && !Number.isInteger(input.seed)) throw new UsageError(`seed must be an integer, got ${input.seed}.`);
}

function pick<T extends object, K extends keyof T>(value: T, keys: readonly K[]): Partial<Pick<T, K>> {
  const picked: Partial<Pick<T, K>> = {};
  for (const key of keys) if (value[key] !== undefined) picked[key] = value[key];
  return picked;
}
