/** Folds streamed chunks into the shape the non-streamed call returns, for `Stream.finalResponse()`. */
import type { Accumulator } from './stream.js';
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatResponseMessage,
  CompletionChunk,
  CompletionResponse,
  FinishReason,
  TextCompletion,
  TextCompletionChunk,
  Timings,
  ToolCall,
  Usage,
} from './types.js';

/**
 * The `usage` and `timings` a final response ends with. A streaming llama.cpp sends `usage` only with
 * `stream_options.include_usage`, but its last chunk always has `timings`: prompt tokens are those processed plus
 * those reused from the cache.
 */
function totals(usage: Usage | undefined, timings: Timings | undefined): { usage?: Usage; timings?: Timings } {
  if (!usage && typeof timings?.prompt_n === 'number' && typeof timings.predicted_n === 'number') {
    const prompt = timings.prompt_n + (typeof timings.cache_n === 'number' ? timings.cache_n : 0);
    usage = { prompt_tokens: prompt, completion_tokens: timings.predicted_n, total_tokens: prompt + timings.predicted_n };
  }
  return { ...(usage ? { usage } : {}), ...(timings ? { timings } : {}) };
}

/** Native /completion: text pieces concatenated, the last frame's stop data and timings kept. */
export function completionAccumulator(): Accumulator<CompletionChunk, CompletionResponse> {
  let final: CompletionResponse = { content: '', stop: false };
  let content = '';
  const tokens: number[] = [];
  return {
    add(chunk) {
      content += chunk.content ?? '';
      if (Array.isArray(chunk.tokens)) tokens.push(...chunk.tokens);
      final = { ...final, ...chunk };
    },
    result() {
      return { ...final, content, ...(tokens.length > 0 ? { tokens } : {}) };
    },
  };
}

/** /v1/chat/completions: deltas merged per choice, tool-call fragments joined by index. */
export function chatAccumulator(): Accumulator<ChatCompletionChunk, ChatCompletion> {
  let head: Pick<ChatCompletion, 'id' | 'created' | 'model'> | undefined;
  const choices = new Map<number, { message: ChatResponseMessage; finish_reason: FinishReason }>();
  let usage: ChatCompletion['usage'];
  let timings: ChatCompletion['timings'];
  return {
    add(chunk) {
      head ??= { id: chunk.id, created: chunk.created, model: chunk.model };
      if (chunk.usage) usage = chunk.usage;
      if (chunk.timings) timings = chunk.timings;
      for (const choice of chunk.choices ?? []) {
        let entry = choices.get(choice.index);
        if (!entry) {
          entry = { message: { role: 'assistant', content: null }, finish_reason: null };
          choices.set(choice.index, entry);
        }
        const { delta } = choice;
        if (typeof delta.content === 'string') entry.message.content = (entry.message.content ?? '') + delta.content;
        if (typeof delta.reasoning_content === 'string') {
          entry.message.reasoning_content = (entry.message.reasoning_content ?? '') + delta.reasoning_content;
        }
        for (const call of delta.tool_calls ?? []) {
          const calls = (entry.message.tool_calls ??= []);
          const existing: ToolCall = (calls[call.index] ??= {
            id: '',
            type: 'function',
            function: { name: '', arguments: '' },
          });
          if (call.id) existing.id = call.id;
          if (call.function?.name) existing.function.name += call.function.name;
          if (call.function?.arguments) existing.function.arguments += call.function.arguments;
        }
        if (choice.finish_reason) entry.finish_reason = choice.finish_reason;
      }
    },
    result() {
      return {
        id: head?.id ?? '',
        object: 'chat.completion',
        created: head?.created ?? Math.floor(Date.now() / 1000),
        model: head?.model ?? '',
        choices: [...choices.entries()]
          .sort(([a], [b]) => a - b)
          .map(([index, entry]) => ({ index, ...entry })),
        ...totals(usage, timings),
      };
    },
  };
}

/** /v1/completions: text pieces concatenated per choice. */
export function textCompletionAccumulator(): Accumulator<TextCompletionChunk, TextCompletion> {
  let last: TextCompletionChunk | undefined;
  const texts = new Map<number, { text: string; finish_reason: FinishReason }>();
  let usage: TextCompletion['usage'];
  let timings: TextCompletion['timings'];
  return {
    add(chunk) {
      last = chunk;
      if (chunk.usage) usage = chunk.usage;
      if (chunk.timings) timings = chunk.timings;
      for (const choice of chunk.choices ?? []) {
        const entry = texts.get(choice.index) ?? { text: '', finish_reason: null };
        entry.text += choice.text ?? '';
        if (choice.finish_reason) entry.finish_reason = choice.finish_reason;
        texts.set(choice.index, entry);
      }
    },
    result() {
      return {
        id: last?.id ?? '',
        object: 'text_completion',
        created: last?.created ?? Math.floor(Date.now() / 1000),
        model: last?.model ?? '',
        choices: [...texts.entries()].sort(([a], [b]) => a - b).map(([index, entry]) => ({ index, ...entry })),
        ...totals(usage, timings),
      };
    },
  };
}
