/**
 * `/v1/completions` on servers that lack it (llamafile 0.8.x): the request goes to the native `/completion` and
 * its answers are reshaped into OpenAI text completions, so callers see one shape whatever the server version.
 */
import type {
  CompletionRequest,
  CompletionResponse,
  CompletionsRequest,
  FinishReason,
  TextCompletion,
} from './types.js';

export function toNativeRequest(request: CompletionsRequest): CompletionRequest {
  const { max_tokens, model: _model, stream_options: _options, ...rest } = request;
  return { ...rest, ...(max_tokens === undefined ? {} : { n_predict: max_tokens }) };
}

/** Why a native completion stopped, in OpenAI's words (null while it is still going). */
export function finishReason(response: CompletionResponse): FinishReason {
  if (!response.stop) return null;
  if (response.stop_type === 'limit' || response.stopped_limit) return 'length';
  if (response.truncated) return 'length';
  return 'stop';
}

/** Reshapes one native answer (whole, or one streamed frame) as a text completion. */
export function toTextCompletion(response: CompletionResponse, id: string, model: string | undefined): TextCompletion {
  const prompt = response.tokens_evaluated;
  const completion = response.tokens_predicted;
  return {
    id,
    object: 'text_completion',
    created: Math.floor(Date.now() / 1000),
    model: response.model ?? model ?? '',
    choices: [{ index: 0, text: response.content ?? '', finish_reason: finishReason(response), logprobs: null }],
    ...(response.stop && prompt !== undefined && completion !== undefined
      ? { usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion } }
      : {}),
    ...(response.timings ? { timings: response.timings } : {}),
  };
}
