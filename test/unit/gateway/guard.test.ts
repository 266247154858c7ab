import type { IncomingMessage, ServerResponse } from 'node:http';
import { networkInterfaces } from 'node:os';
import { describe, expect, test } from 'vitest';
import { hostName, RequestGuard } from '../../../src/gateway/guard.js';
import { GatewayError } from '../../../src/gateway/gateway-error.js';

const guard = (options: Partial<ConstructorParameters<typeof RequestGuard>[0]> = {}) => new RequestGuard({ boundHost: '127.0.0.1', ...options });

/** The parts of a request and a response the guard reads and writes. */
function exchange(method: string, headers: Record<string, string>) {
  const set: Record<string, string> = {};
  let status: number | undefined;
  const res = {
    setHeader: (name: string, value: string) => (set[name] = value),
    writeHead: (code: number, more: Record<string, string> = {}) => {
      status = code;
      Object.assign(set, more);
    },
    end: () => undefined,
  } as unknown as ServerResponse;
  return { req: { method, headers } as unknown as IncomingMessage, res, set, status: () => status };
}

describe('hostName', () => {
  test.each([
    ['localhost:8181', 'localhost'], ['LOCALHOST', 'localhost'], ['example.com.', 'example.com'], ['[::1]:80', '::1'],
    ['127.0.0.1', '127.0.0.1'], ['a b', undefined], ['', undefined], ['host:port', undefined], ['[zz]:1', undefined],
    [`${'a'.repeat(254)}`, undefined], ['evil.example:8181/x', undefined],
  ])('%j → %j', (header, name) => expect(hostName(header)).toBe(name));
});

describe('RequestGuard', () => {
  test('hosts: this machine by name and loopback address, the bound address, configured names and wildcards', () => {
    const check = guard({ boundHost: '10.1.2.3', allowedHosts: ['LLM.Home.Arpa', '*.proxy.test'] });
    for (const host of ['localhost', 'x.localhost:1', '127.0.0.1:8181', '127.9.9.9', '[::1]', '[::ffff:127.0.0.1]:1', '10.1.2.3:8181', 'llm.home.arpa', 'a.b.proxy.test']) {
      expect(check.allowsHost(host), host).toBe(true);
    }
    for (const host of ['evil.example', 'proxy.test', 'llm.home.arpa.evil', '10.1.2.4', '0.0.0.0', '[::]', '1.2.3.4']) {
      expect(check.allowsHost(host), host).toBe(false);
    }
  });

  test('behind 0.0.0.0, the machine\'s own addresses count; other addresses do not', () => {
    const own = Object.values(networkInterfaces()).flat().filter((entry) => entry !== undefined).map((entry) => entry.address);
    const check = guard({ boundHost: '0.0.0.0' });
    for (const address of own) expect(check.allowsHost(address.includes(':') ? `[${address.replace(/%.*$/, '')}]:8181` : `${address}:8181`), address).toBe(true);
    expect(check.allowsHost('203.0.113.77')).toBe(false);
    expect(guard().allowsHost(own.find((address) => !address.startsWith('127.') && address !== '::1') ?? '203.0.113.78')).toBe(false);
  });

  test('origins: exact (case and trailing slash aside), or any but "null" with *', () => {
    expect(guard({ corsOrigins: ['https://App.example'] }).allowsOrigin('https://app.example/')).toBe(true);
    expect(guard({ corsOrigins: ['https://app.example'] }).allowsOrigin('http://app.example')).toBe(false);
    expect(guard({ corsOrigins: ['*'] }).allowsOrigin('https://anything.example')).toBe(true);
    expect(guard({ corsOrigins: ['*'] }).allowsOrigin('null')).toBe(false);
    expect(guard().allowsOrigin('https://app.example')).toBe(false);
  });

  test('bodies: JSON media types only; a bodiless POST without a type is fine', () => {
    const verdict = (headers: Record<string, string>) => guard().check(exchange('POST', { host: 'localhost', ...headers }).req, exchange('POST', {}).res);
    expect(verdict({ 'content-type': 'application/json' })).toBe(true);
    expect(verdict({ 'content-type': 'Application/JSON; charset=utf-8' })).toBe(true);
    expect(verdict({ 'content-type': 'application/vnd.api+json' })).toBe(true);
    expect(verdict({})).toBe(true);
    expect(verdict({ 'content-length': '0' })).toBe(true);
    for (const headers of [{ 'content-type': 'text/plain' }, { 'content-type': 'application/jsonp' }, { 'content-length': '2' }, { 'transfer-encoding': 'chunked' }]) {
      const result = verdict(headers);
      expect(result, JSON.stringify(headers)).toBeInstanceOf(GatewayError);
      expect((result as GatewayError).status).toBe(415);
    }
    expect(guard().check(exchange('GET', { host: 'localhost', 'content-type': 'text/plain' }).req, exchange('GET', {}).res)).toBe(true);
  });

  test('a preflight is answered by the guard: CORS headers only for an allowed origin', () => {
    const allowed = exchange('OPTIONS', { host: 'localhost:1', origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'X-Custom, bad header, authorization' });
    expect(guard({ corsOrigins: ['https://app.example'] }).check(allowed.req, allowed.res)).toBe('answered');
    expect(allowed.status()).toBe(204);
    expect(allowed.set['access-control-allow-origin']).toBe('https://app.example');
    expect(allowed.set['access-control-allow-headers']!.split(', ')).toEqual(expect.arrayContaining(['authorization', 'x-api-key', 'content-type', 'x-custom']));
    expect(allowed.set['access-control-allow-headers']).not.toContain('bad header');
    const plain = exchange('OPTIONS', { host: 'localhost:1' });
    expect(guard().check(plain.req, plain.res)).toBe('answered');
    expect(Object.keys(plain.set).some((name) => name.startsWith('access-control'))).toBe(false);
    const refused = exchange('OPTIONS', { host: 'localhost:1', origin: 'https://evil.example', 'access-control-request-method': 'POST' });
    expect((guard().check(refused.req, refused.res) as GatewayError).status).toBe(403);
    expect(Object.keys(refused.set)).toEqual([]);
  });
});
