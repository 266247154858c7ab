import { describe, expect, it } from 'vitest';
import { HubError } from '../../../src/errors.js';
import { MAX_SIZE, MAX_URL_LENGTH, assertNetworkUrl, boundedHeader, checkCount, checkNetworkUrl, parseByteCount } from '../../../src/http/bounds.js';

/** Everything the network hands us passes one gate: URLs, header values, sizes, counts (issue 10). */
describe('network bounds', () => {
  const from = { what: 'redirect', from: 'The server at 127.0.0.1:1' };

  it('takes http(s) URLs with a host, relative ones against their base', () => {
    expect(checkNetworkUrl('https://cdn.example/x?sig=1', from).href).toBe('https://cdn.example/x?sig=1');
    expect(checkNetworkUrl('/next?cursor=2', { ...from, base: 'http://127.0.0.1:9/api' }).href).toBe('http://127.0.0.1:9/next?cursor=2');
  });

  it.each([
    ['ftp://127.0.0.1:21/x', /only http:\/\/ and https:\/\//],
    ['file:///etc/passwd', /only http:\/\/ and https:\/\//],
    ['javascript:alert(1)', /only http:\/\/ and https:\/\//],
    ['data:text/plain,hi', /only http:\/\/ and https:\/\//],
    ['http://', /not a URL/],
    ['http://user:pw@cdn.example/x', /credentials/],
    [`https://cdn.example/${'a'.repeat(MAX_URL_LENGTH)}`, /longer than/],
  ])('refuses %s as the server\'s fault (exit 7), before any connection', (url, why) => {
    const error = (() => {
      try {
        return checkNetworkUrl(url, from);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(HubError);
    expect((error as HubError).exitCode).toBe(7);
    expect((error as Error).message).toMatch(why);
    expect((error as Error).message.length).toBeLessThan(400);
  });

  it('checks a parsed URL too (the lean read path)', () => {
    expect(() => assertNetworkUrl(new URL('ftp://127.0.0.1/x'))).toThrow(HubError);
    expect(assertNetworkUrl(new URL('http://127.0.0.1/x')).host).toBe('127.0.0.1');
  });

  it('reads sizes as plain digits within MAX_SIZE', () => {
    expect(parseByteCount('1234')).toBe(1234);
    expect(parseByteCount(' 0 ')).toBe(0);
    for (const bad of [undefined, '', '-1', '1e3', '0x10', '1.5', '99999999999999999', String(MAX_SIZE + 1)]) expect(parseByteCount(bad)).toBeUndefined();
  });

  it('bounds header values and counts', () => {
    expect(boundedHeader({ link: ['<a>', '<b>'] }, 'Link')).toBe('<a>');
    expect(boundedHeader({}, 'link')).toBeUndefined();
    expect(() => boundedHeader({ etag: 'x'.repeat(100) }, 'etag', 99)).toThrow(HubError);
    expect(() => checkCount(11, 10, 'pages')).toThrow(/more than 10 pages/);
    expect(() => checkCount(10, 10, 'pages')).not.toThrow();
  });
});
