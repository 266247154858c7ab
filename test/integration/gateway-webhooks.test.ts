/**
 * Replicate webhooks from the gateway, against the REAL engine, created with the official `replicate` client and
 * checked with its `validateWebhook()` and the secret read from `/v1/webhooks/default/secret`: start, output and
 * completed in order; the events filter; 500 twice then 200 is delivered (one webhook-id, three attempts); a receiver
 * that never answers holds neither the prediction nor the gateway's close; a destination outside `webhooks.allow` is
 * a 422 that starts nothing (a name in the list that resolves outside it too); a redirect is not followed; the secret
 * is kept for the next gateway.
 */
import { stat } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import Replicate, { validateWebhook } from 'replicate';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Gateway } from '../../src/gateway/start-gateway.js';
import { eventually, gatewayFixture, state, type GatewayFixture } from '../helpers/gateway.js';

const KEY = 'r8_webhook_key';
let fixture: GatewayFixture;
let gateway: Gateway;
let replicate: Replicate;
let secret: string;

interface Delivery {
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
}

/** A loopback receiver that records every request and answers as `answer` says. */
async function receiver(answer: (delivery: Delivery, res: ServerResponse, n: number) => void = (_d, res) => res.end('ok')) {
  const deliveries: Delivery[] = [];
  const server: Server = createServer((req: IncomingMessage, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      const delivery = { headers: req.headers, body, at: performance.now() };
      deliveries.push(delivery);
      answer(delivery, res, deliveries.length);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  return {
    url, deliveries,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

const valid = (delivery: Delivery) => {
  const header = (name: string) => String(delivery.headers[name] ?? '');
  return validateWebhook({ id: header('webhook-id'), timestamp: header('webhook-timestamp'), signature: header('webhook-signature'), body: delivery.body, secret });
};
const input = { prompt: 'Once upon a time', max_tokens: 24, temperature: 0 };

beforeAll(async () => {
  fixture = await gatewayFixture();
  gateway = await fixture.start({ apiKeys: [KEY], models: [{ ...fixture.models.a, ctxSize: 2048 }] });
  replicate = new Replicate({ auth: KEY, baseUrl: `${gateway.url}/v1` });
  secret = ((await replicate.webhooks.default.secret.get()) as { key: string }).key;
});
afterAll(() => fixture.cleanup());

describe('gateway: Replicate webhooks', () => {
  test('the secret route needs the key and gives a whsec_ secret, kept (0600) for the next gateway', async () => {
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect((await fetch(`${gateway.url}/v1/webhooks/default/secret`)).status).toBe(401);
    expect((await stat(join(fixture.home, 'webhook-secret'))).mode & 0o777).toBe(0o600);
    const next = await fixture.start({ models: [fixture.models.a] });
    expect(await (await fetch(`${next.url}/v1/webhooks/default/secret`)).json()).toEqual({ key: secret });
  });

  test('start, output, completed: in order, signed, each the prediction object', async () => {
    const hook = await receiver();
    try {
      // Long enough (1500 tokens, a second or more here) for several throttled output deliveries.
      const created = await replicate.predictions.create({ model: 'llamactl/tiny-a', input: { ...input, max_tokens: 1500, min_tokens: 1500 }, webhook: hook.url });
      expect(created).toMatchObject({ webhook: hook.url, webhook_events_filter: ['start', 'output', 'logs', 'completed'] });
      await eventually(() => hook.deliveries.some((d) => JSON.parse(d.body).status === 'succeeded'));
      await new Promise((resolve) => setTimeout(resolve, 300));
      const bodies = hook.deliveries.map((d) => JSON.parse(d.body) as { id: string; status: string; output: string[] | null });
      for (const delivery of hook.deliveries) expect(await valid(delivery)).toBe(true);
      expect(bodies.every((body) => body.id === created.id)).toBe(true);
      expect(bodies[0]!.status).toBe('starting');
      expect(bodies.at(-1)!.status).toBe('succeeded');
      expect(bodies.filter((body) => body.status === 'succeeded')).toHaveLength(1);
      const final = await replicate.predictions.get(created.id);
      expect(bodies.at(-1)!.output).toEqual(final.output);
      // Output only grows from one delivery to the next, and the deliveries between are throttled to one per 500 ms.
      const lengths = bodies.map((body) => body.output?.length ?? 0);
      expect([...lengths].sort((a, b) => a - b)).toEqual(lengths);
      expect(bodies.slice(1, -1).every((body) => body.status === 'processing')).toBe(true);
      expect(bodies.length).toBeGreaterThanOrEqual(4);
      const middle = hook.deliveries.slice(1, -1);
      // Seen from the receiver, each arrival is late by however long its own send took (a loaded machine: 200 ms and
      // more), so the bounds hold for any such delay: k sends 500 ms apart span at least 500 (k - 1) ms, less the
      // first one's delay; a flood would send one per token, ms apart.
      const span = hook.deliveries.at(-1)!.at - middle[0]!.at;
      expect(middle.length).toBeLessThanOrEqual(span / 500 + 2);
      for (let i = 1; i < middle.length; i++) expect(middle[i]!.at - middle[i - 1]!.at).toBeGreaterThan(100);
      expect(new Set(hook.deliveries.map((d) => d.headers['webhook-id'])).size).toBe(hook.deliveries.length);
    } finally {
      await hook.close();
    }
  });

  test('a canceled prediction: completed once, with status canceled', async () => {
    const hook = await receiver();
    try {
      const created = await replicate.predictions.create({ model: 'llamactl/tiny-a', input: { ...input, max_tokens: 1800, min_tokens: 1800 }, webhook: hook.url, webhook_events_filter: ['start', 'completed'] });
      await eventually(() => hook.deliveries.length > 0);
      await eventually(async () => (await replicate.predictions.get(created.id)).status === 'processing');
      expect((await replicate.predictions.cancel(created.id)).status).toBe('canceled');
      await eventually(() => hook.deliveries.length >= 2);
      await new Promise((resolve) => setTimeout(resolve, 700));
      expect(hook.deliveries.map((d) => JSON.parse(d.body).status)).toEqual(['starting', 'canceled']);
      for (const delivery of hook.deliveries) expect(await valid(delivery)).toBe(true);
    } finally {
      await hook.close();
    }
  });

  test('webhook_events_filter: only completed', async () => {
    const hook = await receiver();
    try {
      const created = await replicate.predictions.create({ model: 'llamactl/tiny-a', input, webhook: hook.url, webhook_events_filter: ['completed'], wait: true });
      expect(created.status).toBe('succeeded');
      await eventually(() => hook.deliveries.length > 0);
      await new Promise((resolve) => setTimeout(resolve, 700));
      expect(hook.deliveries.map((d) => JSON.parse(d.body).status)).toEqual(['succeeded']);
      expect(await valid(hook.deliveries[0]!)).toBe(true);
    } finally {
      await hook.close();
    }
  });

  test('a receiver that answers 500 twice and then 200 gets the delivery: one message, three attempts', async () => {
    const hook = await receiver((_d, res, n) => res.writeHead(n <= 2 ? 500 : 200).end());
    try {
      await replicate.predictions.create({ model: 'llamactl/tiny-a', input, webhook: hook.url, webhook_events_filter: ['completed'], wait: true });
      await eventually(() => hook.deliveries.length >= 3);
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(hook.deliveries).toHaveLength(3);
      expect(new Set(hook.deliveries.map((d) => d.headers['webhook-id'])).size).toBe(1);
      for (const delivery of hook.deliveries) expect(await valid(delivery)).toBe(true);
    } finally {
      await hook.close();
    }
  });

  test('a redirect from the receiver is not followed', async () => {
    const elsewhere = await receiver();
    const hook = await receiver((_d, res) => res.writeHead(302, { location: elsewhere.url }).end());
    try {
      await replicate.predictions.create({ model: 'llamactl/tiny-a', input, webhook: hook.url, webhook_events_filter: ['completed'], wait: true });
      await eventually(() => hook.deliveries.length > 0);
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(hook.deliveries).toHaveLength(1);
      expect(elsewhere.deliveries).toHaveLength(0);
    } finally {
      await Promise.all([hook.close(), elsewhere.close()]);
    }
  });

  test('destinations outside webhooks.allow are refused with 422, and nothing is started', async () => {
    const quiet = await fixture.start({ models: [fixture.models.a] });
    const create = (webhook: string) => fetch(`${quiet.url}/v1/predictions`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ version: 'tiny-a', input, webhook }),
    });
    for (const webhook of ['http://192.0.2.1/hook', 'http://10.0.0.1:8080/', 'https://example.com/hook', 'ftp://127.0.0.1/x', 'http://user:pw@127.0.0.1/']) {
      const answer = await create(webhook);
      expect(answer.status, webhook).toBe(422);
      const { detail } = (await answer.json()) as { detail: string };
      expect(detail, webhook).toMatch(webhook.startsWith('http://1') || webhook.startsWith('https') ? /webhooks\.allow/ : /webhook/);
    }
    // A name in the list that resolves to an address outside it.
    const named = await fixture.start({ models: [fixture.models.a], webhookAllow: ['localhost', '10.0.0.0/8'] });
    const outside = await fetch(`${named.url}/v1/predictions`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ version: 'tiny-a', input, webhook: 'http://localhost:9/hook' }),
    });
    expect(outside.status).toBe(422);
    expect(((await outside.json()) as { detail: string }).detail).toMatch(/localhost resolves to .* not in webhooks\.allow/);
    expect(state(named, 'tiny-a')).toBe('unloaded');
    const filter = await fetch(`${quiet.url}/v1/predictions`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ version: 'tiny-a', input, webhook: 'http://127.0.0.1:9/', webhook_events_filter: ['finished'] }),
    });
    expect(filter.status).toBe(422);
    const filterAlone = await fetch(`${quiet.url}/v1/predictions`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ version: 'tiny-a', input, webhook_events_filter: 'completed' }),
    });
    expect(filterAlone.status).toBe(422);
    expect(state(quiet, 'tiny-a')).toBe('unloaded');
    // `webhook: null` is no webhook.
    const none = await fetch(`${quiet.url}/v1/predictions`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ version: 'tiny-a', input, webhook: null }),
    });
    expect(none.status).toBe(201);
    expect(await none.json()).not.toHaveProperty('webhook');
  });

  test('a receiver that never answers holds neither the prediction nor the gateway', async () => {
    const hook = await receiver(() => undefined);
    const own = await fixture.start({ models: [fixture.models.a] });
    try {
      const answer = await fetch(`${own.url}/v1/predictions`, {
        method: 'POST', headers: { 'content-type': 'application/json', prefer: 'wait' }, body: JSON.stringify({ version: 'tiny-a', input, webhook: hook.url }),
      });
      expect(((await answer.json()) as { status: string }).status).toBe('succeeded');
      await eventually(() => hook.deliveries.length > 0);
      // The start delivery is still waiting for its answer (10 s per attempt); close aborts it rather than waiting.
      const started = performance.now();
      const closed = await Promise.race([own.close({ graceMs: 0 }).then(() => 'closed'), new Promise((resolve) => setTimeout(() => resolve('still open after 8 s'), 8000))]);
      expect(closed).toBe('closed');
      expect(performance.now() - started).toBeLessThan(8000);
    } finally {
      await hook.close();
    }
  });
});
