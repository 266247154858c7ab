/**
 * The webhook pieces on their own: the signature as the `replicate` client checks it, the allow-list (names,
 * wildcards, addresses, CIDRs, and names that resolve outside it), and the sender's throttle over a prediction whose
 * output grows for two seconds.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { validateWebhook } from 'replicate';
import { describe, expect, test } from 'vitest';
import { parseGatewayConfig } from '../../../src/gateway/config.js';
import { GatewayError } from '../../../src/gateway/gateway-error.js';
import { PredictionStore } from '../../../src/gateway/prediction-store.js';
import { WebhookSender, type WebhookEvent } from '../../../src/gateway/webhook-sender.js';
import { checkWebhookSecret, newWebhookSecret, signWebhook } from '../../../src/gateway/webhook-sign.js';
import { WebhookAllowList, type WebhookTarget } from '../../../src/gateway/webhook-target.js';

describe('webhook signatures', () => {
  test('validateWebhook accepts them, and refuses a changed body or another secret', async () => {
    const secret = newWebhookSecret();
    const body = JSON.stringify({ id: 'abc', status: 'succeeded', output: ['héllo'] });
    const signature = signWebhook(secret, 'msg_1', 1_700_000_000, body);
    const check = (text: string, key: string) => validateWebhook({ id: 'msg_1', timestamp: '1700000000', signature, body: text, secret: key });
    expect(await check(body, secret)).toBe(true);
    expect(await check(body.replace('succeeded', 'failed'), secret)).toBe(false);
    expect(await check(body, newWebhookSecret())).toBe(false);
  });

  test('a known vector (Standard Webhooks), which the replicate client accepts too', async () => {
    const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
    const [id, timestamp, body] = ['msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}'] as const;
    const signature = signWebhook(secret, id, timestamp, body);
    expect(signature).toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
    expect(await validateWebhook({ id, timestamp: String(timestamp), signature, body, secret })).toBe(true);
  });

  test('a configured secret must look like one', () => {
    expect(() => checkWebhookSecret('hunter2')).toThrow(/whsec_/);
    expect(checkWebhookSecret('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw')).toMatch(/^whsec_/);
  });
});

test('the webhooks config section: allow, secret (from the environment), timeout; unknown keys and bad timeouts refused', () => {
  const text = 'webhooks:\n  allow: [hooks.test, 10.0.0.0/8]\n  secret: "${HOOK_SECRET}"\n  timeout: 5s\n';
  const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
  expect(parseGatewayConfig(text, 'g.yaml', { HOOK_SECRET: secret })).toEqual({ webhookAllow: ['hooks.test', '10.0.0.0/8'], webhookSecret: secret, webhookTimeoutMs: 5000 });
  expect(() => parseGatewayConfig('webhooks:\n  allowed: [x]\n', 'g.yaml')).toThrow(/webhooks: unknown key "allowed"/);
  const sender = (timeoutMs: number) => new WebhookSender({ allow: new WebhookAllowList(), secret, timeoutMs });
  expect(() => sender(0)).toThrow(/webhooks.timeout/);
  expect(() => sender(10 * 60_000)).toThrow(/webhooks.timeout/);
  expect(sender(5000)).toBeInstanceOf(WebhookSender);
});

describe('webhooks.allow', () => {
  test('loopback by default; names, *.domain, addresses and CIDRs when configured', async () => {
    const loopback = new WebhookAllowList();
    await expect(loopback.check('http://127.0.0.1:9/x')).resolves.toMatchObject({ address: '127.0.0.1', family: 4 });
    await expect(loopback.check('http://[::1]:9/x')).resolves.toMatchObject({ address: '::1', family: 6 });
    await expect(loopback.check('http://localhost:9/x')).resolves.toMatchObject({ address: expect.stringMatching(/^(127\.|::1)/) });
    for (const url of ['http://192.0.2.1/', 'http://169.254.169.254/latest/meta-data', 'http://example.com/', 'http://[fd00::1]/', 'http://2130706433.example/']) {
      await expect(loopback.check(url), url).rejects.toMatchObject({ status: 422 });
    }
    const lan = new WebhookAllowList(['10.0.0.0/8', 'fd00::/8', '*.hooks.test', 'localhost']);
    expect(lan.allowsAddress('10.1.2.3')).toBe(true);
    expect(lan.allowsAddress('11.0.0.1')).toBe(false);
    expect(lan.allowsAddress('fd12::1')).toBe(true);
    expect(lan.allowsName('a.hooks.test')).toBe(true);
    expect(lan.allowsName('hooks.test.evil')).toBe(false);
    // Allowed by name, but it resolves to loopback, which this list does not allow.
    await expect(lan.check('http://localhost:9/')).rejects.toMatchObject({ status: 422, message: expect.stringMatching(/resolves to/) });
  });

  test('a bad entry is refused at start', () => {
    expect(() => new WebhookAllowList(['10.0.0.0/33'])).toThrow(/webhooks.allow/);
    expect(() => new WebhookAllowList(['http://x/'])).toThrow(/webhooks.allow/);
  });
});

/** A loopback receiver noting each delivery's time, status and output length; `follow` starts a sender on it. */
async function receiver(answer: number | ((n: number) => number | undefined) = 200) {
  const times: { at: number; status: string; length: number; id: string; host: string }[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      const parsed = JSON.parse(body) as { status: string; output: string[] };
      times.push({ at: performance.now(), status: parsed.status, length: parsed.output.length, id: String(req.headers['webhook-id']), host: String(req.headers.host) });
      const status = typeof answer === 'number' ? answer : answer(times.length);
      // undefined: no answer at all (the request stays open until the sender gives up on it).
      if (status !== undefined) res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const record = new PredictionStore().create('m', {});
  let sender: WebhookSender | undefined;
  return {
    times, record, port,
    async follow(events: WebhookEvent[], throttleMs: number, retry: { attempts?: number; backoffMs?: number; timeoutMs?: number } = {}, allow = new WebhookAllowList(), url = `http://127.0.0.1:${port}/`) {
      const target = await allow.check(url);
      sender = new WebhookSender({ allow, secret: newWebhookSecret(), throttleMs, ...retry });
      sender.follow(record, target, new Set(events), () => ({ status: record.status, output: record.output }));
    },
    /** Output growing every 10 ms for `ms`, then succeeded. */
    async generate(ms: number) {
      record.status = 'processing';
      const started = performance.now();
      while (performance.now() - started < ms) {
        record.output.push('x');
        record.notify();
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      record.status = 'succeeded';
      record.notify();
    },
    async waitFor(done: () => boolean, ms = 5000) {
      const deadline = performance.now() + ms;
      while (!done() && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      await sender?.close();
      server.closeAllConnections();
      server.close();
    },
  };
}

test('output deliveries are throttled to one per throttleMs, with the latest state, and completed comes last', async () => {
  const { times, record, follow, generate, waitFor } = await receiver();
  await follow(['output', 'completed'], 300);
  await generate(1500);
  await waitFor(() => times.at(-1)?.status === 'succeeded');
  expect(times.at(-1)).toMatchObject({ status: 'succeeded', length: record.output.length });
  const outputs = times.filter((entry) => entry.status === 'processing');
  // 1.5 s of output at one per 300 ms: about 5 (fewer on a busy machine, never more than 6).
  expect(outputs.length).toBeGreaterThanOrEqual(2);
  expect(outputs.length).toBeLessThanOrEqual(6);
  // Each arrival is late by its own send's time (more on a busy machine), so this bound holds for any such delay:
  // k sends throttleMs apart span at least throttleMs (k - 1), less the first one's delay.
  expect(outputs.length).toBeLessThanOrEqual((times.at(-1)!.at - outputs[0]!.at) / 300 + 2);
  for (let i = 1; i < outputs.length; i++) expect(outputs[i]!.length).toBeGreaterThan(outputs[i - 1]!.length);
});

test('without completed in the filter, the last output the throttle held back is still delivered, once', async () => {
  const { times, record, follow, generate, waitFor } = await receiver();
  await follow(['output'], 1000);
  await generate(200);
  await waitFor(() => times.at(-1)?.length === record.output.length);
  await new Promise((resolve) => setTimeout(resolve, 200));
  // The first growth at once, then (within the throttle's second) nothing until the end brings the last state.
  expect(times).toHaveLength(2);
  expect(times[0]!.length).toBeLessThan(record.output.length);
  expect(times[1]!.length).toBe(record.output.length);
  expect(times.at(-1)!.status).toBe('succeeded');
});

test('a failed output delivery gives way to a newer state; completed is retried as one message', async () => {
  const { times, record, follow, generate, waitFor } = await receiver(503);
  await follow(['output', 'completed'], 100, { attempts: 3, backoffMs: 200 });
  await generate(1000);
  await waitFor(() => times.filter((entry) => entry.status === 'succeeded').length === 3);
  const outputs = times.filter((entry) => entry.status === 'processing');
  // Each output message tried once: by its retry time a newer state was there, sent as a new message instead.
  expect(outputs.length).toBeGreaterThanOrEqual(2);
  expect(new Set(outputs.map((entry) => entry.id)).size).toBe(outputs.length);
  for (let i = 1; i < outputs.length; i++) expect(outputs[i]!.length).toBeGreaterThan(outputs[i - 1]!.length);
  const completed = times.filter((entry) => entry.status === 'succeeded');
  expect(completed).toHaveLength(3);
  expect(new Set(completed.map((entry) => entry.id)).size).toBe(1);
  expect(completed[0]!.length).toBe(record.output.length);
});

/** An allow-list whose name `hooks.invalid` (which never resolves) "resolves" to each address in turn. */
class Rebinding extends WebhookAllowList {
  constructor(private readonly addresses: string[]) {
    super();
  }
  override check(webhook: unknown): Promise<WebhookTarget> {
    const address = this.addresses.shift() ?? '127.0.0.1';
    if (!this.allowsAddress(address)) return Promise.reject(new GatewayError(422, 'webhook_not_allowed', `resolves to ${address}`));
    return Promise.resolve({ url: new URL(String(webhook)), address, family: 4 });
  }
}

test('each attempt connects to the address just checked, never to a lookup of its own', async () => {
  // The receiver listens on 127.0.0.1 only; hooks.invalid resolves nowhere. One attempt each.
  const reached = await receiver();
  await reached.follow(['completed'], 100, { attempts: 1 }, new Rebinding(['127.0.0.1', '127.0.0.1']), `http://hooks.invalid:${reached.port}/`);
  reached.record.status = 'succeeded';
  reached.record.notify();
  await reached.waitFor(() => reached.times.length > 0);
  expect(reached.times).toMatchObject([{ status: 'succeeded', host: `hooks.invalid:${reached.port}` }]);
  // Checked as 127.0.0.1 at creation, as 127.0.0.2 at the attempt: the request goes to .2, where nobody listens.
  const moved = await receiver();
  await moved.follow(['completed'], 100, { attempts: 1 }, new Rebinding(['127.0.0.1', '127.0.0.2']), `http://hooks.invalid:${moved.port}/`);
  moved.record.status = 'succeeded';
  moved.record.notify();
  await moved.waitFor(() => false, 500);
  expect(moved.times).toHaveLength(0);
});

test('a name that resolves outside webhooks.allow at a retry ends the message there', async () => {
  const { times, record, port, follow, waitFor } = await receiver(503);
  // Creation and the first attempt see loopback; the retry sees 192.0.2.1 and is not made.
  await follow(['completed'], 100, { attempts: 4, backoffMs: 50 }, new Rebinding(['127.0.0.1', '127.0.0.1', '192.0.2.1']), `http://hooks.invalid:${port}/`);
  record.status = 'succeeded';
  record.notify();
  await waitFor(() => false, 800);
  expect(times).toHaveLength(1);
});

test('an attempt without an answer within timeoutMs is retried as the same message', async () => {
  const { times, record, follow, waitFor } = await receiver((n) => (n === 1 ? undefined : 200));
  await follow(['completed'], 100, { attempts: 2, backoffMs: 50, timeoutMs: 300 });
  record.status = 'succeeded';
  record.notify();
  await waitFor(() => times.length >= 2);
  expect(times).toHaveLength(2);
  expect(times[1]!.id).toBe(times[0]!.id);
  expect(times[1]!.at - times[0]!.at).toBeGreaterThanOrEqual(300);
});
