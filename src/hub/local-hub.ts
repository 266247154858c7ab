import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { loadFile, type LocalFile, type LocalFileSpec } from './local-hub-content.js';

export type { LocalFileSpec } from './local-hub-content.js';
export { generatedBytes } from './local-hub-content.js';

/**
 * A Hugging Face protocol server on 127.0.0.1 with two origins, as the real hub has: the hub (JSON API, tree API,
 * `/resolve` answering 302 with `x-linked-*` headers) and a CDN serving bytes with `Range`. Used by the tests, the
 * benchmark and `llamactl demo`. Faults can be injected per request.
 */

export interface LocalRepoSpec {
  files: Record<string, LocalFileSpec>;
  /** Commit sha of `main`. @default derived from the repo name */
  commit?: string;
  /** Extra branch/tag names → commit (all pointing at the same files). */
  revisions?: Record<string, string>;
  /** When set, every hub request for this repo needs `Authorization: Bearer <token>`. */
  token?: string;
  /** Answer 403 GatedRepo even with the right token (licence not accepted). */
  gated?: boolean;
  /** Make the tree API report another size for some files (a hub that disagrees with itself). */
  treeSizes?: Record<string, number>;
  /** Entries the tree API lists without serving them (e.g. `../evil.llamafile`). */
  extraTreeEntries?: { path: string; size: number; sha256?: string }[];
}

export type FaultKind = 'reset' | 'status' | 'truncate' | 'corrupt' | 'no-range' | 'html' | 'stall';

export interface Fault {
  kind: FaultKind;
  /** Which origin it hits. @default 'cdn' */
  origin?: 'hub' | 'cdn';
  /** Only requests whose path contains this. */
  file?: string;
  /** How many requests it hits; `Infinity` for a persistent fault. @default 1 */
  times?: number;
  /** Bytes of the body sent before a reset / truncation / stall / corrupted byte. @default half the body */
  afterBytes?: number;
  /** Status for `kind: 'status'`. @default 503 */
  status?: number;
  /** Retry-After seconds sent with a `status` fault. */
  retryAfter?: number;
  /** How long a stall lasts before the body goes on. @default until the client gives up */
  stallMs?: number;
}

export interface LocalHubOptions {
  repos: Record<string, LocalRepoSpec>;
  faults?: Fault[];
  /** Per-connection rate cap for CDN bodies, bytes/s. */
  rateLimit?: number;
  /** Entries per tree API page (the real hub uses 1000; small values exercise `Link` pagination). @default 1000 */
  pageSize?: number;
  /** Port of the hub origin. @default 0 (any free port) */
  port?: number;
}

export interface LoggedRequest {
  method: string;
  origin: 'hub' | 'cdn';
  path: string;
  headers: IncomingMessage['headers'];
  status: number;
  /** Body bytes sent. */
  bytes: number;
}

interface Repo {
  spec: LocalRepoSpec;
  commit: string;
  files: Map<string, LocalFile>;
}

function sha1(text: string): string {
  return createHash('sha1').update(text).digest('hex');
}

export class LocalHub {
  /** Hub origin, e.g. `http://127.0.0.1:41234` (what HF_ENDPOINT / --endpoint take). */
  readonly endpoint: string;
  /** CDN origin that `/resolve` redirects to. */
  readonly cdnOrigin: string;
  /** Every request, in order. */
  readonly requests: LoggedRequest[] = [];
  readonly #repos: Map<string, Repo>;
  readonly #servers: Server[];
  readonly #sockets = new Set<Socket>();
  #faults: (Fault & { times: number })[] = [];
  #rateLimit: number | undefined;
  readonly #pageSize: number;

  private constructor(repos: Map<string, Repo>, servers: Server[], options: LocalHubOptions) {
    this.#repos = repos;
    this.#servers = servers;
    this.endpoint = `http://127.0.0.1:${(servers[0]!.address() as AddressInfo).port}`;
    this.cdnOrigin = `http://127.0.0.1:${(servers[1]!.address() as AddressInfo).port}`;
    this.#pageSize = options.pageSize ?? 1000;
    this.#rateLimit = options.rateLimit;
    this.setFaults(options.faults ?? []);
    for (const server of servers) {
      server.on('connection', (socket) => {
        this.#sockets.add(socket);
        socket.on('close', () => this.#sockets.delete(socket));
      });
    }
  }

  static async start(options: LocalHubOptions): Promise<LocalHub> {
    const repos = new Map<string, Repo>();
    for (const [name, spec] of Object.entries(options.repos)) {
      const files = new Map<string, LocalFile>();
      for (const [path, file] of Object.entries(spec.files)) files.set(path, await loadFile(file));
      repos.set(name, { spec, commit: spec.commit ?? sha1(`commit:${name}`), files });
    }
    const servers = [createServer(), createServer()];
    await Promise.all(
      servers.map(
        (server, i) =>
          new Promise<void>((resolve, reject) => {
            server.once('error', reject);
            server.listen(i === 0 ? (options.port ?? 0) : 0, '127.0.0.1', () => resolve());
          }),
      ),
    );
    const hub = new LocalHub(repos, servers, options);
    servers[0]!.on('request', (req, res) => hub.#handle('hub', req, res));
    servers[1]!.on('request', (req, res) => hub.#handle('cdn', req, res));
    return hub;
  }

  /** Replaces the injected faults. */
  setFaults(faults: Fault[]): void {
    this.#faults = faults.map((fault) => ({ ...fault, times: fault.times ?? 1 }));
  }

  setRateLimit(bytesPerSecond: number | undefined): void {
    this.#rateLimit = bytesPerSecond;
  }

  /** Body bytes the CDN has sent, in total. */
  get cdnBytes(): number {
    return this.requests.filter((r) => r.origin === 'cdn').reduce((sum, r) => sum + r.bytes, 0);
  }

  /** The commit `main` of a repo points at. */
  commitOf(repo: string): string {
    const found = this.#repos.get(repo);
    if (!found) throw new Error(`LocalHub has no repo ${repo}`);
    return found.commit;
  }

  /** The sha256 of a served file. */
  sha256Of(repo: string, path: string): string {
    const file = this.#repos.get(repo)?.files.get(path);
    if (!file) throw new Error(`LocalHub has no file ${repo}/${path}`);
    return file.sha256;
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await Promise.all(this.#servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #takeFault(origin: 'hub' | 'cdn', path: string): Fault | undefined {
    const fault = this.#faults.find(
      (f) => f.times > 0 && (f.origin ?? 'cdn') === origin && (f.file === undefined || path.includes(f.file)),
    );
    if (fault) fault.times--;
    return fault;
  }

  #handle(origin: 'hub' | 'cdn', req: IncomingMessage, res: ServerResponse): void {
    const entry: LoggedRequest = { method: req.method ?? 'GET', origin, path: req.url ?? '/', headers: req.headers, status: 0, bytes: 0 };
    this.requests.push(entry);
    res.on('finish', () => (entry.status = res.statusCode));
    res.on('close', () => (entry.status ||= res.statusCode));
    const url = new URL(req.url ?? '/', 'http://x');
    const path = decodeURIComponent(url.pathname);
    const fault = this.#takeFault(origin, path);
    if (fault?.kind === 'status') {
      const headers: Record<string, string> = { 'content-type': 'text/plain' };
      if (fault.retryAfter !== undefined) headers['retry-after'] = String(fault.retryAfter);
      res.writeHead(fault.status ?? 503, headers).end('injected failure\n');
      return;
    }
    if (origin === 'hub' && fault?.kind === 'stall') stallBody(res, fault);
    const done = origin === 'hub' ? this.#hub(req, res, url, path) : this.#cdn(req, res, path, fault, entry);
    Promise.resolve(done).catch(() => res.destroy());
  }

  #error(res: ServerResponse, status: number, code: string | undefined, message: string): void {
    const headers: Record<string, string> = { 'content-type': 'application/json', 'x-error-message': message };
    if (code) headers['x-error-code'] = code;
    res.writeHead(status, headers).end(JSON.stringify({ error: message }));
  }

  #hub(req: IncomingMessage, res: ServerResponse, url: URL, path: string): void {
    const api = /^\/api\/models\/([^/]+\/[^/]+)(?:\/(revision|tree)\/([^/]+)(\/.*)?)?$/.exec(path);
    const resolve = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(path);
    const repoName = api?.[1] ?? resolve?.[1];
    const repo = repoName === undefined ? undefined : this.#repos.get(repoName);
    const auth = req.headers.authorization;
    if (!repoName) return this.#error(res, 404, undefined, 'Not found');
    if (!repo) {
      return auth
        ? this.#error(res, 404, 'RepoNotFound', 'Repository not found')
        : this.#error(res, 401, 'RepoNotFound', 'Repository not found');
    }
    if (repo.spec.token !== undefined) {
      if (!auth) return this.#error(res, 401, 'GatedRepo', 'Access to this model is restricted. You must be authenticated.');
      if (auth !== `Bearer ${repo.spec.token}`) return this.#error(res, 401, undefined, 'Invalid credentials in Authorization header');
    }
    if (repo.spec.gated) return this.#error(res, 403, 'GatedRepo', 'Access to this model is restricted. Accept the conditions on the model page.');
    const revision = api?.[3] ?? resolve?.[2];
    let commit = repo.commit;
    if (revision !== undefined) {
      const known = revision === 'main' || revision === repo.commit ? repo.commit : repo.spec.revisions?.[revision];
      if (!known) return this.#error(res, 404, 'RevisionNotFound', `Invalid rev id: ${revision}`);
      commit = known;
    }
    if (resolve) return this.#resolve(res, repoName!, repo, commit, resolve[3]!);
    if (api?.[2] === 'tree') return this.#tree(res, url, repoName!, repo, api[3]!, api[4]);
    const siblings = [...repo.files.keys()].map((rfilename) => ({ rfilename }));
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: repoName, sha: commit, siblings }));
  }

  #entries(repo: Repo) {
    const entries = [...repo.files].map(([path, file]) => ({
      type: 'file',
      oid: sha1(`blob:${file.sha256}`),
      size: repo.spec.treeSizes?.[path] ?? file.size,
      path,
      lfs: { oid: file.sha256, size: repo.spec.treeSizes?.[path] ?? file.size, pointerSize: 134 },
    }));
    for (const extra of repo.spec.extraTreeEntries ?? []) {
      const oid = extra.sha256 ?? '0'.repeat(64);
      entries.push({ type: 'file', oid: sha1(oid), size: extra.size, path: extra.path, lfs: { oid, size: extra.size, pointerSize: 134 } });
    }
    return entries.sort((a, b) => (a.path < b.path ? -1 : 1));
  }

  #tree(res: ServerResponse, url: URL, repoName: string, repo: Repo, revision: string, sub: string | undefined): void {
    const prefix = sub ? `${sub.slice(1)}/` : '';
    const all = this.#entries(repo).filter((entry) => entry.path.startsWith(prefix));
    const cursor = Number(url.searchParams.get('cursor') ?? 0);
    const page = all.slice(cursor, cursor + this.#pageSize);
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (cursor + this.#pageSize < all.length) {
      const next = `${this.endpoint}/api/models/${repoName}/tree/${revision}${sub ?? ''}?recursive=true&cursor=${cursor + this.#pageSize}`;
      headers.link = `<${next}>; rel="next"`;
    }
    res.writeHead(200, headers).end(JSON.stringify(page));
  }

  #resolve(res: ServerResponse, repoName: string, repo: Repo, commit: string, file: string): void {
    const found = repo.files.get(file);
    if (!found) return this.#error(res, 404, 'EntryNotFound', `${file} does not exist on "${commit}"`);
    const location = `${this.cdnOrigin}/repos/${repoName}/${commit}/${file.split('/').map(encodeURIComponent).join('/')}?X-Amz-Signature=local`;
    res
      .writeHead(302, {
        location,
        'x-repo-commit': commit,
        'x-linked-size': String(found.size),
        'x-linked-etag': `"${found.sha256}"`,
        etag: `"${sha1(`blob:${found.sha256}`)}"`,
        'content-type': 'text/plain; charset=utf-8',
      })
      .end(`Found. Redirecting to ${location}`);
  }

  async #cdn(req: IncomingMessage, res: ServerResponse, path: string, fault: Fault | undefined, entry: LoggedRequest) {
    const match = /^\/repos\/([^/]+\/[^/]+)\/([0-9a-f]+)\/(.+)$/.exec(path);
    const repo = match ? this.#repos.get(match[1]!) : undefined;
    const file = match ? repo?.files.get(match[3]!) : undefined;
    if (!file) return void res.writeHead(404, { 'content-type': 'text/plain' }).end('NoSuchKey');
    if (fault?.kind === 'html') {
      const page = '<!DOCTYPE html><html><body>Please log in</body></html>';
      return void res.writeHead(200, { 'content-type': 'text/html', 'content-length': page.length }).end(page);
    }
    let start = 0;
    let end = file.size;
    let status = 200;
    const range = req.headers.range;
    const headers: Record<string, string | number> = { 'content-type': 'application/octet-stream', 'accept-ranges': 'bytes', etag: `"${file.sha256}"` };
    if (range && fault?.kind !== 'no-range') {
      const m = /^bytes=(\d*)-(\d*)$/.exec(range);
      const from = m?.[1] ? Number(m[1]) : undefined;
      const to = m?.[2] ? Number(m[2]) : undefined;
      if (!m || (from === undefined && to === undefined) || (from !== undefined && from >= file.size) || (from !== undefined && to !== undefined && to < from)) {
        return void res.writeHead(416, { 'content-range': `bytes */${file.size}` }).end();
      }
      start = from ?? Math.max(0, file.size - to!);
      end = from === undefined ? file.size : Math.min(file.size, (to ?? file.size - 1) + 1);
      status = 206;
      headers['content-range'] = `bytes ${start}-${end - 1}/${file.size}`;
    }
    headers['content-length'] = end - start;
    res.writeHead(status, headers);
    if (req.method === 'HEAD') return void res.end();
    await this.#sendBody(res, file, start, end, fault, entry);
  }

  async #sendBody(res: ServerResponse, file: LocalFile, start: number, end: number, fault: Fault | undefined, entry: LoggedRequest) {
    const length = end - start;
    const at = Math.min(fault?.afterBytes ?? Math.floor(length / 2), length);
    const limit = this.#rateLimit;
    const began = Date.now();
    let sent = 0;
    let closed = false;
    res.on('close', () => (closed = true));
    for await (let piece of file.read(start, end)) {
      if (closed) return;
      const cut = fault && ['reset', 'truncate', 'stall'].includes(fault.kind) && sent + piece.length > at ? at - sent : undefined;
      if (fault?.kind === 'corrupt' && sent <= at && at < sent + piece.length) {
        piece = Buffer.from(piece);
        piece[at - sent] = piece[at - sent]! ^ 0xff;
      }
      if (cut !== undefined) piece = piece.subarray(0, cut);
      if (piece.length > 0) {
        sent += piece.length;
        entry.bytes += piece.length;
        if (!res.write(piece)) await drained(res);
      }
      if (limit) {
        const ahead = (sent / limit) * 1000 - (Date.now() - began);
        if (ahead > 1) await new Promise((resolve) => setTimeout(resolve, ahead));
      }
      if (cut !== undefined) {
        if (fault!.kind === 'reset') return void res.socket?.resetAndDestroy();
        if (fault!.kind === 'truncate') return void (await new Promise<void>((resolve) => (res.socket ? res.socket.end(() => resolve()) : resolve())));
        // stall: go quiet, then carry on (or never, until the client gives up)
        await new Promise((resolve) => {
          res.once('close', resolve);
          if (fault!.stallMs !== undefined) setTimeout(resolve, fault!.stallMs);
        });
        fault = undefined;
      }
    }
    res.end();
  }
}

/** A hub answer that sends the first `afterBytes` of its body, then goes quiet (for `stallMs`, or until closed). */
function stallBody(res: ServerResponse, fault: Fault): void {
  const end = res.end.bind(res) as (body?: string) => ServerResponse;
  (res as { end: (body?: string) => ServerResponse }).end = (body = '') => {
    const at = fault.afterBytes ?? Math.floor(body.length / 2);
    res.write(body.slice(0, at));
    if (fault.stallMs !== undefined) setTimeout(() => end(body.slice(at)), fault.stallMs);
    return res;
  };
}

/** Resolves when the response can take more, or has closed (no listener left behind either way). */
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}
