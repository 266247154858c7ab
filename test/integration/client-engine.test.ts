/**
 * The client against the REAL engine (llama-server) serving the tiny random-weight model. One server for the
 * file, two slots, small context. The model's text is gibberish, but it is a real model: tokens, sampling, seeds,
 * stop sequences, grammars and slots all behave as they do with a real one.
 */
import { getEventListeners } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LlamafileClient } from '../../src/client/client.js';
import { predict } from '../../src/client/predict.js';
import { AbortError, UsageError } from '../../src/errors.js';
import { startServer, type RunningServer } from '../../src/server/start-server.js';
import { testFixtures } from '../helpers/engine.js';
import { schemaErrors } from '../helpers/json-schema-check.js';

let home: string;
let server: RunningServer;
let client: LlamafileClient;

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'llamactl-client-'));
  const { serverPath, ggufPath } = testFixtures();
  server = await startServer({
    model: ggufPath,
    runtime: serverPath,
    ctxSize: 512,
    parallel: 2,
    threads: 1,
    extraArgs: ['--metrics'],
    env: { ...process.env, LLAMACTL_HOME: home },
  });
  client = server.client;
});

afterAll(async () => {
  await server?.stop();
  await rm(home, { recursive: true, force: true });
});

const user = (content: string) => [{ role: 'user' as const, content }];

describe('endpoints', () => {
  it('health, props, models, slots', async () => {
    expect(await client.health()).toMatchObject({ ok: true, status: 200 });
    const props = await client.props();
    expect(props.total_slots).toBe(2);
    expect(props.default_generation_settings).toBeTypeOf('object');
    const models = await client.models();
    expect(models.object).toBe('list');
    expect(models.data[0]?.id).toBeTypeOf('string');
    const slots = await client.slots();
    expect(slots.map((slot) => slot.id)).toEqual([0, 1]);
  });

  it('tokenize and detokenize round-trip', async () => {
    const { tokens } = await client.tokenize('Hello world');
    expect(tokens.length).toBeGreaterThan(0);
    expect(tokens.every((token) => typeof token === 'number')).toBe(true);
    expect((await client.detokenize(tokens as number[])).content.trim()).toBe('Hello world');
    const pieces = await client.tokenize({ content: 'Hello world', with_pieces: true });
    expect(pieces.tokens.map((token) => (typeof token === 'object' ? token.piece : '')).join('').trim()).toBe('Hello world');
  });

  it('metrics counts the tokens it served', async () => {
    await client.completion({ prompt: 'Count me', n_predict: 2 });
    const metrics = await client.metrics();
    expect(metrics['llamacpp:prompt_tokens_total']).toBeGreaterThan(0);
    expect(metrics['llamacpp:tokens_predicted_total']).toBeGreaterThan(0);
  });

  it('embeddings without --embeddings: a 501 whose message says what to do', async () => {
    await expect(client.embeddings({ input: 'x' })).rejects.toMatchObject({ status: 501, message: expect.stringMatching(/--embeddings/) });
  });
});

describe('generation', () => {
  it('completion, whole and streamed chunk by chunk, gives the same greedy text', async () => {
    const request = { prompt: 'Once upon a time', n_predict: 12, temperature: 0, ignore_eos: true };
    const whole = await client.completion(request);
    expect(whole.tokens_predicted).toBe(12);
    expect(whole.stop_type).toBe('limit');
    const stream = client.completion({ ...request, stream: true });
    const frames: string[] = [];
    for await (const frame of stream) if (!frame.stop) frames.push(frame.content);
    expect(frames.length).toBe(12);
    expect(frames.join('')).toBe(whole.content);
    const final = await stream.finalResponse();
    expect(final.content).toBe(whole.content);
    expect(final.timings?.predicted_n).toBe(12);
  });

  it('a streamed chat\'s final response has the usage the non-streamed call reports, without stream_options', async () => {
    const request = { messages: user('Hi there'), max_tokens: 6, temperature: 0, ignore_eos: true };
    const whole = await client.chat(request);
    const streamed = await client.chat({ ...request, stream: true }).finalResponse();
    expect(whole.usage).toBeDefined();
    expect(streamed.usage).toMatchObject({
      prompt_tokens: whole.usage!.prompt_tokens,
      completion_tokens: whole.usage!.completion_tokens,
      total_tokens: whole.usage!.total_tokens,
    });
  });

  it('chat streams deltas whose sum is the final message, with usage', async () => {
    const stream = client.chat({ messages: user('Hi'), max_tokens: 8, seed: 7, stream: true, stream_options: { include_usage: true } });
    let text = '';
    let chunks = 0;
    for await (const chunk of stream) {
      chunks++;
      text += chunk.choices[0]?.delta.content ?? '';
    }
    const final = await stream.finalResponse();
    expect(chunks).toBeGreaterThan(1);
    expect(final.choices[0]?.message.content).toBe(text);
    expect(final.usage?.completion_tokens).toBeLessThanOrEqual(8);
    expect(final.timings).toBeDefined();
  });

  it('the same seed gives the same text at temperature > 0; another seed does not', async () => {
    const ask = (seed: number) =>
      client.completion({ prompt: 'The weather today', n_predict: 16, temperature: 1.0, seed, ignore_eos: true }).then((r) => r.content);
    const [a, b, c] = [await ask(42), await ask(42), await ask(43)];
    expect(a).toBe(b);
    expect(c).not.toBe(a);
  });

  it('max_tokens bounds the answer and finish_reason says length', async () => {
    const completion = await client.chat({ messages: user('Tell me a story'), max_tokens: 5, ignore_eos: true });
    expect(completion.usage?.completion_tokens).toBe(5);
    expect(completion.choices[0]?.finish_reason).toBe('length');
  });

  it('a stop sequence ends the text just before it', async () => {
    const request = { prompt: 'Stop here', n_predict: 24, temperature: 0, ignore_eos: true };
    const pieces: string[] = [];
    for await (const frame of client.completion({ ...request, stream: true })) if (frame.content) pieces.push(frame.content);
    const full = pieces.join('');
    const stopWord = pieces.slice(4).find((piece) => piece.trim().length >= 2);
    expect(stopWord, `no usable piece in ${JSON.stringify(pieces)}`).toBeDefined();
    const stopped = await client.completion({ ...request, stop: [stopWord!] });
    expect(stopped.stop_type).toBe('word');
    expect(stopped.stopping_word).toBe(stopWord);
    expect(stopped.content).toBe(full.slice(0, full.indexOf(stopWord!)));
  });

  it('v1/completions, whole and streamed', async () => {
    const whole = await client.completions({ prompt: 'Hello', max_tokens: 6, temperature: 0 });
    expect(whole.object).toBe('text_completion');
    const stream = client.completions({ prompt: 'Hello', max_tokens: 6, temperature: 0, stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.text ?? '';
    expect(text).toBe(whole.choices[0]?.text);
  });

  it('JSON-schema mode returns JSON that validates against the schema', async () => {
    const schema = {
      type: 'object',
      properties: { ok: { type: 'boolean' }, n: { type: 'integer', minimum: 0, maximum: 9 }, tag: { type: 'string', maxLength: 6 } },
      required: ['ok', 'n', 'tag'],
      additionalProperties: false,
    };
    for (const seed of [1, 2]) {
      const completion = await client.chat({
        messages: user('Give me JSON'),
        max_tokens: 96,
        seed,
        response_format: { type: 'json_schema', json_schema: { name: 'answer', schema } },
      });
      const message = completion.choices[0]?.message;
      expect(message?.parsed).toEqual(JSON.parse(message?.content ?? ''));
      expect(schemaErrors(schema, message?.parsed)).toEqual([]);
    }
  });

  it('json_object mode returns a JSON object, also through a stream', async () => {
    const stream = client.chat({
      messages: user('JSON please'),
      max_tokens: 64,
      seed: 3,
      response_format: { type: 'json_object', schema: { type: 'object', properties: { a: { type: 'boolean' } }, required: ['a'] } },
      stream: true,
    });
    const final = await stream.finalResponse();
    expect(typeof final.choices[0]?.message.parsed).toBe('object');
  });

  it('tools are passed through (this model has no tool-call template: it answers with plain content)', async () => {
    const completion = await client.chat({
      messages: user('Weather in Paris?'),
      max_tokens: 4,
      tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }],
    });
    expect(completion.choices[0]?.message.role).toBe('assistant');
    expect(completion.choices[0]?.message.tool_calls ?? []).toEqual([]);
  });
});

describe('cancellation', () => {
  it('aborting mid-stream throws AbortError, frees the slot, and the server stays usable', async () => {
    const controller = new AbortController();
    let frames = 0;
    const read = async () => {
      for await (const _ of client.completion({ prompt: 'Go on', n_predict: 400, ignore_eos: true, stream: true }, { signal: controller.signal })) {
        if (++frames === 3) controller.abort();
      }
    };
    await expect(read()).rejects.toBeInstanceOf(AbortError);
    expect(frames).toBe(3);
    await expect.poll(async () => (await client.slots()).some((slot) => slot.is_processing), { timeout: 10_000 }).toBe(false);
    const after = await client.completion({ prompt: 'Still there?', n_predict: 2 });
    expect(after.tokens_predicted).toBeLessThanOrEqual(2);
    const metrics = await client.metrics();
    expect(metrics['llamacpp:requests_processing']).toBe(0);
  });

  it('the caller\'s signal cancels every kind of stream: completion, chat and completions', async () => {
    const long = { n_predict: 400, max_tokens: 400, ignore_eos: true, stream: true } as const;
    const kinds = [
      (signal: AbortSignal) => client.completion({ prompt: 'Go on', ...long }, { signal }),
      (signal: AbortSignal) => client.chat({ messages: user('Go on'), ...long }, { signal }),
      (signal: AbortSignal) => client.completions({ prompt: 'Go on', ...long }, { signal }),
    ];
    for (const open of kinds) {
      const controller = new AbortController();
      let chunks = 0;
      const read = async () => {
        for await (const _ of open(controller.signal)) if (++chunks === 3) controller.abort();
      };
      await expect(read()).rejects.toBeInstanceOf(AbortError);
      expect(chunks).toBe(3);
      await expect.poll(async () => (await client.slots()).some((slot) => slot.is_processing), { timeout: 10_000 }).toBe(false);
    }
  });

  it('streams read to the end leave no listener on the caller\'s signal', async () => {
    const controller = new AbortController();
    for (let i = 0; i < 12; i++) {
      await client.chat({ messages: user('Hi'), max_tokens: 1, stream: true }, { signal: controller.signal }).finalResponse();
      await client.completions({ prompt: 'Hi', max_tokens: 1, stream: true }, { signal: controller.signal }).finalResponse();
    }
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('breaking out of the loop aborts the request the same way', async () => {
    for await (const _ of client.completion({ prompt: 'Go on', n_predict: 400, ignore_eos: true, stream: true })) break;
    await expect.poll(async () => (await client.slots()).some((slot) => slot.is_processing), { timeout: 10_000 }).toBe(false);
  });
});

describe('predict', () => {
  it('returns output, tokens and server metrics', async () => {
    const seen: string[] = [];
    const prediction = await predict(
      client,
      { prompt: 'Hi', system_prompt: 'Be brief.', prompt_template: 'chatml', max_tokens: 6, seed: 5, temperature: 0.7 },
      { onToken: (text) => seen.push(text) },
    );
    expect(prediction.status).toBe('succeeded');
    expect(prediction.tokens).toEqual(seen);
    expect(prediction.output).toBe(seen.join(''));
    expect(prediction.metrics.source).toBe('server');
    expect(prediction.metrics.output_token_count).toBeLessThanOrEqual(6);
    expect(prediction.metrics.input_token_count).toBeGreaterThan(5);
    expect(prediction.metrics.tokens_per_second).toBeGreaterThan(0);
    // Wall-clock, as Replicate reports it: never more than the whole prediction took.
    expect(prediction.metrics.time_to_first_token).toBeGreaterThan(0);
    expect(prediction.metrics.time_to_first_token).toBeLessThanOrEqual(prediction.metrics.total_time);
  });

  it('min_tokens is honoured: end-of-sequence and stop sequences wait until then', async () => {
    const prediction = await predict(client, { prompt: 'Hi', min_tokens: 10, max_tokens: 12, temperature: 0 });
    expect(prediction.metrics.output_token_count).toBeGreaterThanOrEqual(10);
    expect(prediction.metrics.output_token_count).toBeLessThanOrEqual(12);
  });

  it('rejects what it cannot honour', async () => {
    await expect(predict(client, { prompt: 'x', top_a: 1 } as never)).rejects.toThrow(/Unknown prediction input "top_a"/);
    await expect(predict(client, { prompt: 'x', min_tokens: 9, max_tokens: 4 })).rejects.toBeInstanceOf(UsageError);
    await expect(predict(client, { prompt: 'x', system_prompt: 'y' })).rejects.toThrow(/prompt_template/);
    await expect(predict(client, { prompt: 'x', system_prompt: 'y', prompt_template: 'Q: {prompt} A:' })).rejects.toThrow(/no \{system_prompt\} placeholder/);
    await expect(predict(client, { prompt: 'x', stop: 5 } as never)).rejects.toThrow(/stop must be a string/);
    await expect(predict(client, { prompt: 'x', temperature: '0.5' } as never)).rejects.toThrow(/temperature must be a number/);
    await expect(predict(client, { prompt: 'x', presence_penalty: Number.NaN })).rejects.toBeInstanceOf(UsageError);
  });
});

describe('the official openai package against the served model', () => {
  it('chat, whole and streamed, gives what our client gives', async () => {
    const openai = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused' });
    const params = { model: 'tiny', messages: user('Hello there'), max_tokens: 8, temperature: 0 };
    const ours = await client.chat(params);
    const theirs = await openai.chat.completions.create(params);
    expect(theirs.choices[0]?.message.content).toBe(ours.choices[0]?.message.content);
    const stream = await openai.chat.completions.create({ ...params, stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe(ours.choices[0]?.message.content);
  });
});
