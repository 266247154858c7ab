/**
 * The gateway's Workers AI API through the official `cloudflare` client (only baseURL and apiToken changed), against
 * the REAL engine: ai.run with messages and with prompt, raw prompts, JSON mode, SSE streaming, errors in
 * Cloudflare's envelope, percent-encoded model names.
 */
import Cloudflare from 'cloudflare';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Gateway } from '../../src/gateway/start-gateway.js';
import { gatewayFixture, type GatewayFixture } from '../helpers/gateway.js';

let fixture: GatewayFixture;
let gateway: Gateway;
let cloudflare: Cloudflare;
const KEY = 'cf-test-token';
const account_id = 'local';

beforeAll(async () => {
  fixture = await gatewayFixture();
  gateway = await fixture.start({ apiKeys: [KEY], models: [fixture.models.a] });
  cloudflare = new Cloudflare({ apiToken: KEY, baseURL: `${gateway.url}/client/v4`, maxRetries: 0 });
});
afterAll(() => fixture.cleanup());

interface Result {
  response: unknown;
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
}

describe('gateway: Workers AI API', () => {
  test('ai.run with messages: the result envelope with response and usage', async () => {
    const result = (await cloudflare.ai.run('@cf/llamactl/tiny-a', {
      account_id,
      messages: [{ role: 'system', content: 'You are a friendly assistant' }, { role: 'user', content: 'Why is pizza so good' }],
      max_tokens: 10,
    })) as Result;
    expect(typeof result.response).toBe('string');
    expect((result.response as string).length).toBeGreaterThan(0);
    expect(result.usage.completion_tokens).toBe(10);
    expect(result.usage.total_tokens).toBe(result.usage.prompt_tokens + 10);
  });

  test('prompt, raw prompt, and the whole envelope over plain HTTP with a percent-encoded model', async () => {
    const result = (await cloudflare.ai.run('@cf/llamactl/tiny-a', { account_id, prompt: 'Tell me about PEP-8', max_tokens: 6 })) as Result;
    expect(result.usage.completion_tokens).toBe(6);
    const response = await fetch(`${gateway.url}/client/v4/accounts/${account_id}/ai/run/%40cf%2Fllamactl%2Ftiny-a`, {
      method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body: JSON.stringify({ prompt: 'Once upon a time', raw: true, max_tokens: 5 }),
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ result: { response: expect.any(String), usage: { completion_tokens: 5 } }, success: true, errors: [], messages: [] });
    const short = await fetch(`${gateway.url}/ai/run/@cf/llamactl/tiny-a`, { method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body: JSON.stringify({ prompt: 'Hi', max_tokens: 2 }) });
    expect(await short.json()).toMatchObject({ success: true, result: { usage: { completion_tokens: 2 } } });
  });

  test('JSON mode answers with the parsed object', async () => {
    const result = (await cloudflare.ai.run('@cf/llamactl/tiny-a', {
      account_id, prompt: 'A JSON object please', max_tokens: 64,
      response_format: { type: 'json_schema', json_schema: { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'] } },
    } as never)) as Result;
    expect(result.response).toMatchObject({ ok: expect.any(Boolean) });
  });

  test('stream: true answers SSE data: {"response": …} lines, then data: [DONE]', async () => {
    const response = await cloudflare.ai.run('@cf/llamactl/tiny-a', { account_id, prompt: 'Hello', stream: true, max_tokens: 12 }).asResponse();
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const lines = (await response.text()).split('\n').filter((line) => line.startsWith('data: '));
    expect(lines.at(-1)).toBe('data: [DONE]');
    const frames = lines.slice(0, -1).map((line) => JSON.parse(line.slice(6)) as { response: string; usage?: Result['usage'] });
    expect(frames.filter((frame) => frame.response !== '').length).toBeGreaterThan(3);
    expect(frames.at(-1)!.usage?.completion_tokens).toBe(12);
  });

  test('errors in Cloudflare\'s shape: lora is not supported, an unknown model is a 404, a missing token a 401', async () => {
    const lora = await cloudflare.ai.run('@cf/llamactl/tiny-a', { account_id, prompt: 'x', lora: 'my-adapter' }).catch((e: unknown) => e);
    expect(lora).toBeInstanceOf(Cloudflare.BadRequestError);
    expect((lora as Error).message).toMatch(/lora is not supported/);
    const missing = await cloudflare.ai.run('@cf/meta/llama-3.1-8b-instruct', { account_id, prompt: 'x' }).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(Cloudflare.NotFoundError);
    expect((missing as { errors: { message: string }[] }).errors[0]!.message).toMatch(/Closest: @cf\/llamactl\/tiny-a/);
    const denied = await fetch(`${gateway.url}/client/v4/accounts/x/ai/run/@cf/llamactl/tiny-a`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"prompt":"x"}' });
    expect(denied.status).toBe(401);
    expect(await denied.json()).toMatchObject({ success: false, errors: [{ code: 401 }] });
  });
});
