/**
 * A hostile hub or CDN (issue 10, the network side): a redirect or a `Link: rel=next` to a non-HTTP URL, a server
 * that accepts and never answers, a CDN that trickles a byte at a time, a size lie told with `Content-Range: …/*`.
 * Each ends within a bounded time with one clear line and the documented exit code (through the CLI where the exit
 * code matters; in-process where retries must be made fast), and nothing already on disk is lost.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { IntegrityError, NetworkError } from '../../src/errors.js';
import { checkModelFit } from '../../src/format/fit.js';
import { createDispatcher } from '../../src/http/send.js';
import { HubClient } from '../../src/hub/hub-client.js';
import { estimateRemote } from '../../src/hub/remote-header.js';
import { locateModel, resolveModel } from '../../src/hub/resolve-model.js';
import { pull, type PullEvent, type PullOptions } from '../../src/pull.js';
import { runCli } from '../helpers/cli.js';
import type { Fault } from '../helpers/fault-hub.js';
import { dataRequests, fixtureRepo, REPO, startTestHub, type TestHub } from '../helpers/hub.js';

const LIAR = 'acme/liar';
const F16 = 'Test.F16.llamafile';

describe('a hostile hub or CDN', () => {
  let t: TestHub;
  let out: string;
  const cli = (args: string[]) => runCli(args, { env: t.env, timeout: 30_000 });
  /** The one line a failed command prints (progress lines, if any, come before it). */
  const errorLines = (stderr: string) => stderr.split('\n').filter((line) => line.startsWith('llamactl:'));
  const cdnPort = () => new URL(t.hub.cdnOrigin).port;

  beforeEach(async () => {
    t = await startTestHub({
      repos: {
        [REPO]: fixtureRepo(),
        // 1000 bytes on the CDN; the tree says 1001 (and the faults below make /resolve say so too).
        [LIAR]: { files: { 'Liar.Q4_0.llamafile': { size: 1000, seed: 3 } }, treeSizes: { 'Liar.Q4_0.llamafile': 1001 } },
      },
    });
    out = join(t.home, 'out');
  });
  afterEach(async () => {
    await t.close();
  });

  // Defect 1: every URL from the network must be http(s) with a host, or the pull fails (exit 7) before connecting.
  const badLocations: [string, (cdnLocation: string | undefined) => string][] = [
    ['ftp:// to the CDN port', (location) => location!.replace(/^http:/, 'ftp:')],
    ['file:///etc/passwd', () => 'file:///etc/passwd'],
    ['javascript:', () => 'javascript:alert(1)'],
  ];
  it.each(badLocations)('pull refuses a /resolve redirect to %s: exit 7, one line, no connection made', async (_, location) => {
    t.hub.setFaults([{ kind: 'headers', origin: 'hub', file: '/resolve/', headers: { location }, times: Infinity }]);
    const result = await cli(['pull', `${REPO}:F16`, '--dir', out, '--no-fit-check']);
    expect(result.exitCode, result.stderr).toBe(7);
    expect(errorLines(result.stderr)).toEqual([expect.stringMatching(/^llamactl: The server at 127\.0\.0\.1:\d+ sent a redirect to "[^]*: only http:\/\/ and https:\/\/ URLs are followed\./)]);
    expect(t.hub.requests.filter((r) => r.origin === 'cdn')).toHaveLength(0);
    expect(await readdir(out).catch(() => [])).not.toContain(F16);
  });

  // Defects 1 and 12: a CDN's bad redirect is the server's fault (exit 7), not "bad usage" with an HF_ENDPOINT hint.
  it('pull refuses a CDN redirect to ftp:// as the server\'s fault (exit 7), on the lean path too', async () => {
    t.hub.setFaults([{ kind: 'headers', origin: 'cdn', status: 302, headers: { location: `ftp://127.0.0.1:${cdnPort()}/x` }, times: Infinity }]);
    const result = await cli(['pull', `${REPO}:F16`, '--dir', out, '--no-fit-check']);
    expect(result.exitCode, result.stderr).toBe(7);
    expect(errorLines(result.stderr)).toEqual([expect.stringMatching(/sent a redirect to "ftp:\/\/127\.0\.0\.1:\d+\/x": only http/)]);
    expect(result.stderr).not.toMatch(/HF_ENDPOINT|--endpoint/);
    expect(dataRequests(t.hub).every((r) => !r.path.startsWith('/x'))).toBe(true);
  });

  it('pull refuses a Link: rel=next to a non-http URL (exit 7)', async () => {
    t.hub.setFaults([{ kind: 'headers', origin: 'hub', file: '/tree/', headers: { link: `<ftp://127.0.0.1:${cdnPort()}/api>; rel="next"` } }]);
    const result = await cli(['pull', `${REPO}:F16`, '--dir', out]);
    expect(result.exitCode, result.stderr).toBe(7);
    expect(errorLines(result.stderr)).toEqual([expect.stringMatching(/^llamactl: The hub sent a next page link to "ftp:.*": only http/)]);
    expect(dataRequests(t.hub)).toHaveLength(0);
  });

  // Defect 2: while remote inspect waits on a failing hub it says so, instead of sitting silent.
  it('inspect reports a retry of a failing hub on stderr, then goes on', async () => {
    t.hub.setFaults([{ kind: 'status', origin: 'hub', file: '/tree/', status: 503, retryAfter: 0 }]);
    const result = await cli(['inspect', `${REPO}:F16`, '--json']);
    // The fixture's bytes are generated, not a llamafile: after the retry, inspect reads them and says so.
    expect(result.exitCode, result.stderr).toBe(5);
    expect(result.stderr).toMatch(/^llamactl: Mozilla\/Test-Model-llamafile: HTTP 503 from the hub; retrying in \d+ ms \(try 2\)$/m);
    expect(result.stderr).toMatch(/is not a llamafile or zip archive/);
  });

  // Defect 12: remote inspect says the same, without a doubled "..".
  it('inspect of a ref whose CDN redirects to ftp:// exits 7 with one line and no doubled stop', async () => {
    t.hub.setFaults([{ kind: 'headers', origin: 'cdn', status: 302, headers: { location: `ftp://127.0.0.1:${cdnPort()}/x` }, times: Infinity }]);
    const result = await cli(['inspect', `${REPO}:F16`]);
    expect(result.exitCode, result.stderr).toBe(7);
    expect(result.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^llamactl: .*sent a redirect to "ftp:/)]);
    expect(result.stderr).not.toMatch(/\.\./);
  });

  // Defect 15: a size lie answered with `Content-Range: bytes a-b/*` is an IntegrityError (exit 5), never 7 retries.
  const sizeLie: Fault[] = [
    { kind: 'headers', origin: 'hub', file: '/resolve/', headers: { 'x-linked-size': '1001' }, times: Infinity },
    { kind: 'headers', origin: 'cdn', headers: { 'content-range': (value) => value?.replace(/\/\d+$/, '/*') }, times: Infinity },
  ];
  it('pull and inspect call a size lie told with Content-Range …/* an integrity error (exit 5), at once', async () => {
    t.hub.setFaults(sizeLie);
    const pulled = await cli(['pull', LIAR, '--dir', out, '--no-fit-check']);
    expect(pulled.exitCode, pulled.stderr).toBe(5);
    expect(errorLines(pulled.stderr)).toEqual([
      'llamactl: The size of Liar.Q4_0.llamafile disagrees: the hub lists 1001 bytes, the download server has only 1000.',
    ]);
    expect(pulled.stderr).not.toMatch(/retrying/);
    expect(dataRequests(t.hub)).toHaveLength(1);
    const inspected = await cli(['inspect', LIAR]);
    expect(inspected.exitCode, inspected.stderr).toBe(5);
    expect(inspected.stderr).toMatch(/the download server has only \d+/);
  });

  describe('in-process, with small limits', () => {
    const fast = { retry: { retries: 2, minTimeoutMs: 5, maxTimeoutMs: 10 }, stallTimeoutMs: 300, fitCheck: 'off' } satisfies PullOptions;
    const run = (ref: string, options: PullOptions = {}) => pull(ref, { endpoint: t.hub.endpoint, env: t.env, dir: out, ...fast, ...options });

    // Defect 2: a trickle faster than the stall timeout used to hold a pull forever.
    it('gives up on a CDN trickling one byte every 20 ms: retried like a stall, then a clear NetworkError, .part kept', async () => {
      t.hub.setFaults([{ kind: 'trickle', intervalMs: 20, times: Infinity }]);
      const events: PullEvent[] = [];
      const started = Date.now();
      const error = await run(`${REPO}:F16`, { onProgress: (e) => events.push(e) }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(NetworkError);
      expect((error as NetworkError).exitCode).toBe(7);
      expect((error as Error).message).toMatch(/^Downloading Test\.F16\.llamafile failed after 3 tries: Too slow: \d+ bytes in 0\.6 s from the download server/);
      expect(events.filter((e) => e.type === 'retry').map((e) => (e as { error: string }).error)).toEqual([
        expect.stringMatching(/^Too slow/),
        expect.stringMatching(/^Too slow/),
      ]);
      expect((await stat(join(out, `${F16}.part`))).isFile()).toBe(true);
      expect(Date.now() - started).toBeLessThan(8000);
    });

    it.each([
      ['the hub', { kind: 'no-answer', origin: 'hub', times: Infinity } as Fault, /^Asking the hub for .* failed after 3 tries: No answer for 0\.3 s from the hub\.$/],
      ['the CDN', { kind: 'no-answer', origin: 'cdn', times: Infinity } as Fault, /^Downloading Test\.F16\.llamafile failed after 3 tries: No answer for 0\.3 s from the download server\.$/],
    ])('gives up on %s accepting and never answering, reporting each retry', async (_, fault, message) => {
      t.hub.setFaults([fault]);
      const events: PullEvent[] = [];
      const started = Date.now();
      const error = await run(`${REPO}:F16`, { onProgress: (e) => events.push(e) }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(NetworkError);
      expect((error as Error).message).toMatch(message);
      expect(events.filter((e) => e.type === 'retry')).toHaveLength(2);
      expect(Date.now() - started).toBeLessThan(5000);
    });

    // Defect 2: remote inspect's header reads (and the fit check's) had no bound at all.
    it('bounds the header reads of remote inspect and the fit check against a trickle', async () => {
      t.hub.setFaults([{ kind: 'trickle', intervalMs: 20, times: Infinity }]);
      const dispatcher = createDispatcher(2);
      try {
        const client = new HubClient({ endpoint: t.hub.endpoint, dispatcher, retry: fast.retry, stallTimeoutMs: 300 });
        const model = await resolveModel(locateModel(`${REPO}:F16`, { env: t.env }), client);
        const error = await estimateRemote(client, model).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(NetworkError);
        expect((error as Error).message).toMatch(/^Reading Test\.F16\.llamafile from the hub failed after 3 tries: Too slow/);
      } finally {
        await dispatcher.close();
      }
      // In a pull, the fit check gives up (`unknown`, saying why) and the download goes on once the CDN recovers.
      t.hub.setFaults([{ kind: 'trickle', intervalMs: 20, times: 3 }]);
      const events: PullEvent[] = [];
      const result = await run(`${REPO}:F16`, { fitCheck: 'warn', onProgress: (e) => events.push(e) });
      expect(result.size).toBe(200_000);
      expect(events.find((e) => e.type === 'fit')).toMatchObject({ level: 'unknown', message: expect.stringMatching(/Too slow/) });
    });

    // Defect 15: when the fit check's deadline fires, its warning says so, never "Download interrupted".
    it('says a header read stopped by a deadline took too long, not that it was interrupted', async () => {
      t.hub.setFaults([{ kind: 'no-answer', origin: 'cdn', times: Infinity }]);
      const dispatcher = createDispatcher(2);
      try {
        const client = new HubClient({ endpoint: t.hub.endpoint, dispatcher, stallTimeoutMs: 60_000 });
        const model = await resolveModel(locateModel(`${REPO}:F16`, { env: t.env }), client);
        const report = await checkModelFit(async () => (await estimateRemote(client, model, { signal: AbortSignal.timeout(300) })).memory);
        expect(report.level).toBe('unknown');
        expect(report.message).toMatch(/took too long and was given up/);
        expect(report.message).not.toMatch(/interrupted/i);
      } finally {
        await dispatcher.close();
      }
    });

    it('refuses the size lie in-process too, as an IntegrityError', async () => {
      t.hub.setFaults(sizeLie);
      await expect(run(LIAR)).rejects.toBeInstanceOf(IntegrityError);
    });
  });
});
