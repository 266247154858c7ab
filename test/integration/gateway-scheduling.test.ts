/**
 * The gateway's scheduling against the REAL engine: memory budget with LRU eviction, a model larger than the budget,
 * the per-model queue (429 with Retry-After), cancel mid-stream freeing the engine's slot, an engine killed
 * mid-request (502 with its log tail, `failed` in /v1/models, then recovery), idle TTL. Process tables are checked.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { isAlive } from '../../src/system/process-facts.js';
import { costs, engineAccess, eventually, gatewayFixture, state, type GatewayFixture } from '../helpers/gateway.js';

let fixture: GatewayFixture;
beforeEach(async () => {
  fixture = await gatewayFixture();
});
afterEach(() => fixture.cleanup());

const client = (url: string) => new OpenAI({ baseURL: `${url}/v1`, apiKey: 'none', maxRetries: 0 });
const ask = (model: string, max_tokens = 4) => ({ model, prompt: 'Hello', max_tokens, temperature: 0 });
const pidOf = (gateway: { models(): { name: string; pid: number | undefined }[] }, name: string) => gateway.models().find((m) => m.name === name)?.pid;

describe('gateway: scheduling', () => {
  test('a budget for two of three models: the least recently used idle one is unloaded to make room', async () => {
    const cost = await costs(fixture);
    const budget = Math.max(cost.a + cost.b, cost.a + cost.c, cost.b + cost.c);
    expect(budget).toBeLessThan(cost.a + cost.b + cost.c);
    const gateway = await fixture.start({ memoryBudget: budget });
    const openai = client(gateway.url);
    await openai.completions.create(ask('tiny-a'));
    await openai.completions.create(ask('tiny-b'));
    const pidB = pidOf(gateway, 'tiny-b')!;
    await openai.completions.create(ask('tiny-a')); // a is now more recent than b
    await openai.completions.create(ask('tiny-c')); // needs room: b goes
    expect([state(gateway, 'tiny-a'), state(gateway, 'tiny-b'), state(gateway, 'tiny-c')]).toEqual(['loaded', 'unloaded', 'loaded']);
    expect(isAlive(pidB)).toBe(false);
    const pidA = pidOf(gateway, 'tiny-a')!;
    await openai.completions.create(ask('tiny-b')); // a was used before c: a goes
    expect([state(gateway, 'tiny-a'), state(gateway, 'tiny-b'), state(gateway, 'tiny-c')]).toEqual(['unloaded', 'loaded', 'loaded']);
    expect(isAlive(pidA)).toBe(false);
    const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
    expect(metrics).toMatch(/llamactl_gateway_unloads_total\{model="tiny-b",reason="evicted"\} 1/);
    expect(metrics).toMatch(/llamactl_gateway_unloads_total\{model="tiny-a",reason="evicted"\} 1/);
  });

  test('a model larger than the whole budget fails at once, giving both numbers', async () => {
    const gateway = await fixture.start({ memoryBudget: 100 * 2 ** 20 });
    const error = await client(gateway.url).completions.create(ask('tiny-a')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as Error).message).toMatch(/needs about [\d.]+ MiB .* more than the whole memory budget of 100\.0 MiB/);
    expect(state(gateway, 'tiny-a')).toBe('unloaded');
  });

  test('per model at most `parallel` in flight, a bounded FIFO queue, then 429 with Retry-After', async () => {
    const gateway = await fixture.start({ queueSize: 1 });
    const post = () => fetch(`${gateway.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(ask('tiny-a', 8)) });
    // While tiny-a loads, the first request holds its one slot and the second waits: the third is refused.
    const answers = await Promise.all([post(), post(), post()]);
    const statuses = answers.map((answer) => answer.status).sort();
    expect(statuses).toEqual([200, 200, 429]);
    const refused = answers.find((answer) => answer.status === 429)!;
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await refused.json()).toMatchObject({ error: { type: 'rate_limit_error', code: 'queue_full' } });
  });

  test('cancel mid-stream aborts the upstream request: the engine\'s slot is free and the next request completes', async () => {
    const gateway = await fixture.start({ models: [{ ...fixture.models.a, ctxSize: 2048 }] });
    const openai = client(gateway.url);
    const stream = await openai.completions.create({ ...ask('tiny-a', 2000), stream: true });
    let chunks = 0;
    for await (const _ of stream) if (++chunks === 3) break; // leaving the loop aborts the request
    await eventually(() => gateway.models()[0]!.inFlight === 0);
    const engine = await engineAccess(pidOf(gateway, 'tiny-a')!);
    await eventually(async () => {
      const slots = (await (await fetch(`${engine.url}/slots`, { headers: { authorization: `Bearer ${engine.key}` } })).json()) as { is_processing: boolean }[];
      return slots.every((slot) => !slot.is_processing);
    });
    const next = await openai.completions.create(ask('tiny-a', 4));
    expect(next.usage?.completion_tokens).toBe(4);
  });

  test('an engine killed mid-request: 502 with its last log lines, `failed` in /v1/models, then the next request restarts it', async () => {
    const gateway = await fixture.start({ models: [{ ...fixture.models.a, ctxSize: 2048 }] });
    const openai = client(gateway.url);
    await openai.completions.create(ask('tiny-a'));
    const pid = pidOf(gateway, 'tiny-a')!;
    const pending = fetch(`${gateway.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...ask('tiny-a', 2000), ignore_eos: true }) });
    await eventually(() => gateway.models()[0]!.inFlight === 1);
    await new Promise((resolve) => setTimeout(resolve, 200));
    process.kill(pid, 'SIGKILL');
    const answer = await pending;
    expect(answer.status).toBe(502);
    const body = (await answer.json()) as { error: { message: string; code: string } };
    expect(body.error.code).toBe('engine_crashed');
    expect(body.error.message).toContain('was killed by SIGKILL');
    expect(body.error.message).toContain('--- last output ---');
    const listed = (await openai.models.list()).data[0] as unknown as { status: { value: string; reason: string } };
    expect(listed.status).toMatchObject({ value: 'failed', reason: expect.stringContaining('SIGKILL') });
    const recovered = await openai.completions.create(ask('tiny-a'));
    expect(recovered.usage?.completion_tokens).toBe(4);
    expect(gateway.models()[0]).toMatchObject({ state: 'loaded', restarts: 1 });
    expect(pidOf(gateway, 'tiny-a')).not.toBe(pid);
  });

  test('idle TTL unloads a model (per model, over the global one)', async () => {
    const gateway = await fixture.start({ ttlMs: 0, models: [{ ...fixture.models.a, ttlMs: 300 }, fixture.models.b] });
    const openai = client(gateway.url);
    await openai.completions.create(ask('tiny-a'));
    await openai.completions.create(ask('tiny-b'));
    const pid = pidOf(gateway, 'tiny-a')!;
    await eventually(() => state(gateway, 'tiny-a') === 'unloaded');
    expect(isAlive(pid)).toBe(false);
    expect(state(gateway, 'tiny-b')).toBe('loaded');
  });

  test('preload starts the listed models at launch, one after another', async () => {
    const loads: string[] = [];
    const gateway = await fixture.start({ preload: ['tiny-b', 'tiny-a'], onEvent: (event) => event.type === 'load' && loads.push(event.model) });
    await eventually(() => state(gateway, 'tiny-a') === 'loaded' && state(gateway, 'tiny-b') === 'loaded');
    expect(loads).toEqual(['tiny-b', 'tiny-a']);
    expect(state(gateway, 'tiny-c')).toBe('unloaded');
  });

  test('close() lets an in-flight request finish, refuses new connections, then stops the engines', async () => {
    const gateway = await fixture.start({ models: [{ ...fixture.models.a, ctxSize: 2048 }] });
    const openai = client(gateway.url);
    await openai.completions.create(ask('tiny-a'));
    const pid = pidOf(gateway, 'tiny-a')!;
    // Streamed, so that close() is called while the request is surely in flight: after its first token, with 199
    // to come (polling `inFlight` could miss a request the engine finishes between two polls).
    const stream = await openai.completions.create({ ...ask('tiny-a', 200), ignore_eos: true, stream: true } as never);
    const chunks = (stream as unknown as AsyncIterable<{ choices: { text: string; finish_reason: string | null }[] }>)[Symbol.asyncIterator]();
    const first = await chunks.next();
    expect(first.done).toBe(false);
    expect(gateway.models()[0]!.inFlight).toBe(1);
    const closing = gateway.close({ graceMs: 60_000 });
    await new Promise((resolve) => setTimeout(resolve, 50));
    await expect(fetch(`${gateway.url}/health`)).rejects.toThrow();
    let tokens = 1;
    let finish: string | null = null;
    for (let next = await chunks.next(); !next.done; next = await chunks.next()) {
      const choice = next.value.choices[0];
      if (choice?.text) tokens++;
      finish = choice?.finish_reason ?? finish;
    }
    expect({ tokens, finish }).toEqual({ tokens: 200, finish: 'length' });
    await closing;
    expect(isAlive(pid)).toBe(false);
  });

  test('budget for one model: never two loads at once; a busy model is not unloaded, the other waits (bounded, then 503)', async () => {
    const cost = await costs(fixture);
    const events: string[] = [];
    const gateway = await fixture.start({
      memoryBudget: Math.max(cost.a, cost.b) + 2 ** 20, queueTimeoutMs: 60_000,
      onEvent: (event) => (event.type === 'load' || event.type === 'unload') && events.push(`${event.type} ${event.model}`),
    });
    const openai = client(gateway.url);
    const both = await Promise.all([openai.completions.create(ask('tiny-a', 16)), openai.completions.create(ask('tiny-b', 16))]);
    expect(both.map((answer) => answer.usage?.completion_tokens)).toEqual([16, 16]);
    // Whichever came first ran; the other was loaded only after it was unloaded.
    expect(events).toHaveLength(3);
    expect(events[1]).toBe(events[0]!.replace('load', 'unload'));
    expect(events[2]).toMatch(/^load /);
    await gateway.close();

    const impatient = await fixture.start({ memoryBudget: Math.max(cost.a, cost.b) + 2 ** 20, queueTimeoutMs: 500, models: [{ ...fixture.models.a, ctxSize: 2048 }, fixture.models.b] });
    const long = fetch(`${impatient.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...ask('tiny-a', 1500), ignore_eos: true }) });
    await eventually(() => impatient.models()[0]!.inFlight === 1 && state(impatient, 'tiny-a') === 'loaded');
    const refused = await fetch(`${impatient.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(ask('tiny-b')) });
    expect(refused.status).toBe(503);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('memory_busy');
    expect((await long).status).toBe(200);
    expect(state(impatient, 'tiny-a')).toBe('loaded');
  });

  test('a model whose engine cannot start: 502 with its output, `failed`, then backoff (503 with Retry-After)', async () => {
    const corrupt = join(fixture.home, 'corrupt.gguf');
    await writeFile(corrupt, Buffer.concat([Buffer.from('GGUF'), Buffer.alloc(64, 0xff)]));
    const gateway = await fixture.start({ models: [{ ...fixture.models.a, name: 'broken', model: corrupt, aliases: [] }] });
    const post = () => fetch(`${gateway.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(ask('broken')) });
    const first = await post();
    expect(first.status).toBe(502);
    const body = (await first.json()) as { error: { message: string; code: string } };
    expect(body.error.code).toBe('load_failed');
    expect(body.error.message).toContain('--- last output ---');
    expect(gateway.models()[0]).toMatchObject({ state: 'failed', failure: expect.stringContaining('could not be started') });
    expect((await post()).status).toBe(502); // the next request tries again at once
    const third = await post(); // after two failures in a row: backoff
    expect(third.status).toBe(503);
    expect(Number(third.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(((await third.json()) as { error: { code: string } }).error.code).toBe('engine_failed');
  });

  test('an engine killed mid-stream: the stream ends with an error event carrying its last log lines', async () => {
    const gateway = await fixture.start({ models: [{ ...fixture.models.a, ctxSize: 2048 }] });
    const openai = client(gateway.url);
    const stream = await openai.completions.create({ ...ask('tiny-a', 2000), ignore_eos: true, stream: true } as never) as unknown as AsyncIterable<unknown>;
    let chunks = 0;
    const error = await (async () => {
      for await (const _ of stream) if (++chunks === 3) process.kill(pidOf(gateway, 'tiny-a')!, 'SIGKILL');
    })().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect((error as Error).message).toContain('was killed by SIGKILL');
    expect((error as Error).message).toContain('--- last output ---');
    await eventually(() => state(gateway, 'tiny-a') === 'failed');
  });
});

