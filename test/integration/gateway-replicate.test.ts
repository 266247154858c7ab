/**
 * The gateway's Replicate API through the official `replicate` client (only baseUrl and auth changed), against the
 * REAL engine: run (Prefer: wait), stream (the SSE stream URL, read without the key), predictions.create/get/cancel,
 * input validation (422 naming the input).
 */
import Replicate from 'replicate';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Gateway } from '../../src/gateway/start-gateway.js';
import { engineAccess, eventually, gatewayFixture, type GatewayFixture } from '../helpers/gateway.js';

let fixture: GatewayFixture;
let gateway: Gateway;
let replicate: Replicate;
const KEY = 'r8_test_key';

beforeAll(async () => {
  fixture = await gatewayFixture();
  gateway = await fixture.start({ apiKeys: [KEY], models: [{ ...fixture.models.a, ctxSize: 2048 }, fixture.models.b] });
  replicate = new Replicate({ auth: KEY, baseUrl: `${gateway.url}/v1` });
});
afterAll(() => fixture.cleanup());

interface PredictionObject {
  id: string;
  status: string;
  output: string[] | null;
  logs: string;
  error: string | null;
  input: Record<string, unknown>;
  metrics?: Record<string, number>;
  urls: { get: string; stream: string; cancel: string };
  created_at: string;
  started_at: string | null;
  completed_at: string | null;
}

describe('gateway: Replicate API', () => {
  test('replicate.run (Prefer: wait) returns the output as a list of token strings', async () => {
    const output = (await replicate.run('llamactl/tiny-a', { input: { prompt: 'Once upon a time', max_tokens: 16, temperature: 0 } })) as string[];
    expect(Array.isArray(output)).toBe(true);
    expect(output.length).toBeGreaterThan(5);
    expect(output.every((token) => typeof token === 'string')).toBe(true);
  });

  test('a Prefer: wait prediction is the whole object of seed 000: status, logs with the formatted prompt, metrics, urls', async () => {
    const input = { prompt: 'Tina has one brother', system_prompt: 'You are a helpful assistant.', max_tokens: 12, min_tokens: 0, temperature: 0.6, top_p: 0.9, presence_penalty: 0, frequency_penalty: 0 };
    const prediction = (await replicate.predictions.create({ model: 'llamactl/tiny-b', input, wait: true })) as unknown as PredictionObject;
    expect(prediction).toMatchObject({ status: 'succeeded', error: null, input });
    expect(prediction.id).toMatch(/^[a-z2-7]{26}$/);
    expect(prediction.output!.join('').length).toBeGreaterThan(0);
    // No template was named: the model's own chat template (ChatML in the tiny model) formatted the prompt.
    expect(prediction.logs).toContain('Formatted prompt: <|im_start|>system\nYou are a helpful assistant.<|im_end|>');
    expect(prediction.metrics).toMatchObject({ input_token_count: expect.any(Number), output_token_count: 12 });
    for (const key of ['time_to_first_token', 'tokens_per_second', 'predict_time', 'total_time']) expect(prediction.metrics![key]).toBeGreaterThan(0);
    expect(prediction.urls.get).toBe(`${gateway.url}/v1/predictions/${prediction.id}`);
    expect(Date.parse(prediction.completed_at!)).toBeGreaterThanOrEqual(Date.parse(prediction.started_at!));
    // The stream id is not the prediction id, and holds at least 128 random bits (base32: 5 bits a character).
    const streamId = prediction.urls.stream.split('/').pop()!;
    expect(streamId).not.toContain(prediction.id);
    expect(streamId.length * 5).toBeGreaterThanOrEqual(128);
  });

  test('without Prefer: wait it answers 201 at once; get follows it to succeeded', async () => {
    const response = await fetch(`${gateway.url}/v1/models/llamactl/tiny-a/predictions`, {
      method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ input: { prompt: 'Hello', max_tokens: 8, prompt_template: 'chatml' } }),
    });
    expect(response.status).toBe(201);
    const created = (await response.json()) as PredictionObject;
    expect(['starting', 'processing']).toContain(created.status);
    let current = created;
    await eventually(async () => (current = (await replicate.predictions.get(created.id)) as unknown as PredictionObject).status === 'succeeded');
    expect(current.output!.length).toBeGreaterThan(0);
    expect(current.logs).toContain('Formatted prompt: <|im_start|>user\nHello<|im_end|>');
  });

  test('replicate.stream: output events, then done; the stream URL works without the key, get does not', async () => {
    const events: { event: string; data: string }[] = [];
    for await (const event of replicate.stream('llamactl/tiny-a', { input: { prompt: 'Hello', max_tokens: 10, temperature: 0 } })) {
      events.push({ event: event.event, data: event.data });
    }
    expect(events.at(-1)!.event).toBe('done');
    const output = events.filter((event) => event.event === 'output');
    expect(output.length).toBeGreaterThan(3);
    const created = (await replicate.predictions.create({ model: 'llamactl/tiny-a', input: { prompt: 'Hi', max_tokens: 4 } })) as unknown as PredictionObject;
    const stream = await fetch(created.urls.stream, { headers: { accept: 'text/event-stream' } });
    expect(stream.status).toBe(200);
    expect(await stream.text()).toMatch(/event: done\ndata: \{\}/);
    expect((await fetch(created.urls.get)).status).toBe(401);
  });

  test('cancel stops the generation at once and frees the engine\'s slot', async () => {
    const created = (await replicate.predictions.create({ model: 'llamactl/tiny-a', input: { prompt: 'Hello', max_tokens: 2000, min_tokens: 2000 } })) as unknown as PredictionObject;
    await eventually(async () => (((await replicate.predictions.get(created.id)) as unknown as PredictionObject).output?.length ?? 0) > 2);
    const canceled = (await replicate.predictions.cancel(created.id)) as unknown as PredictionObject;
    expect(canceled.status).toBe('canceled');
    await eventually(() => gateway.models().find((m) => m.name === 'tiny-a')!.inFlight === 0);
    const engine = await engineAccess(gateway.models().find((m) => m.name === 'tiny-a')!.pid!);
    await eventually(async () => {
      const slots = (await (await fetch(`${engine.url}/slots`, { headers: { authorization: `Bearer ${engine.key}` } })).json()) as { is_processing: boolean }[];
      return slots.every((slot) => !slot.is_processing);
    });
    const after = (await replicate.predictions.get(created.id)) as unknown as PredictionObject;
    expect(after.status).toBe('canceled');
    expect(after.output!.length).toBeLessThan(2000);
  });

  test('an unknown input or a wrong type is a 422 naming it; an unknown model a 404 with the closest names', async () => {
    const bad = await replicate.predictions.create({ model: 'llamactl/tiny-a', input: { prompt: 'x', temprature: 0.5 } }).catch((e: unknown) => e);
    expect((bad as { response: Response }).response.status).toBe(422);
    expect((bad as Error).message).toContain('temprature');
    const typed = await replicate.predictions.create({ model: 'llamactl/tiny-a', input: { prompt: 'x', max_tokens: 'ten' } }).catch((e: unknown) => e);
    expect((typed as Error).message).toContain('max_tokens');
    const missing = await replicate.predictions.create({ model: 'meta/meta-llama-3.1-405b-instruct', input: { prompt: 'x' } }).catch((e: unknown) => e);
    expect((missing as { response: Response }).response.status).toBe(404);
    expect((missing as Error).message).toMatch(/Closest: /);
  });
});
