import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HubAuthError, HubError, HubNotFoundError, NetworkError } from '../../../src/errors.js';
import { HubClient, nextLink } from '../../../src/hub/hub-client.js';
import { createDispatcher, send } from '../../../src/http/send.js';
import { LocalHub } from '../../../src/demo/local-hub.js';
import { retryAfterMs } from '../../../src/http/retry.js';
import { FaultHub } from '../../helpers/fault-hub.js';
import { fixtureRepo, REPO } from '../../helpers/hub.js';

describe('HubClient against the local hub', () => {
  let hub: LocalHub;
  const dispatcher = createDispatcher(2);
  const client = (token?: string) => new HubClient({ endpoint: hub.endpoint, token, dispatcher, retry: { minTimeoutMs: 5 } });

  beforeAll(async () => {
    hub = await LocalHub.start({
      repos: {
        [REPO]: fixtureRepo({ revisions: { v1: 'a'.repeat(40) } }),
        'acme/private': { files: { 'P.Q4_0.llamafile': 'x' }, token: 'hf_good' },
        'acme/gated': { files: { 'G.Q4_0.llamafile': 'x' }, gated: true },
      },
      pageSize: 2,
    });
  });
  afterAll(async () => {
    await dispatcher.close();
    await hub.close();
  });

  it('resolves a branch to its commit', async () => {
    expect(await client().commitOf(REPO, 'main')).toBe(hub.commitOf(REPO));
    expect(await client().commitOf(REPO, 'v1')).toBe('a'.repeat(40));
  });

  it('lists every file across Link-paginated pages, with LFS sizes and sha256', async () => {
    const files = await client().listFiles(REPO, 'main');
    expect(files).toHaveLength(7);
    expect(files.find((f) => f.path === 'Test.Q2_K.cat1.llamafile')).toEqual({
      path: 'Test.Q2_K.cat1.llamafile',
      size: 2_000_005,
      sha256: hub.sha256Of(REPO, 'Test.Q2_K.cat1.llamafile'),
    });
    expect(hub.requests.filter((r) => r.path.includes('/tree/')).length).toBe(4);
  });

  it('reads size, sha256, commit and the CDN location from HEAD /resolve without following it', async () => {
    const resolved = await client().resolve(REPO, 'main', 'Test.F16.llamafile');
    expect(resolved).toMatchObject({ commit: hub.commitOf(REPO), size: 200_000, sha256: hub.sha256Of(REPO, 'Test.F16.llamafile') });
    expect(resolved.location.startsWith(hub.cdnOrigin)).toBe(true);
  });

  it('maps X-Error-Code to typed errors naming what is missing', async () => {
    await expect(client().commitOf('acme/nope', 'main')).rejects.toThrow(HubNotFoundError);
    await expect(client().commitOf('acme/nope', 'main')).rejects.toThrow(/Repository acme\/nope not found/);
    await expect(client().commitOf(REPO, 'nobranch')).rejects.toThrow(/Revision nobranch not found/);
    await expect(client().resolve(REPO, 'main', 'missing.llamafile')).rejects.toThrow(/File missing.llamafile not found/);
  });

  it('needs the token for a private repo and says how to fix a gated one', async () => {
    await expect(client().listFiles('acme/private', 'main')).rejects.toThrow(HubAuthError);
    await expect(client('hf_bad').listFiles('acme/private', 'main')).rejects.toThrow(/HF_TOKEN|token/);
    expect(await client('hf_good').listFiles('acme/private', 'main')).toHaveLength(1);
    const error = await client('hf_good').listFiles('acme/gated', 'main').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HubAuthError);
    expect((error as HubAuthError).hint).toMatch(/licence/);
  });

  it('strips Authorization when a redirect leaves the hub origin', async () => {
    const before = hub.requests.length;
    const url = `${hub.endpoint}/${REPO}/resolve/main/Test.F16.llamafile`;
    const response = await send(url, { dispatcher, token: { origin: hub.endpoint, value: 'hf_secret' } });
    await response.body.dump();
    const [toHub, toCdn] = hub.requests.slice(before);
    expect(toHub?.headers.authorization).toBe('Bearer hf_secret');
    expect(toCdn?.origin).toBe('cdn');
    expect(toCdn?.headers.authorization).toBeUndefined();
  });
});

/** A hub built to lie or to hang (issue 10): each case ends fast, as the hub's fault, with what happened said. */
describe('HubClient against a hostile hub', () => {
  let hub: FaultHub;
  const dispatcher = createDispatcher(2);
  const retries: string[] = [];
  const client = () =>
    new HubClient({
      endpoint: hub.endpoint, dispatcher, retry: { retries: 1, minTimeoutMs: 5, maxTimeoutMs: 10 },
      stallTimeoutMs: 300, progressTimeoutMs: 600, onRetry: ({ error }) => retries.push(error.message),
    });

  beforeAll(async () => {
    hub = await FaultHub.start({ repos: { [REPO]: fixtureRepo() }, pageSize: 2 });
  });
  afterAll(async () => {
    await dispatcher.close();
    await hub.close();
  });

  it.each(['ftp://127.0.0.1:1/x', 'file:///etc/passwd', 'javascript:alert(1)'])('refuses a /resolve redirect to %s (exit 7)', async (location) => {
    hub.setFaults([{ kind: 'headers', origin: 'hub', file: '/resolve/', headers: { location } }]);
    const error = await client().resolve(REPO, 'main', 'Test.F16.llamafile').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HubError);
    expect((error as HubError).exitCode).toBe(7);
    expect((error as Error).message).toMatch(/sent a redirect to .*only http:\/\/ and https:\/\/ URLs are followed/);
  });

  it('refuses a Link: rel=next to a non-http URL, and a redirect without a Location', async () => {
    hub.setFaults([{ kind: 'headers', origin: 'hub', file: '/tree/', headers: { link: '<file:///etc/passwd>; rel="next"' } }]);
    await expect(client().listFiles(REPO, 'main')).rejects.toThrow(/The hub sent a next page link to "file:\/\/\/etc\/passwd": only http/);
    hub.setFaults([{ kind: 'headers', origin: 'hub', file: '/resolve/', headers: { location: undefined } }]);
    await expect(client().resolve(REPO, 'main', 'Test.F16.llamafile')).rejects.toThrow(/without a Location/);
  });

  it.each([
    ['accepts and never answers', { kind: 'no-answer' as const, origin: 'hub' as const, times: Infinity }, /^No answer for 0\.3 s from the hub\.$/],
    ['trickles its JSON one byte every 50 ms', { kind: 'trickle' as const, origin: 'hub' as const, intervalMs: 50, times: Infinity }, /^Too slow: \d+ bytes in 0\.6 s from the hub/],
  ])('gives up on a hub that %s, saying so on each retry', async (_, fault, message) => {
    retries.length = 0;
    hub.setFaults([fault]);
    const started = Date.now();
    const error = await client().commitOf(REPO, 'main').catch((e: unknown) => e);
    hub.setFaults([]);
    expect(error).toBeInstanceOf(NetworkError);
    expect((error as Error).message).toMatch(/failed after 2 tries/);
    expect(retries).toEqual([expect.stringMatching(message)]);
    expect(Date.now() - started).toBeLessThan(4000);
  });

  it('bounds the size the hub gives in its headers', async () => {
    hub.setFaults([{ kind: 'headers', origin: 'hub', file: '/resolve/', headers: { 'x-linked-size': '1e400' } }]);
    await expect(client().resolve(REPO, 'main', 'Test.F16.llamafile')).rejects.toThrow(/did not give the size of Test\.F16\.llamafile/);
  });
});

describe('header parsing', () => {
  it('follows rel="next" links', () => {
    expect(nextLink('<https://h/api/x?cursor=2>; rel="next"', 'https://h/api/x')).toBe('https://h/api/x?cursor=2');
    expect(nextLink('</api/x?c=3>; rel="next", </api/x?c=0>; rel="first"', 'https://h/a')).toBe('https://h/api/x?c=3');
    expect(nextLink('<https://h/x>; rel="prev"', 'https://h/')).toBeUndefined();
    expect(() => nextLink('<ftp://h/x>; rel="next"', 'https://h/')).toThrow(HubError);
  });

  it('reads Retry-After seconds, dates and the hub RateLimit header', () => {
    expect(retryAfterMs({ 'retry-after': '3' })).toBe(3000);
    expect(retryAfterMs({ 'retry-after': new Date(10_000).toUTCString() }, 4000)).toBe(6000);
    expect(retryAfterMs({ ratelimit: '"api";r=0;t=55' })).toBe(55_000);
    expect(retryAfterMs({})).toBeUndefined();
  });
});
