/**
 * The gateway's status page and the API behind it, against the REAL engine: `/gateway/models`, the `/gateway/events`
 * stream, load and unload; then the page itself in real headless Chromium (two models shown, load through the page
 * → ready and the budget bar filled, an `openai` request listed within a second, unload frees the bar, a wrong key
 * explained, a screenshot), and a page of another origin that can neither read the gateway nor load a model.
 */
import { createServer, type Server } from 'node:http';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Gateway } from '../../src/gateway/start-gateway.js';
import { launchBrowser, noBrowser } from '../helpers/browser.js';
import { eventually, gatewayFixture, state, type GatewayFixture } from '../helpers/gateway.js';

const KEY = 'status-page-key';
let fixture: GatewayFixture;
let gateway: Gateway;
let temp: string;

beforeAll(async () => {
  fixture = await gatewayFixture();
  temp = await mkdtemp(join(tmpdir(), 'llamactl-status-'));
  gateway = await fixture.start({ models: [fixture.models.a, fixture.models.b], apiKeys: [KEY] });
});

afterAll(async () => {
  await fixture?.cleanup();
  if (temp) await rm(temp, { recursive: true, force: true });
});

const auth = { authorization: `Bearer ${KEY}` };

/** Reads SSE frames from `/gateway/events` until `until` says stop (or 30 s pass). */
async function readEvents(until: (events: { event: string; data: any }[]) => boolean): Promise<{ event: string; data: any }[]> {
  const response = await fetch(`${gateway.url}/gateway/events`, { headers: auth, signal: AbortSignal.timeout(30_000) });
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toBe('text/event-stream');
  const events: { event: string; data: any }[] = [];
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of response.body!) {
    buffer += decoder.decode(chunk as Uint8Array, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event = /^event: (.*)$/m.exec(frame)?.[1];
      const data = /^data: (.*)$/m.exec(frame)?.[1];
      if (event && data) events.push({ event, data: JSON.parse(data) });
    }
    if (until(events)) break;
  }
  return events;
}

describe('the API behind the page', () => {
  test('GET /gateway/models: every model, the budget and the last requests; the key is needed', async () => {
    expect((await fetch(`${gateway.url}/gateway/models`)).status).toBe(401);
    const body = (await (await fetch(`${gateway.url}/gateway/models`, { headers: auth })).json()) as any;
    expect(body.models.map((model: { name: string; state: string }) => [model.name, model.state])).toEqual([['tiny-a', 'unloaded'], ['tiny-b', 'unloaded']]);
    expect(body.budget).toMatchObject({ memoryBytes: expect.any(Number), holders: [] });
    expect(body.recent).toEqual([]);
  });

  test('load and unload are JSON POSTs; the event stream shows loading, ready, the request, unloaded', async () => {
    const plain = await fetch(`${gateway.url}/gateway/models/tiny-b/load`, { method: 'POST', headers: auth });
    expect(plain.status).toBe(415);
    expect(state(gateway, 'tiny-b')).toBe('unloaded');

    const seen = readEvents((events) => events.some((e) => e.event === 'request') && events.at(-1)?.data.models?.[1]?.state === 'unloaded');
    await new Promise((resolve) => setTimeout(resolve, 200));
    const load = await fetch(`${gateway.url}/gateway/models/tiny-b/load`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{}' });
    expect(load.status).toBe(200);
    expect(((await load.json()) as any).model).toMatchObject({ name: 'tiny-b', state: 'loaded', pid: expect.any(Number) });
    const openai = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: KEY });
    await openai.chat.completions.create({ model: 'tiny-b', messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 });
    const unload = await fetch(`${gateway.url}/gateway/models/tiny-b/unload`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{}' });
    expect(unload.status).toBe(200);
    const events = await seen;

    expect(events[0]!.event).toBe('snapshot');
    const states = events.filter((e) => e.data.models).map((e) => e.data.models[1].state);
    expect(states).toEqual(expect.arrayContaining(['loaded', 'unloaded']));
    expect(states.indexOf('loaded')).toBeLessThan(states.lastIndexOf('unloaded'));
    const held = events.find((e) => e.data.models?.[1].state === 'loaded')!.data.budget.holders;
    expect(held).toEqual([{ name: 'tiny-b', memoryBytes: expect.any(Number), gpuMemoryBytes: 0 }]);
    const request = events.find((e) => e.event === 'request')!.data;
    expect(request).toMatchObject({ route: '/v1/chat/completions', model: 'tiny-b', api: 'openai', status: 200, completionTokens: expect.any(Number) });
    expect(request.firstByteMs).toBeLessThanOrEqual(request.ms);
    expect(state(gateway, 'tiny-b')).toBe('unloaded');
  });

  test('an unknown model is a 404; the page is served with a strict CSP, and / leads to it', async () => {
    const missing = await fetch(`${gateway.url}/gateway/models/nope/load`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{}' });
    expect(missing.status).toBe(404);
    const page = await fetch(`${gateway.url}/ui`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    expect(await page.text()).toContain('<script src="/ui/app.js"');
    const root = await fetch(`${gateway.url}/`, { redirect: 'manual' });
    expect([root.status, root.headers.get('location')]).toEqual([302, '/ui']);
  });
});

describe.skipIf(noBrowser !== undefined)(`in headless Chromium${noBrowser ? ` (skipped: ${noBrowser})` : ''}`, () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
  });

  test('the page: a wrong key explained, two models, load → ready and the bar filled, a request listed within 1 s, unload frees the bar', async () => {
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));
    page.on('console', (message) => message.type() === 'error' && !message.text().includes('401') && problems.push(message.text()));
    await page.goto(`${gateway.url}/ui`);

    await page.locator('#key-input').fill('not-the-key');
    await page.getByRole('button', { name: 'Use this key' }).click();
    await expect.poll(() => page.locator('#key-message').textContent()).toContain('refused this key');
    await page.getByLabel('API key').fill(KEY);
    await page.getByRole('button', { name: 'Use this key' }).click();

    await page.locator('#models tbody tr').nth(1).waitFor();
    expect(await page.locator('#models tbody tr').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-model')))).toEqual(['tiny-a', 'tiny-b']);
    expect(await page.locator('#budget .bar').getAttribute('data-used')).toBe('0');

    await page.getByRole('button', { name: 'Load tiny-a', exact: true }).click();
    await page.locator('tr[data-model="tiny-a"][data-state="ready"]').waitFor({ timeout: 60_000 });
    expect(state(gateway, 'tiny-a')).toBe('loaded');
    expect(Number(await page.locator('#budget .bar').getAttribute('data-used'))).toBeGreaterThan(0);
    expect(await page.locator('#budget .bar span').count()).toBe(1);
    expect(await page.locator('#budget .bar-label').textContent()).toContain('tiny-a');

    const openai = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: KEY });
    await openai.chat.completions.create({ model: 'tiny-a', messages: [{ role: 'user', content: 'hello' }], max_tokens: 4 });
    await page.locator('#requests tbody tr[data-route="/v1/chat/completions"][data-model="tiny-a"]').waitFor({ timeout: 1000 });

    await page.getByRole('button', { name: 'Unload tiny-a', exact: true }).click();
    await page.locator('tr[data-model="tiny-a"][data-state="unloaded"]').waitFor({ timeout: 30_000 });
    expect(state(gateway, 'tiny-a')).toBe('unloaded');
    await expect.poll(() => page.locator('#budget .bar').getAttribute('data-used')).toBe('0');

    const shot = join(temp, 'status-page.png');
    await page.screenshot({ path: shot, fullPage: true });
    const png = await readFile(shot);
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    expect(png.length).toBeGreaterThan(5000);
    if (process.env.LLAMACTL_STATUS_SCREENSHOT) await page.screenshot({ path: process.env.LLAMACTL_STATUS_SCREENSHOT, fullPage: true });
    expect(problems).toEqual([]);
    await page.close();
  });

  test('a page of another origin: fetch to the gateway is blocked, and a text/plain POST loads nothing', async () => {
    const open = await fixture.start({ models: [fixture.models.a] });
    const site: Server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>elsewhere</title>'));
    await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
    try {
      const page = await browser.newPage();
      await page.goto(`http://127.0.0.1:${(site.address() as AddressInfo).port}/`);
      const attempts = await page.evaluate(async (url) => {
        const outcome = (promise: Promise<Response>) => promise.then((r) => `read ${r.status} ${r.type}`, (e: Error) => `blocked: ${e.name}`);
        const chat = JSON.stringify({ model: 'tiny-a', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 });
        return {
          models: await outcome(fetch(`${url}/gateway/models`)),
          chat: await outcome(fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: chat })),
          plain: await outcome(fetch(`${url}/v1/chat/completions`, { method: 'POST', mode: 'no-cors', headers: { 'content-type': 'text/plain' }, body: chat })),
          load: await outcome(fetch(`${url}/gateway/models/tiny-a/load`, { method: 'POST', mode: 'no-cors', body: '{}' })),
        };
      }, open.url);
      expect(attempts).toEqual({ models: 'blocked: TypeError', chat: 'blocked: TypeError', plain: 'read 0 opaque', load: 'read 0 opaque' });
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(open.models().map((model) => [model.state, model.pid])).toEqual([['unloaded', undefined]]);
      // The same page, allowed by cors.origins on another gateway, can: the refusals above were the gateway's.
      const allowing = await fixture.start({ models: [fixture.models.a], corsOrigins: [new URL(page.url()).origin] });
      const allowed = await page.evaluate(async (url) => (await fetch(`${url}/gateway/models`)).status, allowing.url);
      expect(allowed).toBe(200);
      await page.close();
      await eventually(() => open.models()[0]!.state === 'unloaded');
    } finally {
      site.close();
    }
  });
});
