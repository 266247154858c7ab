/**
 * What a web page cannot do to the gateway, tested with raw HTTP (so the Host and Origin headers are exactly what a
 * browser would send) against the REAL engine: a rebinding Host is refused on every route, /health included; a
 * cross-origin request from a page not in `cors.origins` is refused, and its preflight gets no CORS headers; an
 * allowed origin gets correct ones; a `text/plain` "simple" POST is refused with 415. None of the refusals starts an
 * engine: checked in the scheduler's state and in the process table (no child process of this test runs).
 */
import { request } from 'node:http';
import { readdirSync, readFileSync } from 'node:fs';
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Gateway } from '../../src/gateway/start-gateway.js';
import { gatewayFixture, state, type GatewayFixture } from '../helpers/gateway.js';

let fixture: GatewayFixture;
let gateway: Gateway;
const KEY = 'guard-test-key';
const APP = 'http://app.example:3000';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request with exactly these headers (fetch cannot set Host). */
function raw(method: string, path: string, headers: Record<string, string>, body?: string, port = gateway.port): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers: { host: `localhost:${port}`, ...headers }, setHost: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const chat = JSON.stringify({ model: 'tiny-a', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 });
const json = { 'content-type': 'application/json', authorization: `Bearer ${KEY}` };

/** The pids of this process's children (engines the gateway would have started). */
function children(): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === process.pid) found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

function nothingLoaded(): void {
  expect(gateway.models().map((model) => [model.name, model.state, model.pid])).toEqual([
    ['tiny-a', 'unloaded', undefined],
    ['tiny-b', 'unloaded', undefined],
  ]);
}

beforeAll(async () => {
  fixture = await gatewayFixture();
  gateway = await fixture.start({
    apiKeys: [KEY],
    models: [fixture.models.a, fixture.models.b],
    allowedHosts: ['llm.home.arpa', '*.proxy.test'],
    corsOrigins: [APP],
  });
});
afterAll(() => fixture.cleanup());

describe('gateway: Host, Origin and Content-Type checks', () => {
  test('a rebinding Host is refused on every route, /health included, with a body that names the setting', async () => {
    const evil = { host: `evil.example:${gateway.port}` };
    const routes: [string, string][] = [
      ['GET', '/health'], ['GET', '/v1/models'], ['GET', '/gateway/models'], ['GET', '/metrics'], ['POST', '/v1/chat/completions'],
      ['POST', '/v1/messages'], ['POST', '/v1/predictions'], ['POST', '/ai/run/tiny-a'], ['GET', '/v1/streams/abcdefghijklmnop'], ['GET', '/nope'],
    ];
    for (const [method, path] of routes) {
      const answer = await raw(method, path, { ...evil, ...json }, method === 'POST' ? chat : undefined);
      expect(answer.status, `${method} ${path}`).toBe(403);
      expect(answer.body).toContain('allowedHosts');
      expect(answer.body).toContain('evil.example');
    }
    // A rebinding name that ends like an allowed one is still another name.
    expect((await raw('GET', '/health', { host: `llm.home.arpa.evil.example:${gateway.port}` })).status).toBe(403);
    expect((await raw('GET', '/health', { host: 'bad host' })).status).toBe(403);
    nothingLoaded();
  });

  test('localhost, loopback addresses and configured names are served', async () => {
    for (const host of [`localhost:${gateway.port}`, `127.0.0.1:${gateway.port}`, '127.0.0.2', `[::1]:${gateway.port}`, 'LLM.home.arpa', 'a.proxy.test:443', 'app.localhost']) {
      expect((await raw('GET', '/health', { host })).status, host).toBe(200);
    }
  });

  test('a preflight from an origin that is not allowed gets no CORS headers; from an allowed one, correct headers', async () => {
    const preflight = (origin: string) => raw('OPTIONS', '/v1/chat/completions', {
      origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type, x-stainless-os',
    });
    const refused = await preflight('http://evil.example');
    expect(refused.status).toBe(403);
    expect(Object.keys(refused.headers).filter((name) => name.startsWith('access-control-'))).toEqual([]);
    const allowed = await preflight(APP);
    expect(allowed.status).toBe(204);
    expect(allowed.headers['access-control-allow-origin']).toBe(APP);
    expect(allowed.headers.vary).toBe('Origin');
    expect(String(allowed.headers['access-control-allow-methods'])).toContain('POST');
    const headers = String(allowed.headers['access-control-allow-headers']).split(', ');
    expect(headers).toEqual(expect.arrayContaining(['authorization', 'x-api-key', 'content-type', 'x-stainless-os']));
    expect(Number(allowed.headers['access-control-max-age'])).toBeGreaterThan(0);
    // The actual request from that origin carries the header; the gateway's own page (same origin) needs none.
    const listed = await raw('GET', '/v1/models', { origin: APP, authorization: `Bearer ${KEY}` });
    expect(listed.status).toBe(200);
    expect(listed.headers['access-control-allow-origin']).toBe(APP);
    const same = await raw('GET', '/v1/models', { origin: `http://localhost:${gateway.port}`, authorization: `Bearer ${KEY}` });
    expect(same.status).toBe(200);
    expect(same.headers['access-control-allow-origin']).toBeUndefined();
  });

  test('text/plain JSON (a "simple" cross-site POST) gets 415 and starts no engine', async () => {
    const before = children();
    for (const type of ['text/plain;charset=UTF-8', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      const answer = await raw('POST', '/v1/chat/completions', { 'content-type': type, authorization: `Bearer ${KEY}` }, chat);
      expect(answer.status, type).toBe(415);
      expect(JSON.parse(answer.body)).toMatchObject({ error: { code: 'unsupported_media_type' } });
    }
    // Without any Content-Type, a body is refused too; the Replicate and Workers AI routes alike.
    expect((await raw('POST', '/v1/chat/completions', { authorization: `Bearer ${KEY}` }, chat)).status).toBe(415);
    expect((await raw('POST', '/v1/models/llamactl/tiny-a/predictions', { 'content-type': 'text/plain', authorization: `Bearer ${KEY}` }, '{"input":{"prompt":"x"}}')).status).toBe(415);
    expect((await raw('POST', '/ai/run/tiny-a', { 'content-type': 'text/plain', authorization: `Bearer ${KEY}` }, '{"prompt":"x"}')).status).toBe(415);
    nothingLoaded();
    expect(children()).toEqual(before);
  });

  test('a cross-origin POST with a disallowed Origin gets 403 and starts no engine, even with a valid key', async () => {
    const before = children();
    for (const origin of ['http://evil.example', 'null', `http://localhost:${gateway.port + 1}`]) {
      const answer = await raw('POST', '/v1/chat/completions', { ...json, origin }, chat);
      expect(answer.status, origin).toBe(403);
      expect(answer.body).toContain('cors.origins');
    }
    nothingLoaded();
    expect(children()).toEqual(before);
  });

  test('refusals on the Anthropic routes come in Anthropic\'s error shape, and its SDK raises its own classes', async () => {
    const answer = await raw('POST', '/v1/messages', { ...json, 'content-type': 'text/plain' }, '{}');
    expect(answer.status).toBe(415);
    expect(JSON.parse(answer.body)).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    const anthropic = new Anthropic({ baseURL: gateway.url, apiKey: 'wrong', maxRetries: 0 });
    await expect(anthropic.messages.create({ model: 'tiny-a', max_tokens: 2, messages: [{ role: 'user', content: 'hi' }] })).rejects.toBeInstanceOf(Anthropic.AuthenticationError);
    nothingLoaded();
  });

  test('cors.origins "*" needs keys', async () => {
    await expect(fixture.start({ corsOrigins: ['*'], models: [fixture.models.a] })).rejects.toThrow(/needs API keys/);
  });

  test('the state checks above really see a load', async () => {
    const answer = await raw('POST', '/v1/chat/completions', json, chat);
    expect(answer.status).toBe(200);
    expect(state(gateway, 'tiny-a')).toBe('loaded');
    expect(children()).toContain(gateway.models()[0]!.pid);
  });
});
