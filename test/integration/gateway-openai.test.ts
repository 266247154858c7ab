/**
 * The gateway's OpenAI-compatible API through the official `openai` client, against the REAL engine: on-demand start,
 * streams relayed chunk by chunk, parallel streams to two models, 404 with the closest names, keys, /health, /metrics.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { isAlive } from '../../src/system/process-facts.js';
import { engineConnections, eventually, gatewayFixture, state, type GatewayFixture } from '../helpers/gateway.js';
import type { Gateway } from '../../src/gateway/start-gateway.js';

let fixture: GatewayFixture;
let gateway: Gateway;
let openai: OpenAI;
const KEY = 'test-gateway-key';

beforeAll(async () => {
  fixture = await gatewayFixture();
  gateway = await fixture.start({
    apiKeys: [KEY],
    models: [...Object.values(fixture.models), { ...fixture.models.a, name: 'tiny-embed', aliases: [], args: ['--embeddings', '--pooling', 'mean'] }],
  });
  openai = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: KEY, maxRetries: 0 });
});
afterAll(() => fixture.cleanup());

const ask = { messages: [{ role: 'user' as const, content: 'Say something' }], max_tokens: 12, temperature: 0, seed: 1 };

describe('gateway: OpenAI API', () => {
  test('keys: /health needs none; everything else 401 without, 200 with', async () => {
    expect((await fetch(`${gateway.url}/health`)).status).toBe(200);
    const denied = await fetch(`${gateway.url}/v1/models`);
    expect(denied.status).toBe(401);
    expect(await denied.json()).toMatchObject({ error: { type: 'authentication_error' } });
    const wrong = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'nope', maxRetries: 0 });
    await expect(wrong.models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
    expect((await fetch(`${gateway.url}/metrics`, { headers: { authorization: `Bearer ${KEY}` } })).status).toBe(200);
  });

  test('/v1/models lists every model with aliases and a router-mode status, before anything is loaded', async () => {
    const list = await openai.models.list();
    const byId = new Map(list.data.map((model) => [model.id, model as unknown as { aliases: string[]; status: { value: string } }]));
    expect([...byId.keys()].sort()).toEqual(['tiny-a', 'tiny-b', 'tiny-c', 'tiny-embed']);
    expect(byId.get('tiny-a')).toMatchObject({ object: 'model', aliases: ['llamactl/tiny-a', '@cf/llamactl/tiny-a'], status: { value: 'unloaded' } });
  });

  test('the first request starts the model on demand; an alias reaches the same engine', async () => {
    const answer = await openai.chat.completions.create({ model: 'tiny-a', ...ask });
    expect(answer.choices[0]!.message.content!.length).toBeGreaterThan(0);
    expect(answer.usage?.completion_tokens).toBe(12);
    expect(answer.model).toBe('tiny-a'); // the gateway's name, not the engine's file path
    expect(state(gateway, 'tiny-a')).toBe('loaded');
    const pid = gateway.models().find((m) => m.name === 'tiny-a')!.pid!;
    expect(isAlive(pid)).toBe(true);
    const again = await openai.chat.completions.create({ model: 'llamactl/tiny-a', ...ask });
    expect(again.choices[0]!.message.content).toBe(answer.choices[0]!.message.content);
    expect(gateway.models().find((m) => m.name === 'tiny-a')!.pid).toBe(pid);
    const listed = (await openai.models.list()).data.find((m) => m.id === 'tiny-a') as unknown as { status: { value: string } };
    expect(listed.status.value).toBe('loaded');
  });

  test.skipIf(process.platform !== 'linux')('it reaches a llama-server engine over its Unix socket, and the llamafile over TCP', async () => {
    await openai.chat.completions.create({ model: 'tiny-c', ...ask }); // may load it first: asked before tiny-a
    await openai.chat.completions.create({ model: 'tiny-a', ...ask });
    const pid = (name: string) => gateway.models().find((model) => model.name === name)!.pid!;
    // An answered request's connection is kept alive (4 s) for the next one, so the kernel shows which kind it was.
    const [a, c] = await Promise.all([engineConnections(pid('tiny-a')), engineConnections(pid('tiny-c'))]);
    expect(a.tcp).toBe(0);
    expect(a.unix).toBeGreaterThanOrEqual(1);
    expect(c.tcp).toBeGreaterThanOrEqual(1);
  });

  test('concurrent first requests for a model that is loading share one start', async () => {
    const answers = await Promise.all([1, 2, 3].map(() => openai.completions.create({ model: 'tiny-c', prompt: 'Once', max_tokens: 4, temperature: 0 })));
    for (const answer of answers) expect(answer.choices[0]!.text.length).toBeGreaterThan(0);
    expect(gateway.models().find((m) => m.name === 'tiny-c')).toMatchObject({ state: 'loaded', restarts: 0 });
  });

  test('parallel streams to two models at once: all complete, chunk by chunk, none mixed up', async () => {
    const reference = {
      'tiny-a': (await openai.chat.completions.create({ model: 'tiny-a', ...ask, max_tokens: 24 })).choices[0]!.message.content,
      'tiny-b': (await openai.chat.completions.create({ model: 'tiny-b', ...ask, max_tokens: 24 })).choices[0]!.message.content,
    };
    expect(reference['tiny-a']).not.toBe(reference['tiny-b']);
    const streams = (['tiny-a', 'tiny-b', 'tiny-a', 'tiny-b'] as const).map(async (model) => {
      const stream = await openai.chat.completions.create({ model, ...ask, max_tokens: 24, stream: true });
      let text = '';
      let chunks = 0;
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta.content ?? '';
        chunks++;
      }
      return { model, text, chunks };
    });
    for (const { model, text, chunks } of await Promise.all(streams)) {
      expect(text).toBe(reference[model]);
      expect(chunks).toBeGreaterThan(5);
    }
  });

  test('embeddings', async () => {
    const result = await openai.embeddings.create({ model: 'tiny-embed', input: 'hello world' });
    expect(result.data[0]!.embedding.length).toBe(64);
  });

  test('an unknown model is a 404 in OpenAI\'s shape, naming it and the closest names', async () => {
    const error = await openai.chat.completions.create({ model: 'tiny-x', ...ask }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.NotFoundError);
    expect((error as Error).message).toContain('tiny-x');
    expect((error as Error).message).toMatch(/Closest: tiny-/);
    expect((error as InstanceType<typeof OpenAI.APIError>).code).toBe('model_not_found');
  });

  test('bad bodies: 400 for JSON that is not, 413 past the limit', async () => {
    const post = (body: string) => fetch(`${gateway.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body });
    expect((await post('{nope')).status).toBe(400);
    expect((await post(JSON.stringify({ model: 'tiny-a', pad: 'x'.repeat(9 * 2 ** 20) }))).status).toBe(413);
  });

  test('/metrics counts requests by model, API and status, tokens, and resident models', async () => {
    const text = await (await fetch(`${gateway.url}/metrics`, { headers: { authorization: `Bearer ${KEY}` } })).text();
    expect(text).toMatch(/llamactl_gateway_requests_total\{model="tiny-a",api="openai",status="200"\} \d+/);
    expect(text).toMatch(/llamactl_gateway_requests_total\{model="-",api="openai",status="404"\} 1/);
    expect(text).toMatch(/llamactl_gateway_tokens_total\{model="tiny-a",direction="out"\} \d+/);
    expect(text).toMatch(/llamactl_gateway_model_resident\{model="tiny-a"\} 1/);
    expect(text).toMatch(/llamactl_gateway_model_load_seconds_count\{model="tiny-a"\} 1/);
    expect(text).toContain('llamactl_gateway_time_to_first_token_seconds_bucket');
  });

  test('close() stops every engine it started', async () => {
    const pids = gateway.models().flatMap((m) => (m.pid ? [m.pid] : []));
    expect(pids.length).toBeGreaterThanOrEqual(3);
    await gateway.close();
    await eventually(() => pids.every((pid) => !isAlive(pid)), 10_000);
    expect((await fetch(`${gateway.url}/health`).catch(() => undefined))?.status).toBeUndefined();
  });
});
