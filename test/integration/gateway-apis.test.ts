/**
 * Every API the engine speaks, through the gateway, with the official clients unchanged but for base URL and key,
 * against the REAL engine: Anthropic's Messages API (`@anthropic-ai/sdk`: plain, streamed, count_tokens, tools,
 * errors), OpenAI's Responses API (`openai`, and the Vercel AI SDK's `streamText`, which uses it), rerank,
 * tokenize → detokenize (the typed client), token counters, and cancel / disconnect freeing the engine's slot on the
 * new routes.
 */
import Anthropic from '@anthropic-ai/sdk';
import { createOpenAI } from '@ai-sdk/openai';
import { streamText } from 'ai';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { LlamafileClient } from '../../src/client/client.js';
import { messageText } from '../../src/client/messages.js';
import type { Gateway } from '../../src/gateway/start-gateway.js';
import { engineAccess, eventually, gatewayFixture, type GatewayFixture } from '../helpers/gateway.js';

let fixture: GatewayFixture;
let gateway: Gateway;
let anthropic: Anthropic;
let openai: OpenAI;
const KEY = 'apis-test-key';

beforeAll(async () => {
  fixture = await gatewayFixture();
  gateway = await fixture.start({
    apiKeys: [KEY],
    models: [
      // --metrics: the engine's own count of decoded tokens shows whether an aborted generation really stopped.
      { ...fixture.models.a, ctxSize: 2048, args: ['--metrics'] },
      { ...fixture.models.b, name: 'tiny-rank', aliases: [], reranking: true },
    ],
  });
  anthropic = new Anthropic({ baseURL: gateway.url, apiKey: KEY, maxRetries: 0 });
  openai = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: KEY, maxRetries: 0 });
});
afterAll(() => fixture.cleanup());

const hello = [{ role: 'user' as const, content: 'Say hello' }];
/** This version of the Anthropic SDK has no `temperature` in its types; the engine takes it, and the SDK sends it on. */
const greedy: object = { temperature: 0 };

async function decodedTokens(): Promise<number> {
  const engine = await engineAccess(gateway.models().find((model) => model.name === 'tiny-a')!.pid!);
  const text = await (await fetch(`${engine.url}/metrics`, { headers: { authorization: `Bearer ${engine.key}` } })).text();
  return Number(/^llamacpp:n_decode_total (\d+)/m.exec(text)?.[1] ?? Number.NaN);
}

async function slotsIdle(): Promise<boolean> {
  const engine = await engineAccess(gateway.models().find((model) => model.name === 'tiny-a')!.pid!);
  const slots = (await (await fetch(`${engine.url}/slots`, { headers: { authorization: `Bearer ${engine.key}` } })).json()) as { is_processing: boolean }[];
  return slots.every((slot) => !slot.is_processing);
}

describe('gateway: Anthropic Messages API (@anthropic-ai/sdk)', () => {
  test('messages.create, plain and streamed: the text events concatenate to the plain answer at temperature 0', async () => {
    const plain = await anthropic.messages.create({ model: 'tiny-a', max_tokens: 16, ...greedy, messages: hello });
    expect(plain).toMatchObject({ type: 'message', role: 'assistant', model: 'tiny-a', stop_reason: 'max_tokens', usage: { output_tokens: 16 } });
    const text = plain.content.map((block) => (block.type === 'text' ? block.text : '')).join('');
    expect(text.length).toBeGreaterThan(0);

    const stream = await anthropic.messages.create({ model: 'tiny-a', max_tokens: 16, ...greedy, messages: hello, stream: true });
    const types: string[] = [];
    let streamed = '';
    for await (const event of stream) {
      types.push(event.type);
      if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') streamed += event.delta.text;
    }
    expect(streamed).toBe(text);
    expect(types[0]).toBe('message_start');
    expect(types.slice(-3)).toEqual(['content_block_stop', 'message_delta', 'message_stop']);
    expect(types.filter((type) => type === 'content_block_delta').length).toBeGreaterThan(1); // relayed event by event

    // The SDK's own helper folds the same events into the same message.
    const final = await anthropic.messages.stream({ model: 'tiny-a', max_tokens: 16, ...greedy, messages: hello }).finalMessage();
    expect(final.content).toEqual(plain.content);
  });

  test('messages.countTokens', async () => {
    const counted = await anthropic.messages.countTokens({ model: 'tiny-a', messages: hello });
    expect(counted.input_tokens).toBeGreaterThan(2);
    const longer = await anthropic.messages.countTokens({ model: 'tiny-a', messages: [{ role: 'user', content: 'Say hello to everybody in the room, please' }] });
    expect(longer.input_tokens).toBeGreaterThan(counted.input_tokens);
  });

  test('a tool definition and a tool_use → tool_result history go through (the tiny model\'s template has no tool format)', async () => {
    const tools = [{ name: 'get_weather', description: 'The weather in a city', input_schema: { type: 'object' as const, properties: { city: { type: 'string' } }, required: ['city'] } }];
    const answer = await anthropic.messages.create({
      model: 'tiny-a', max_tokens: 8, ...greedy, tools,
      messages: [
        { role: 'user', content: 'Weather in Paris?' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'Sunny, 21 °C' }] },
      ],
    });
    expect(answer).toMatchObject({ type: 'message', role: 'assistant', usage: { output_tokens: 8 } });
    // The tool result reached the prompt: it is longer than the same history without it.
    const without = await anthropic.messages.countTokens({ model: 'tiny-a', tools, messages: [{ role: 'user', content: 'Weather in Paris?' }] });
    expect(answer.usage.input_tokens + (answer.usage.cache_read_input_tokens ?? 0)).toBeGreaterThan(without.input_tokens);
  });

  test('an unknown model → NotFoundError, a wrong key → AuthenticationError, in Anthropic\'s error shape', async () => {
    const missing = await anthropic.messages.create({ model: 'no-such-model', max_tokens: 4, messages: hello }).catch((error: unknown) => error);
    expect(missing).toBeInstanceOf(Anthropic.NotFoundError);
    expect((missing as InstanceType<typeof Anthropic.NotFoundError>).error).toMatchObject({ type: 'error', error: { type: 'not_found_error' } });
    const wrong = new Anthropic({ baseURL: gateway.url, apiKey: 'wrong', maxRetries: 0 });
    await expect(wrong.messages.create({ model: 'tiny-a', max_tokens: 4, messages: hello })).rejects.toBeInstanceOf(Anthropic.AuthenticationError);
    // An error of the engine's own (OpenAI-shaped) is reshaped too.
    const bad = await fetch(`${gateway.url}/v1/messages`, { method: 'POST', headers: { 'x-api-key': KEY, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'tiny-a', max_tokens: 4 }) });
    expect(bad.status).toBeGreaterThanOrEqual(400);
    expect(await bad.json()).toMatchObject({ type: 'error', error: { type: expect.any(String), message: expect.stringContaining('messages') } });
  });

  test('the typed client speaks the Messages API too', async () => {
    const client = new LlamafileClient({ baseUrl: gateway.url, apiKey: KEY });
    const plain = await client.messages({ model: 'tiny-a', max_tokens: 12, temperature: 0, messages: hello });
    const stream = client.messages({ model: 'tiny-a', max_tokens: 12, temperature: 0, messages: hello, stream: true });
    let text = '';
    for await (const event of stream) if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') text += event.delta.text;
    expect(text).toBe(messageText(plain));
    expect(messageText(await stream.finalResponse())).toBe(text);
    expect((await client.countMessageTokens({ model: 'tiny-a', messages: hello })).input_tokens).toBeGreaterThan(2);
    await client.close();
  });
});

describe('gateway: OpenAI Responses API', () => {
  test('responses.create, plain and streamed, and input_tokens', async () => {
    const plain = await openai.responses.create({ model: 'tiny-a', input: 'Say hello', max_output_tokens: 16, temperature: 0 });
    expect(plain.output_text.length).toBeGreaterThan(0);
    expect(plain.model).toBe('tiny-a');
    const stream = await openai.responses.create({ model: 'tiny-a', input: 'Say hello', max_output_tokens: 16, temperature: 0, stream: true });
    let text = '';
    let completed = false;
    for await (const event of stream) {
      if (event.type === 'response.output_text.delta') text += event.delta;
      if (event.type === 'response.completed') completed = true;
    }
    expect(text).toBe(plain.output_text);
    expect(completed).toBe(true);
    const counted = await openai.responses.inputTokens.count({ model: 'tiny-a', input: 'Say hello' });
    expect(counted.input_tokens).toBeGreaterThan(2);
    const chatCount = await fetch(`${gateway.url}/v1/chat/completions/input_tokens`, { method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'tiny-a', messages: hello }) });
    expect(await chatCount.json()).toMatchObject({ input_tokens: expect.any(Number) });
  });

  test('the Vercel AI SDK\'s streamText (which uses the Responses API) streams through the gateway', async () => {
    const provider = createOpenAI({ baseURL: `${gateway.url}/v1`, apiKey: KEY });
    const result = streamText({ model: provider('tiny-a'), prompt: 'Say hello', maxOutputTokens: 16, temperature: 0, maxRetries: 0 });
    let text = '';
    for await (const piece of result.textStream) text += piece;
    const plain = await openai.responses.create({ model: 'tiny-a', input: [{ role: 'user', content: 'Say hello' }], max_output_tokens: 16, temperature: 0 });
    expect(text).toBe(plain.output_text);
    expect((await result.usage).outputTokens).toBe(16);
  });
});

describe('gateway: rerank, tokenize, detokenize', () => {
  test('/v1/rerank on a model configured for it; a model without it gets a 400 naming the key', async () => {
    const rerank = (model: string, path = '/v1/rerank') => fetch(`${gateway.url}${path}`, {
      method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model, query: 'a cat', documents: ['the dog', 'a cat', 'hello world'], top_n: 3 }),
    });
    const ranked = await rerank('tiny-rank');
    expect(ranked.status).toBe(200);
    const body = (await ranked.json()) as { results: { index: number; relevance_score: number }[] };
    expect(body.results.map((result) => result.index).sort()).toEqual([0, 1, 2]);
    expect((await rerank('tiny-rank', '/v1/reranking')).status).toBe(200);
    const refused = await rerank('tiny-a');
    expect(refused.status).toBe(400);
    const message = ((await refused.json()) as { error: { message: string } }).error.message;
    expect(message).toContain('tiny-a');
    expect(message).toContain('/v1/rerank');
    expect(message).toContain('models.tiny-a.reranking: true');
    const listed = (await openai.models.list()).data as unknown as { id: string; capabilities: string[] }[];
    expect(listed.find((model) => model.id === 'tiny-rank')?.capabilities).toContain('rerank');
    expect(listed.find((model) => model.id === 'tiny-a')?.capabilities).not.toContain('rerank');
  });

  test('tokenize → detokenize round trip through the typed client', async () => {
    const client = new LlamafileClient({ baseUrl: gateway.url, apiKey: KEY });
    const { tokens } = await client.tokenize({ content: 'Hello world, once upon a time', model: 'tiny-a' });
    expect(tokens.length).toBeGreaterThan(3);
    const { content } = await client.detokenize(tokens as number[], { model: 'tiny-a' });
    expect(content.trim()).toBe('Hello world, once upon a time');
    await expect(client.tokenize('no model named')).rejects.toThrow(/must name a model/);
    await client.close();
  });

  test('/v1/models is read by both official clients', async () => {
    const ids = [];
    for await (const model of anthropic.models.list()) ids.push(model.id);
    expect(ids.sort()).toEqual(['tiny-a', 'tiny-rank']);
    expect((await anthropic.models.retrieve('tiny-a')).id).toBe('tiny-a');
    expect((await openai.models.retrieve('tiny-rank')).id).toBe('tiny-rank');
  });
});

describe('gateway: cancel and disconnect on the new routes free the engine\'s slot', () => {
  const cases: [string, (signal: AbortSignal) => Promise<AsyncIterable<unknown>>][] = [
    ['/v1/messages', (signal) => anthropic.messages.create({ model: 'tiny-a', max_tokens: 2000, messages: hello, stream: true }, { signal })],
    ['/v1/responses', (signal) => openai.responses.create({ model: 'tiny-a', input: 'Say hello', max_output_tokens: 2000, stream: true }, { signal })],
  ];
  test.each(cases)('%s: leaving the stream after 3 events stops the generation', async (_path, open) => {
    await anthropic.messages.create({ model: 'tiny-a', max_tokens: 1, messages: hello }); // loaded
    const before = await decodedTokens();
    const controller = new AbortController();
    let events = 0;
    try {
      for await (const _ of await open(controller.signal)) if (++events === 3) controller.abort();
    } catch (error) {
      expect((error as Error).name).toMatch(/Abort/); // some clients end the loop quietly, some throw
    }
    // Events already in the client's buffer may still be handed out (135 once, under load): the bound is the 2000 asked.
    expect(events).toBeLessThan(1000);
    await eventually(() => gateway.models().find((model) => model.name === 'tiny-a')!.inFlight === 0);
    await eventually(slotsIdle);
    // 2000 tokens were asked for; the engine stopped long before.
    expect(await decodedTokens() - before).toBeLessThan(1000);
    const next = await anthropic.messages.create({ model: 'tiny-a', max_tokens: 4, messages: hello });
    expect(next.usage.output_tokens).toBe(4);
  });
});
