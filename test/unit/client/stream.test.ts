import { describe, expect, expectTypeOf, it } from 'vitest';
import { chatAccumulator, completionAccumulator } from '../../../src/client/accumulate.js';
import { Stream } from '../../../src/client/stream.js';
import type { ChatCompletion, ChatCompletionChunk } from '../../../src/client/types.js';
import { ClientError } from '../../../src/errors.js';

function chunk(delta: ChatCompletionChunk['choices'][number]['delta'], finish: ChatCompletionChunk['choices'][number]['finish_reason'] = null): ChatCompletionChunk {
  return { id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta, finish_reason: finish }] };
}

describe('Stream', () => {
  it('yields the chunks and then the aggregate', async () => {
    const stream = new Stream(async function* () {
      yield chunk({ role: 'assistant' });
      yield chunk({ content: 'Hel' });
      yield chunk({ content: 'lo' });
      yield { ...chunk({}, 'stop'), usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 } };
    }, chatAccumulator());
    const pieces: string[] = [];
    for await (const c of stream) pieces.push(c.choices[0]?.delta.content ?? '');
    expect(pieces.join('')).toBe('Hello');
    const final = await stream.finalResponse();
    expect(final.choices).toEqual([{ index: 0, message: { role: 'assistant', content: 'Hello' }, finish_reason: 'stop' }]);
    expect(final.usage?.total_tokens).toBe(5);
  });

  it('aborts its request when the loop is left early, and can be read only once', async () => {
    let sawAbort = false;
    const stream = new Stream(async function* (signal) {
      signal.addEventListener('abort', () => (sawAbort = true));
      for (let i = 0; ; i++) yield chunk({ content: String(i) });
    }, chatAccumulator());
    for await (const c of stream) if (c.choices[0]?.delta.content === '3') break;
    expect(sawAbort).toBe(true);
    expect(stream.controller.signal.aborted).toBe(true);
    await expect(stream.finalResponse()).rejects.toThrow(/did not finish/);
    await expect(async () => {
      for await (const _ of stream) {
        // unreachable
      }
    }).rejects.toThrow(ClientError);
  });

  it('finalResponse() reads an unread stream to its end', async () => {
    const stream = new Stream(async function* () {
      yield { content: 'a', stop: false };
      yield { content: 'b', stop: false, tokens: [1, 2] };
      yield { content: '', stop: true, stop_type: 'limit' as const, tokens_predicted: 2 };
    }, completionAccumulator());
    expect(await stream.finalResponse()).toMatchObject({ content: 'ab', stop: true, stop_type: 'limit', tokens: [1, 2] });
  });
});

describe('chatAccumulator', () => {
  it('joins tool-call fragments by index', () => {
    const accumulator = chatAccumulator();
    accumulator.add(chunk({ role: 'assistant', tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'get_', arguments: '' } }] }));
    accumulator.add(chunk({ tool_calls: [{ index: 0, function: { name: 'weather', arguments: '{"city":' } }] }));
    accumulator.add(chunk({ tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }, { index: 1, id: 'call_2', function: { name: 'now', arguments: '{}' } }] }));
    accumulator.add(chunk({}, 'tool_calls'));
    const result = accumulator.result();
    expect(result.choices[0]?.finish_reason).toBe('tool_calls');
    expect(result.choices[0]?.message.tool_calls).toEqual([
      { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
      { id: 'call_2', type: 'function', function: { name: 'now', arguments: '{}' } },
    ]);
  });
});

describe('typed overloads', () => {
  it('a literal `stream: true` selects the Stream return type, otherwise a Promise (checked by tsc)', async () => {
    const { LlamafileClient } = await import('../../../src/client/client.js');
    const client = new LlamafileClient({ baseUrl: 'http://127.0.0.1:9' });
    const streamed = () => client.chat({ messages: [], stream: true });
    const whole = () => client.chat({ messages: [] });
    const either = (stream: boolean) => client.chat({ messages: [], stream });
    expectTypeOf<ReturnType<typeof streamed>>().toEqualTypeOf<Stream<ChatCompletionChunk, ChatCompletion>>();
    expectTypeOf<ReturnType<typeof whole>>().toEqualTypeOf<Promise<ChatCompletion>>();
    expectTypeOf<ReturnType<typeof either>>().toEqualTypeOf<Promise<ChatCompletion> | Stream<ChatCompletionChunk, ChatCompletion>>();
    await client.close();
  });
});
