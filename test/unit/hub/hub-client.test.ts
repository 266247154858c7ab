import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HubAuthError, HubNotFoundError } from '../../../src/errors.js';
import { HubClient, nextLink } from '../../../src/hub/hub-client.js';
import { createDispatcher, send } from '../../../src/http/send.js';
import { LocalHub } from '../../../src/demo/local-hub.js';
import { retryAfterMs } from '../../../src/http/retry.js';
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

describe('header parsing', () => {
  it('follows rel="next" links', () => {
    expect(nextLink('<https://h/api/x?cursor=2>; rel="next"', 'https://h/api/x')).toBe('https://h/api/x?cursor=2');
    expect(nextLink('</api/x?c=3>; rel="next", </api/x?c=0>; rel="first"', 'https://h/a')).toBe('https://h/api/x?c=3');
    expect(nextLink('<https://h/x>; rel="prev"', 'https://h/')).toBeUndefined();
  });

  it('reads Retry-After seconds, dates and the hub RateLimit header', () => {
    expect(retryAfterMs({ 'retry-after': '3' })).toBe(3000);
    expect(retryAfterMs({ 'retry-after': new Date(10_000).toUTCString() }, 4000)).toBe(6000);
    expect(retryAfterMs({ ratelimit: '"api";r=0;t=55' })).toBe(55_000);
    expect(retryAfterMs({})).toBeUndefined();
  });
});
