import { spawnSync } from 'node:child_process';
import { chmod, mkdir, open, readdir, readFile, stat, utimes, writeFile, type FileHandle } from 'node:fs/promises';
import { createServer, type IncomingMessage } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AbortError, DiskSpaceError, FormatError, IntegrityError, NetworkError, NotFoundError, UsageError } from '../../src/errors.js';
import type { Fault } from '../helpers/fault-hub.js';
import { pull, type PullEvent, type PullOptions } from '../../src/pull.js';
import { dataRequests, expectedQ2K, fixtureRepo, REPO, startTestHub, type TestHub } from '../helpers/hub.js';

/** Library-level pulls against the local hub: every fault kind, in-process so retries can be fast. */
describe('pull()', () => {
  let t: TestHub;
  let out: string;
  const fast = { retry: { minTimeoutMs: 5, maxTimeoutMs: 20 }, stallTimeoutMs: 400, chunkSize: 1024 * 1024 } satisfies PullOptions;
  // These tests are about the downloader; the RAM check (its own header reads) is tested in fit-check.test.ts.
  const run = (ref: string, options: PullOptions = {}) =>
    pull(ref, { endpoint: t.hub.endpoint, env: t.env, ...fast, dir: out, fitCheck: 'off', ...options });
  const q2k = expectedQ2K();

  beforeEach(async () => {
    t = await startTestHub();
    out = join(t.home, 'out');
  });
  afterEach(async () => {
    await t.close();
  });

  async function expectQ2K(path: string) {
    expect(path).toBe(join(out, 'Test.Q2_K.llamafile'));
    const bytes = await readFile(path);
    expect(bytes.equals(q2k.bytes)).toBe(true);
    expect((await stat(path)).mode & 0o777).toBe(0o755);
    expect(await readdir(out)).toEqual(['Test.Q2_K.llamafile']);
  }

  it('joins a 3-shard set into one verified, executable file and reports events in order', async () => {
    const events: PullEvent[] = [];
    const result = await run(`${REPO}:q2_k`, { onProgress: (e) => events.push(e) });
    await expectQ2K(result.path);
    expect(result.shards.map((s) => s.name)).toEqual(['Test.Q2_K.cat0.llamafile', 'Test.Q2_K.cat1.llamafile', 'Test.Q2_K.cat2.llamafile']);
    expect(result.commit).toBe(t.hub.commitOf(REPO));
    const types = events.map((e) => e.type).filter((type) => type !== 'progress');
    expect(types[0]).toBe('resolved');
    expect(types[1]).toBe('start');
    expect(types.filter((type) => type === 'shard-verified')).toHaveLength(3);
    expect(types.at(-1)).toBe('done');
  });

  it('pulls the other naming order (Name.Q4_0.llamafile.catN) by --file', async () => {
    const result = await run(REPO, { file: 'Test.Q4_0.llamafile.cat0' });
    expect(result.path).toBe(join(out, 'Test.Q4_0.llamafile'));
    expect(result.size).toBe(2_000_003);
  });

  it('discovers the following shards from a .cat0 resolve URL', async () => {
    const result = await run(`${t.hub.endpoint}/${REPO}/resolve/main/Test.Q2_K.cat0.llamafile`);
    await expectQ2K(result.path);
  });

  it('lists the choices when the repo holds several models, and for an unknown quant', async () => {
    await expect(run(REPO)).rejects.toThrow(UsageError);
    const error = await run(`${REPO}:Q8_0`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotFoundError);
    expect((error as NotFoundError).hint).toContain(`${REPO}:Q2_K`);
    expect((error as NotFoundError).hint).toContain(`${REPO}:Q4_0`);
  });

  const retried = (events: PullEvent[]) => events.some((e) => e.type === 'retry');
  const resolvedAgainAfterExpiry = (file: string) => {
    const expired = t.hub.requests.findIndex((r) => r.origin === 'cdn' && r.status === 403 && r.path.includes(file));
    return expired >= 0 && t.hub.requests.slice(expired).some((r) => r.origin === 'hub' && r.path.includes('/resolve/') && r.path.includes(file));
  };
  const survivable: [string, Fault[], (events: PullEvent[]) => boolean][] = [
    ['connection resets mid-body', [{ kind: 'reset', times: 3 }], retried],
    ['503s', [{ kind: 'status', status: 503, times: 3 }], retried],
    ['429 with Retry-After', [{ kind: 'status', status: 429, retryAfter: 0.05, times: 2 }], (e) => e.some((x) => x.type === 'retry' && x.delayMs === 50)],
    ['truncated bodies', [{ kind: 'truncate', times: 3 }], retried],
    ['a corrupted byte once (shard re-fetched)', [{ kind: 'corrupt', file: 'cat1', afterBytes: 12345 }], (e) => e.some((x) => x.type === 'refetch')],
    ['a server that ignores Range', [{ kind: 'no-range', times: Infinity }], () => t.hub.requests.some((r) => r.origin === 'cdn' && r.headers.range === undefined && r.status === 200)],
    ['a stalled connection', [{ kind: 'stall', afterBytes: 1000 }], (e) => e.some((x) => x.type === 'retry' && /No data/.test(x.error))],
    // A signed CDN URL that has expired answers 403: the shard is resolved again on the hub and the chunk re-fetched.
    ['an expired signed CDN URL', [{ kind: 'status', status: 403, file: 'cat1' }], () => resolvedAgainAfterExpiry('cat1')],
    // A JSON body that stops half-way is abandoned after the stall timeout and asked for again.
    ['a hub that stalls while sending the file list', [{ kind: 'stall', origin: 'hub', file: '/tree/' }], () => t.hub.requests.filter((r) => r.origin === 'hub' && r.path.includes('/tree/')).length === 2],
    ['hub API 503 on the tree listing', [{ kind: 'status', origin: 'hub', file: '/tree/', status: 503 }], () => t.hub.requests.some((r) => r.origin === 'hub' && r.status === 503)],
  ];
  it.each(survivable)('survives %s with a bit-identical result', async (_, faults, faultSeen) => {
    t.hub.setFaults(faults);
    const events: PullEvent[] = [];
    const result = await run(`${REPO}:Q2_K`, { onProgress: (e) => events.push(e) });
    await expectQ2K(result.path);
    expect(faultSeen(events)).toBe(true);
  });

  it('re-fetches a shard once on a sha256 mismatch, then fails with no final file when it persists', async () => {
    t.hub.setFaults([{ kind: 'corrupt', file: 'cat2', afterBytes: 7, times: Infinity }]);
    const events: PullEvent[] = [];
    const error = await run(`${REPO}:Q2_K`, { onProgress: (e) => events.push(e) }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IntegrityError);
    expect((error as Error).message).toMatch(/Test\.Q2_K\.cat2\.llamafile failed its sha256 check twice/);
    expect(events.filter((e) => e.type === 'refetch')).toHaveLength(1);
    expect(await readdir(out)).not.toContain('Test.Q2_K.llamafile');
  });

  it('fails clearly on an HTML page instead of bytes', async () => {
    t.hub.setFaults([{ kind: 'html', times: Infinity }]);
    const error = await run(`${REPO}:Q2_K`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FormatError);
    expect((error as Error).message).toMatch(/web page instead of the bytes/);
  });

  it('gives up with a NetworkError after a bounded number of tries', async () => {
    t.hub.setFaults([{ kind: 'status', status: 500, file: 'cat0', times: Infinity }]);
    const error = await run(`${REPO}:Q2_K`, { retry: { retries: 2, minTimeoutMs: 1 } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NetworkError);
    expect((error as Error).message).toMatch(/failed after 3 tries: HTTP 500/);
  });

  it('reports retries while the hub cannot be reached, then gives a NetworkError', async () => {
    const events: PullEvent[] = [];
    const error = await run(REPO, { endpoint: 'http://127.0.0.1:1', retry: { retries: 2, minTimeoutMs: 1, maxTimeoutMs: 2 }, onProgress: (e) => events.push(e) }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NetworkError);
    expect(events.filter((e) => e.type === 'retry')).toEqual([
      expect.objectContaining({ shard: REPO, attempt: 1, error: expect.stringMatching(/ECONNREFUSED/) }),
      expect.objectContaining({ shard: REPO, attempt: 2 }),
    ]);
  });

  it('refuses a hub URL that is not http(s) before any request', async () => {
    const error = await run(REPO, { endpoint: 'ftp://127.0.0.1' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toBe('Malformed hub URL "ftp://127.0.0.1": it must start with http:// or https://.');
    expect(t.hub.requests).toHaveLength(0);
  });

  it('refuses a size that disagrees between the file list and the download', async () => {
    await t.close();
    t = await startTestHub({ repos: { [REPO]: fixtureRepo({ treeSizes: { 'Test.F16.llamafile': 200_001 } }) } });
    out = join(t.home, 'out');
    const error = await run(REPO, { file: 'Test.F16.llamafile' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IntegrityError);
    expect((error as Error).message).toMatch(/size of Test.F16.llamafile disagrees/);
  });

  it('refuses ".." and absolute file names from the tree API and writes nothing', async () => {
    await t.close();
    t = await startTestHub({ repos: { 'evil/repo': { files: {}, extraTreeEntries: [{ path: '../../escape.Q4_0.llamafile', size: 10 }] } } });
    out = join(t.home, 'out');
    await expect(run('evil/repo')).rejects.toThrow(UsageError);
    await expect(run('evil/repo')).rejects.toThrow(/unsafe file name/);
    expect(await readdir(t.home)).toEqual([]);
  });

  it('checks free disk space before the first byte, and runs the preflight hook with the plan', async () => {
    const error = await run(`${REPO}:Q2_K`, { freeSpace: async () => 1_000_000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DiskSpaceError);
    expect((error as Error).message).toMatch(/6\.00 MB still to write, 1\.00 MB free/);
    expect(dataRequests(t.hub)).toHaveLength(0);
    const plans: unknown[] = [];
    await expect(
      run(`${REPO}:Q2_K`, {
        preflight: async (plan) => {
          plans.push(plan);
          throw new UsageError('does not fit');
        },
      }),
    ).rejects.toThrow('does not fit');
    expect(plans).toEqual([expect.objectContaining({ repo: REPO, size: 6_000_025, remaining: 6_000_025, path: join(out, 'Test.Q2_K.llamafile') })]);
    expect(dataRequests(t.hub)).toHaveLength(0);
  });

  it('stops on abort keeping the .part and journal, then resumes without re-fetching finished chunks', async () => {
    t.hub.setRateLimit(2_000_000);
    const controller = new AbortController();
    let seen = 0;
    const error = await run(`${REPO}:Q2_K`, {
      connections: 2,
      signal: controller.signal,
      onProgress: (e) => {
        if (e.type === 'progress' && e.done > 3_000_000 && seen++ === 0) controller.abort();
      },
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AbortError);
    expect((await readdir(out)).sort()).toEqual(['Test.Q2_K.llamafile.part', 'Test.Q2_K.llamafile.part.journal']);
    t.hub.setRateLimit(undefined);
    const before = t.hub.cdnBytes;
    const events: PullEvent[] = [];
    const result = await run(`${REPO}:Q2_K`, { connections: 2, onProgress: (e) => events.push(e) });
    await expectQ2K(result.path);
    expect(events.find((e) => e.type === 'start')).toMatchObject({ resumed: true });
    expect(t.hub.cdnBytes - before).toBeLessThan(6_000_025 - 2_000_000);
  });

  it('goes through the proxy HTTPS_PROXY / HTTP_PROXY name (CONNECT tunnels to the hub and the CDN)', async () => {
    const tunnels: string[] = [];
    const proxy = createServer();
    proxy.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
      tunnels.push(req.url ?? '');
      const [host, port] = (req.url ?? '').split(':');
      const upstream = connect(Number(port), host, () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        upstream.write(head);
        upstream.pipe(client);
        client.pipe(upstream);
      });
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const saved = { HTTP_PROXY: process.env.HTTP_PROXY, NO_PROXY: process.env.NO_PROXY, no_proxy: process.env.no_proxy };
    process.env.HTTP_PROXY = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    delete process.env.NO_PROXY;
    delete process.env.no_proxy;
    try {
      const result = await run(`${REPO}:Q2_K`);
      await expectQ2K(result.path);
    } finally {
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
      proxy.close();
      proxy.closeAllConnections?.();
    }
    const origins = new Set(tunnels);
    expect(origins).toEqual(new Set([new URL(t.hub.endpoint).host, new URL(t.hub.cdnOrigin).host]));
  });

  it('is a no-op when the file is already complete and verified', async () => {
    await run(`${REPO}:Q2_K`);
    const before = dataRequests(t.hub).length;
    const result = await run(`${REPO}:Q2_K`);
    expect(result.upToDate).toBe(true);
    expect(dataRequests(t.hub).length).toBe(before);
  });

  async function corruptKeepingMtime(path: string) {
    const { mtime } = await stat(path);
    const file = await open(path, 'r+');
    await file.write(Buffer.from([q2k.bytes[100]! ^ 0xff]), 0, 1, 100);
    await file.close();
    await utimes(path, mtime, mtime);
  }

  it('trusts a verified --dir pull while size and mtime hold, and reads the file again once they change', async () => {
    const { path } = await run(`${REPO}:Q2_K`);
    const before = dataRequests(t.hub).length;
    // A changed byte behind an unchanged size and mtime proves the file is not read again...
    await corruptKeepingMtime(path);
    expect((await run(`${REPO}:Q2_K`)).upToDate).toBe(true);
    expect(dataRequests(t.hub).length).toBe(before);
    // ...and once the mtime moves, the file is hashed, found wrong and downloaded again.
    await utimes(path, new Date(), new Date(Date.now() + 5000));
    expect((await run(`${REPO}:Q2_K`)).upToDate).toBe(false);
    await expectQ2K(path);
  });

  it('is a no-op for a --no-verify re-pull, but a verifying pull does not trust an unverified record', async () => {
    const { path } = await run(`${REPO}:Q2_K`, { verify: false });
    const before = dataRequests(t.hub).length;
    await corruptKeepingMtime(path);
    expect((await run(`${REPO}:Q2_K`, { verify: false })).upToDate).toBe(true);
    expect(dataRequests(t.hub).length).toBe(before);
    expect((await run(`${REPO}:Q2_K`)).upToDate).toBe(false);
    await expectQ2K(path);
  });

  it('refuses a folder it cannot write with one clear error', async () => {
    // root writes anywhere, so it gets a path under a regular file instead of a read-only folder.
    const root = process.getuid?.() === 0;
    await mkdir(out, { recursive: true });
    if (root) await writeFile(join(out, 'file'), '');
    else await chmod(out, 0o555);
    try {
      await expect(run(`${REPO}:Q2_K`, root ? { dir: join(out, 'file', 'sub') } : {})).rejects.toThrow(/Cannot write to/);
    } finally {
      await chmod(out, 0o755);
    }
    expect(dataRequests(t.hub)).toHaveLength(0);
  });

  it('stops at once on a full disk with one DiskSpaceError, keeping the .part and journal to resume', async () => {
    // A full disk on demand: every positioned write after the first two fails with ENOSPC, as the kernel reports it.
    const probe = await open(join(t.home, 'probe'), 'w');
    const proto = Object.getPrototypeOf(probe) as FileHandle;
    await probe.close();
    // Both write paths: write() (ranges read lean) and writev() (ranges read through undici).
    let calls = 0;
    const enospc = () => Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' });
    const fail = <K extends 'write' | 'writev'>(name: K) => {
      const real = proto[name] as (...args: unknown[]) => Promise<unknown>;
      return vi.spyOn(proto, name).mockImplementation(function (this: FileHandle, ...args: unknown[]) {
        return ++calls <= 2 ? real.apply(this, args) : Promise.reject(enospc());
      } as never);
    };
    const spies = [fail('write'), fail('writev')];
    let error: unknown;
    try {
      error = await run(`${REPO}:Q2_K`, { connections: 2 }).catch((e: unknown) => e);
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
    expect(error).toBeInstanceOf(DiskSpaceError);
    expect((error as DiskSpaceError).exitCode).toBe(6);
    expect((error as Error).message).toBe(`The disk is full: cannot write to ${out} (ENOSPC).`);
    expect((error as DiskSpaceError).hint).toMatch(/run the same command again to resume/);
    // Not retried: the failing write stops every connection.
    expect(calls).toBeLessThanOrEqual(4);
    expect((await readdir(out)).filter((name) => !name.includes('.tmp-')).sort()).toEqual(['Test.Q2_K.llamafile.part', 'Test.Q2_K.llamafile.part.journal']);
    const result = await run(`${REPO}:Q2_K`, { connections: 2 });
    await expectQ2K(result.path);
  });

  it('refuses a second pull of the same target while the first runs, which still completes', async () => {
    t.hub.setRateLimit(3_000_000);
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    const first = run(`${REPO}:Q2_K`, { onProgress: (e) => e.type === 'start' && started() });
    await running;
    const second = await run(`${REPO}:Q2_K`).catch((e: unknown) => e);
    expect(second).toBeInstanceOf(UsageError);
    expect((second as Error).message).toBe(`${join(out, 'Test.Q2_K.llamafile')} is already being pulled by pid ${process.pid}.`);
    t.hub.setRateLimit(undefined);
    await expectQ2K((await first).path);
  });

  it('takes over a lock left by a process that is gone', async () => {
    const gone = spawnSync(process.execPath, ['-e', '']);
    await mkdir(out, { recursive: true });
    await writeFile(join(out, 'Test.Q2_K.llamafile.part.lock'), String(gone.pid));
    await expectQ2K((await run(`${REPO}:Q2_K`)).path);
  });

  it('starts over when the journal does not match the .part', async () => {
    await mkdir(out, { recursive: true });
    await writeFile(join(out, 'Test.Q2_K.llamafile.part'), 'garbage');
    await writeFile(join(out, 'Test.Q2_K.llamafile.part.journal'), JSON.stringify({ version: 1, commit: 'x', chunkSize: 1, shards: [], done: [0], verified: [] }));
    const result = await run(`${REPO}:Q2_K`);
    await expectQ2K(result.path);
  });
});
