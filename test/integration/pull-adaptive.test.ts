import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalHub, generatedBytes, type LocalHubOptions, type LocalHubParts, type LoggedRequest, type Origin } from '../../src/demo/local-hub.js';
import { pull, type PullEvent, type PullOptions } from '../../src/pull.js';

const MiB = 1024 * 1024;
const REPO = 'test/adaptive';
const SHARD = 24 * MiB;

/**
 * The local hub, counting how many connections have a CDN answer open at once (what the server sees of a client's
 * concurrency; a kept-alive connection's next request may arrive before its last answer has ended, so connections
 * are counted, not answers), and optionally answering 429 beyond `limit` of them, as a hub that rate-limits does.
 */
class CountingHub extends LocalHub {
  readonly #open = new Map<object, number>();
  most = 0;
  limit: number | undefined;

  static override async start(options: LocalHubOptions): Promise<CountingHub> {
    return new CountingHub(await LocalHub.listen(options), options);
  }

  protected constructor(parts: LocalHubParts, options: LocalHubOptions) {
    super(parts, options);
  }

  protected override handle(origin: Origin, req: IncomingMessage, res: ServerResponse, entry: LoggedRequest): void {
    if (origin !== 'cdn') return super.handle(origin, req, res, entry);
    const socket = req.socket;
    if (this.limit !== undefined && !this.#open.has(socket) && this.#open.size >= this.limit) {
      return void res.writeHead(429, { 'retry-after': '0', 'content-type': 'text/plain' }).end('slow down\n');
    }
    this.#open.set(socket, (this.#open.get(socket) ?? 0) + 1);
    this.most = Math.max(this.most, this.#open.size);
    res.on('close', () => {
      const left = this.#open.get(socket)! - 1;
      if (left === 0) this.#open.delete(socket);
      else this.#open.set(socket, left);
    });
    super.handle(origin, req, res, entry);
  }
}

describe('pull() adapts its connections', () => {
  let hub: CountingHub;
  let out: string;
  const names = [0, 1, 2, 3].map((i) => `Adaptive.Q2_K.cat${i}.llamafile`);
  const run = (options: PullOptions = {}) =>
    pull(`${REPO}:Q2_K`, { endpoint: hub.endpoint, env: { LLAMACTL_HOME: out, HF_TOKEN: '' }, dir: out, fitCheck: 'off', retry: { minTimeoutMs: 5, maxTimeoutMs: 20 }, ...options });
  const expected = () => {
    const hash = createHash('sha256');
    names.forEach((_, i) => hash.update(generatedBytes(300 + i, 0, SHARD)));
    return hash.digest('hex');
  };

  beforeEach(async () => {
    hub = await CountingHub.start({ repos: { [REPO]: { files: Object.fromEntries(names.map((n, i) => [n, { size: SHARD, seed: 300 + i }])) } } });
    out = await mkdtemp(join(tmpdir(), 'llamactl-adaptive-'));
  });
  afterEach(async () => {
    await hub.close();
    await rm(out, { recursive: true, force: true });
  });

  const cdnGets = () => hub.requests.filter((r) => r.origin === 'cdn' && r.method === 'GET');
  const sha = async (path: string) => createHash('sha256').update(await readFile(path)).digest('hex');

  it('opens more than the 8 it starts with when each connection is capped (a per-connection rate limit)', async () => {
    hub.setRateLimit(8_000_000);
    const events: PullEvent[] = [];
    const result = await run({ onProgress: (e) => events.push(e) });
    expect(await sha(result.path)).toBe(expected());
    expect(events.find((e) => e.type === 'start')).toMatchObject({ connections: 8 });
    expect(events).toContainEqual({ type: 'connections', connections: 16, reason: 'grow' });
    // What the server saw: more than 8 answers open at once, every byte sent once.
    expect(hub.most).toBeGreaterThan(8);
    expect(hub.most).toBeLessThanOrEqual(32);
    expect(hub.cdnBytes).toBe(names.length * SHARD);
  });

  it('never opens more than `connections` when it is given', async () => {
    hub.setRateLimit(8_000_000);
    const result = await run({ connections: 4 });
    expect(await sha(result.path)).toBe(expected());
    expect(hub.most).toBeLessThanOrEqual(4);
    expect(cdnGets().every((r) => r.status === 206)).toBe(true);
  });

  it('backs off when the server answers 429, and stays below it', async () => {
    hub.setRateLimit(8_000_000);
    hub.limit = 5;
    const events: PullEvent[] = [];
    const result = await run({ onProgress: (e) => events.push(e) });
    expect(await sha(result.path)).toBe(expected());
    expect(events).toContainEqual({ type: 'connections', connections: 4, reason: 'back-off' });
    expect(events.some((e) => e.type === 'connections' && e.reason === 'grow')).toBe(false);
    // The 429s came in one burst at the start (the 8 it began with), not all through the pull.
    const refused = cdnGets().filter((r) => r.status === 429).length;
    expect(refused).toBeGreaterThan(0);
    expect(refused).toBeLessThanOrEqual(8);
    expect(hub.most).toBeLessThanOrEqual(5);
  });
});
